import type { MigrationInterface, QueryRunner } from 'typeorm';
import { AddOutboxParking1763800007100 } from './outbox-parking.migration';

export class CreateRetentionOutbox1763800000000 implements MigrationInterface {
  name = 'CreateRetentionOutbox1763800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE retention_outbox (
        id bigserial PRIMARY KEY,
        topic text NOT NULL,
        key text,
        value text,
        headers jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        attempts int NOT NULL DEFAULT 0
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE retention_outbox');
  }
}

/** Migrations every project that uses the outbox must run. */
export const outboxMigrations = [CreateRetentionOutbox1763800000000, AddOutboxParking1763800007100];
