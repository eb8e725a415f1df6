import type { MigrationInterface, QueryRunner } from 'typeorm';

export class HoldsAndSweeps1763800001100 implements MigrationInterface {
  name = 'HoldsAndSweeps1763800001100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE legal_holds (
        id uuid PRIMARY KEY,
        scope text NOT NULL CHECK (scope IN ('subject', 'policy', 'record')),
        subject_type text,
        subject_ref text,
        -- Services must match rows by the raw id, so it is kept while the hold is active and
        -- cleared when the hold is released.
        subject_id text,
        service text,
        policy text,
        table_name text,
        record_key text,
        reason text NOT NULL,
        placed_by text NOT NULL,
        placed_at timestamptz NOT NULL,
        expires_at timestamptz,
        released_at timestamptz,
        released_by text
      )`);
    await q.query(`CREATE INDEX legal_holds_active_subject ON legal_holds (subject_ref) WHERE released_at IS NULL`);
    await q.query(`
      CREATE TABLE sweep_schedule_runs (
        service text NOT NULL,
        policy text NOT NULL,
        scheduled_for timestamptz NOT NULL,
        request_id uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (service, policy, scheduled_for)
      )`);
    await q.query(`ALTER TABLE retention_requests ADD COLUMN overdue_flagged_at timestamptz`);
    await q.query(`ALTER TABLE retention_requests ADD COLUMN hold_snapshot jsonb NOT NULL DEFAULT '[]'::jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE retention_requests DROP COLUMN hold_snapshot');
    await q.query('ALTER TABLE retention_requests DROP COLUMN overdue_flagged_at');
    await q.query('DROP TABLE sweep_schedule_runs');
    await q.query('DROP TABLE legal_holds');
  }
}
