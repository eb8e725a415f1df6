import type { DataSource } from 'typeorm';

/**
 * Demo data for subjects `user:demo-1` … `user:demo-100`: five orders each, placed 0, 2.5, 5, 7.5
 * and 10 years ago, so two in five are past the 7-year policy and still carry the customer's
 * details until the first sweep. Inserted once, into an empty table.
 */
export async function seedDemoData(dataSource: DataSource, now: Date = new Date()): Promise<number> {
  const [{ n }] = (await dataSource.query('SELECT count(*)::int AS n FROM orders')) as [{ n: number }];
  if (n > 0) return 0;
  await dataSource.query(
    `INSERT INTO orders (customer_id, customer_name, email, shipping_address, phone, amount_cents, currency, created_at)
     SELECT 'demo-' || u,
            'Demo Customer ' || u,
            'demo-' || u || '@example.com',
            u || ' Demo Street, 12345 Exampletown',
            CASE WHEN u % 3 = 0 THEN NULL ELSE '+1-555-01' || lpad(u::text, 2, '0') END,
            500 + (u * 137 + d * 1009) % 50000,
            CASE WHEN u % 2 = 0 THEN 'EUR' ELSE 'USD' END,
            $1::timestamptz - make_interval(months => d * 30, days => u)
     FROM generate_series(1, 100) u, generate_series(0, 4) d`,
    [now.toISOString()],
  );
  return 500;
}
