import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The deletion journal: one row per completed real erasure, written in the transaction of its last
 * batch. It names the subject only by its keyed hash (see subject-hash.ts), so probes and replays
 * never need the raw id, and a dump of this table is no list of erased people without the key.
 */
export class CreateDeletionJournal1765500000900 implements MigrationInterface {
  name = 'CreateDeletionJournal1765500000900';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE retention_deletion_journal (
        position bigserial UNIQUE,
        request_id uuid PRIMARY KEY,
        subject_type text NOT NULL,
        subject_hash text NOT NULL CHECK (subject_hash ~ '^[0-9a-f]{64}$'),
        erased_at timestamptz NOT NULL,
        tables jsonb NOT NULL,
        policy_hash text
      )`);
    await q.query('CREATE INDEX retention_deletion_journal_erased_at ON retention_deletion_journal (erased_at)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE retention_deletion_journal');
  }
}
