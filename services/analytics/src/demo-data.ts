import type { DataSource } from 'typeorm';

/**
 * Demo data for subjects `user:demo-1` … `user:demo-100`: twelve events each, one every 50 days
 * going back about 18 months, so the oldest four of every user are past the 13-month policy.
 * Inserted once, into an empty table.
 */
export async function seedDemoData(dataSource: DataSource, now: Date = new Date()): Promise<number> {
  const [{ n }] = (await dataSource.query('SELECT count(*)::int AS n FROM analytics_events')) as [{ n: number }];
  if (n > 0) return 0;
  await dataSource.query(
    `INSERT INTO analytics_events (user_id, event_type, properties, occurred_at)
     SELECT 'demo-' || u,
            (ARRAY['page_view', 'search', 'add_to_cart', 'checkout'])[1 + (u + d) % 4],
            jsonb_build_object('path', '/demo/' || d, 'client', 'DemoBrowser/' || (u % 5)),
            $1::timestamptz - make_interval(days => d * 50, hours => u)
     FROM generate_series(1, 100) u, generate_series(0, 11) d`,
    [now.toISOString()],
  );
  return 1200;
}
