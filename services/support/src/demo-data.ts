import type { DataSource } from 'typeorm';

/**
 * Demo data for subjects `user:demo-1` … `user:demo-100`: four tickets each, opened 0, 1, 2.5 and
 * 4 years ago. The two older ones are resolved more than 2 years ago and due, except that every
 * fifth user's oldest ticket was reopened (status `open`): old, but not due. Inserted once, into
 * an empty table.
 */
export async function seedDemoData(dataSource: DataSource, now: Date = new Date()): Promise<number> {
  const [{ n }] = (await dataSource.query('SELECT count(*)::int AS n FROM support_tickets')) as [{ n: number }];
  if (n > 0) return 0;
  await dataSource.query(
    `WITH t AS (
       SELECT u, d, $1::timestamptz - make_interval(months => (ARRAY[0, 12, 30, 48])[d + 1], days => u) AS created_at
       FROM generate_series(1, 100) u, generate_series(0, 3) d
     )
     INSERT INTO support_tickets (requester_id, requester_email, subject, body, status, created_at, resolved_at)
     SELECT 'demo-' || u,
            'demo-' || u || '@example.com',
            'Demo ticket ' || d || ' of user ' || u,
            'Hello, this is demo user ' || u || '. Order number 1000' || d || ' has not arrived.',
            CASE WHEN d = 0 THEN (ARRAY['open', 'pending'])[1 + u % 2]
                 WHEN d = 3 AND u % 5 = 0 THEN 'open'
                 ELSE 'resolved' END,
            created_at,
            CASE WHEN d = 0 THEN NULL ELSE created_at + interval '3 days' END
     FROM t`,
    [now.toISOString()],
  );
  return 400;
}
