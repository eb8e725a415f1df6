import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateAnalyticsEvents1763800005000 implements MigrationInterface {
  name = 'CreateAnalyticsEvents1763800005000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE analytics_events (
        id bigserial PRIMARY KEY,
        user_id text NOT NULL,
        event_type text NOT NULL,
        properties jsonb NOT NULL DEFAULT '{}'::jsonb,
        occurred_at timestamptz NOT NULL
      )`);
    await q.query('CREATE INDEX analytics_events_user_id ON analytics_events (user_id)');
    await q.query('CREATE INDEX analytics_events_occurred_at ON analytics_events (occurred_at)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE analytics_events');
  }
}
