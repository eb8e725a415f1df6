import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Four eyes: an action a rule (RETENTION_APPROVALS) holds back is stored here until a second admin
 * approves or rejects it. `action` holds what to do (never a subject id); the subjects of a bulk
 * erasure wait in `approval_subjects`, sealed, and are deleted when it is decided. Each policy
 * remembers the definition of its last real run, so a first run (or the first after a change) can
 * be told from the others.
 */
export class Approvals1765400000900 implements MigrationInterface {
  name = 'Approvals1765400000900';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE approvals (
        id uuid PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('sweep', 'bulk_erasure', 'hold_release')),
        status text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
        action jsonb NOT NULL,
        requested_by text NOT NULL,
        requested_at timestamptz NOT NULL,
        idempotency_key text,
        decided_by text,
        decided_at timestamptz,
        note text,
        result jsonb
      )`);
    await q.query(`CREATE UNIQUE INDEX approvals_idempotency_key ON approvals (requested_by, idempotency_key) WHERE idempotency_key IS NOT NULL`);
    await q.query(`CREATE INDEX approvals_pending ON approvals (requested_at) WHERE status = 'pending'`);
    await q.query(`
      CREATE TABLE approval_subjects (
        approval_id uuid NOT NULL REFERENCES approvals (id) ON DELETE CASCADE,
        line integer NOT NULL,
        subject_type text NOT NULL,
        subject_ref text NOT NULL,
        subject_id text NOT NULL,
        PRIMARY KEY (approval_id, line)
      )`);
    await q.query(`ALTER TABLE policy_enablement ADD COLUMN last_real_run_hash text, ADD COLUMN last_real_run_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE policy_enablement DROP COLUMN last_real_run_hash, DROP COLUMN last_real_run_at`);
    await q.query(`DROP TABLE approval_subjects`);
    await q.query(`DROP TABLE approvals`);
  }
}
