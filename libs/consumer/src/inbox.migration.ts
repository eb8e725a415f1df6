import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The inbox: one row per command (request id), holding the job's progress after every batch and,
 * once finished, the acknowledgement. A redelivered command finds it and is not applied again.
 */
export class CreateRetentionInbox1763800000200 implements MigrationInterface {
  name = 'CreateRetentionInbox1763800000200';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE retention_inbox (
        request_id uuid PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('erasure', 'sweep')),
        command_id text NOT NULL,
        dry_run boolean NOT NULL,
        status text NOT NULL CHECK (status IN ('running', 'done', 'failed')),
        state jsonb NOT NULL,
        ack jsonb,
        started_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        deliveries int NOT NULL DEFAULT 1
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE retention_inbox');
  }
}
