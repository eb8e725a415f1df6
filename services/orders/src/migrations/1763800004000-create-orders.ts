import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateOrders1763800004000 implements MigrationInterface {
  name = 'CreateOrders1763800004000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE orders (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        customer_id text NOT NULL,
        customer_name text NOT NULL,
        email text NOT NULL,
        shipping_address text,
        phone text,
        amount_cents bigint NOT NULL CHECK (amount_cents >= 0),
        currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
        created_at timestamptz NOT NULL DEFAULT now(),
        anonymized_at timestamptz
      )`);
    await q.query('CREATE INDEX orders_customer_id ON orders (customer_id)');
    // The sweep only ever looks at rows not yet anonymized: keep that index small.
    await q.query('CREATE INDEX orders_created_at_pending ON orders (created_at) WHERE anonymized_at IS NULL');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE orders');
  }
}
