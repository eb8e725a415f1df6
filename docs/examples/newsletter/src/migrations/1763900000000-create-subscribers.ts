import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateSubscribers1763900000000 implements MigrationInterface {
  name = 'CreateSubscribers1763900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE subscribers (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id text NOT NULL,
        email text NOT NULL,
        subscribed_at timestamptz NOT NULL,
        unsubscribed_at timestamptz
      )`);
    await q.query('CREATE INDEX subscribers_user_id ON subscribers (user_id)');
    await q.query('CREATE INDEX subscribers_unsubscribed_at ON subscribers (unsubscribed_at)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE subscribers');
  }
}
