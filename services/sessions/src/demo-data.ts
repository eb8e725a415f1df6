import type { DataSource } from 'typeorm';

/**
 * Demo data for subjects `user:demo-1` … `user:demo-100`: five sessions each, two of them older
 * than the 90-day policy. Inserted once, into an empty table.
 */
export async function seedDemoData(dataSource: DataSource, now: Date = new Date()): Promise<number> {
  const [{ n }] = (await dataSource.query('SELECT count(*)::int AS n FROM sessions')) as [{ n: number }];
  if (n > 0) return 0;
  await dataSource.query(
    `INSERT INTO sessions (user_id, started_at, ip_address, user_agent)
     SELECT 'demo-' || u, $1::timestamptz - make_interval(days => d * 40), '192.0.2.' || u, 'DemoBrowser/' || d
     FROM generate_series(1, 100) u, generate_series(0, 4) d`,
    [now.toISOString()],
  );
  return 500;
}
