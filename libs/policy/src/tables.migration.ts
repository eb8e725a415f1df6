import type { MigrationInterface, QueryRunner } from 'typeorm';
import { CreateRetentionReleasedHolds1764600000100 } from './released-holds.migration';
import { RetentionFileDeletionsOwner1764700000100 } from './file-deletions-owner.migration';

/**
 * The tables the executor uses in every service's own database: legal holds replicated from the
 * holds topic, and the audit log written in the same transaction as each batch.
 */
export class CreateRetentionPolicyTables1763800000100 implements MigrationInterface {
  name = 'CreateRetentionPolicyTables1763800000100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE retention_holds (
        hold_id text PRIMARY KEY,
        scope text NOT NULL CHECK (scope IN ('subject', 'policy', 'record')),
        subject_type text,
        subject_id text,
        policy text,
        table_name text,
        record_key text,
        expires_at timestamptz,
        placed_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query("CREATE INDEX retention_holds_subject ON retention_holds (subject_type, subject_id) WHERE scope = 'subject'");
    await q.query("CREATE INDEX retention_holds_record ON retention_holds (table_name, record_key) WHERE scope = 'record'");
    await q.query(`
      CREATE TABLE retention_audit (
        id bigserial PRIMARY KEY,
        request_id uuid NOT NULL,
        kind text NOT NULL,
        policy text,
        table_name text NOT NULL,
        action text NOT NULL,
        dry_run boolean NOT NULL,
        matched int NOT NULL DEFAULT 0,
        deleted int NOT NULL DEFAULT 0,
        anonymized int NOT NULL DEFAULT 0,
        archived int NOT NULL DEFAULT 0,
        held int NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query('CREATE INDEX retention_audit_request ON retention_audit (request_id)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE retention_audit');
    await q.query('DROP TABLE retention_holds');
  }
}

/** Paths of files whose rows were deleted by a committed batch, waiting to be removed from disk. */
export class CreateRetentionFileDeletions1763800000150 implements MigrationInterface {
  name = 'CreateRetentionFileDeletions1763800000150';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE retention_file_deletions (
        id bigserial PRIMARY KEY,
        path text NOT NULL,
        attempts int NOT NULL DEFAULT 0,
        queued_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE retention_file_deletions');
  }
}

export const policyMigrations = [
  CreateRetentionPolicyTables1763800000100,
  CreateRetentionFileDeletions1763800000150,
  CreateRetentionReleasedHolds1764600000100,
  RetentionFileDeletionsOwner1764700000100,
];
