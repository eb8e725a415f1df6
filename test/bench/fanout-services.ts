/**
 * The five real domain services of the fan-out benchmark, as plain data (no imports, so the
 * baseline worker stays as small as a bare consumer): where each one's entry point is, how its
 * benchmark subjects are seeded, what the baseline runs for one erasure, and how to check that
 * nothing of an erased subject is left.
 */
export interface FanoutService {
  name: string;
  /** Entry point, as scripts/start.sh runs it. */
  entry: string;
  /** `INSERT … SELECT` seeding rows for subjects `$1 || 1..$2`. */
  seed: string[];
  /** Rows of subjects whose ids start with $1 (LIKE pattern) still linked to them. */
  remaining: string;
}

export const FANOUT_SERVICES: FanoutService[] = [
  {
    name: 'sessions',
    entry: 'services/sessions/src/main.ts',
    seed: [
      `INSERT INTO sessions (user_id, started_at, ip_address, user_agent)
       SELECT $1 || u, now() - make_interval(days => d * 20), '192.0.2.' || (u % 250), 'BenchBrowser/' || d
       FROM generate_series(1, $2::int) u, generate_series(0, 2) d`,
    ],
    remaining: `SELECT count(*)::int AS n FROM sessions WHERE user_id LIKE $1`,
  },
  {
    name: 'orders',
    entry: 'services/orders/src/main.ts',
    seed: [
      `INSERT INTO orders (customer_id, customer_name, email, shipping_address, phone, amount_cents, currency, created_at)
       SELECT $1 || u, 'Customer ' || u, 'customer' || u || '@example.com', u || ' Main Street', '+1555' || lpad(u::text, 7, '0'), 1000 + u, 'EUR',
              now() - make_interval(days => d * 100)
       FROM generate_series(1, $2::int) u, generate_series(0, 1) d`,
    ],
    remaining: `SELECT count(*)::int AS n FROM orders WHERE customer_id LIKE $1`,
  },
  {
    name: 'analytics',
    entry: 'services/analytics/src/main.ts',
    seed: [
      `INSERT INTO analytics_events (user_id, event_type, properties, occurred_at)
       SELECT $1 || u, 'page_view', jsonb_build_object('page', '/p/' || d), now() - make_interval(days => d * 10)
       FROM generate_series(1, $2::int) u, generate_series(0, 4) d`,
    ],
    remaining: `SELECT count(*)::int AS n FROM analytics_events WHERE user_id LIKE $1`,
  },
  {
    name: 'support',
    entry: 'services/support/src/main.ts',
    seed: [
      `INSERT INTO support_tickets (requester_id, requester_email, subject, body, status, created_at, resolved_at)
       SELECT $1 || u, 'requester' || u || '@example.com', 'Question ' || u, 'Please help with order ' || u, 'resolved',
              now() - interval '40 days', now() - interval '30 days'
       FROM generate_series(1, $2::int) u`,
    ],
    remaining: `SELECT count(*)::int AS n FROM support_tickets WHERE requester_id LIKE $1`,
  },
  {
    name: 'ml-data',
    entry: 'services/ml-data/src/main.ts',
    seed: [
      `INSERT INTO training_records (user_id, artifact_path, label, created_at)
       SELECT $1 || u, NULL, 'label-' || (u % 10), now() - interval '5 days' FROM generate_series(1, $2::int) u`,
      `INSERT INTO inference_logs (user_id, model_version, prediction, created_at)
       SELECT $1 || u, 'v' || d, jsonb_build_object('score', d), now() - make_interval(days => d)
       FROM generate_series(1, $2::int) u, generate_series(0, 1) d`,
    ],
    remaining: `SELECT (SELECT count(*) FROM training_records WHERE user_id LIKE $1)::int + (SELECT count(*) FROM inference_logs WHERE user_id LIKE $1)::int AS n`,
  },
];

/**
 * What the bare loop runs for one erasure in each service: the same data statements the platform's
 * executor issues (orders: the anonymizing UPDATE of its rule's five columns and the marker).
 * `$1` is the subject id, `$2` the hash key.
 */
export const BASELINE_STATEMENTS: Record<string, string[]> = {
  sessions: ['DELETE FROM sessions WHERE user_id = $1'],
  orders: [
    `UPDATE orders SET customer_name = '[redacted]',
       email = CASE WHEN position('@' in email) > 0 THEN 'redacted@' || split_part(email, '@', 2) ELSE '[redacted]' END,
       shipping_address = NULL, phone = NULL,
       customer_id = encode(sha256(convert_to($2::text || ':' || customer_id, 'UTF8')), 'hex'),
       anonymized_at = now()
     WHERE customer_id = $1`,
  ],
  analytics: ['DELETE FROM analytics_events WHERE user_id = $1'],
  support: ['DELETE FROM support_tickets WHERE requester_id = $1'],
  'ml-data': ['DELETE FROM training_records WHERE user_id = $1', 'DELETE FROM inference_logs WHERE user_id = $1'],
};
