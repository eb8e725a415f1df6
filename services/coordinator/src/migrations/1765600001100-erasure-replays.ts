import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ErasureReplays1765600001100 implements MigrationInterface {
  name = 'ErasureReplays1765600001100';

  async up(q: QueryRunner): Promise<void> {
    // One row per replay command: the erasures a service acked since `since`, re-applied after a restore.
    await q.query(`
      CREATE TABLE erasure_replays (
        replay_id uuid PRIMARY KEY,
        service text NOT NULL,
        since timestamptz NOT NULL,
        requested_by text NOT NULL,
        trigger text NOT NULL CHECK (trigger IN ('operator', 'restore_detected')),
        requests int NOT NULL,
        request_ids uuid[] NOT NULL,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'answered')),
        result jsonb,
        created_at timestamptz NOT NULL,
        answered_at timestamptz
      )`);
    await q.query('CREATE INDEX erasure_replays_service ON erasure_replays (service, created_at)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE erasure_replays');
  }
}
