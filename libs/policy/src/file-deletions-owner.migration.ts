import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Queued file deletions get an owner: the erasure request whose batches queued them. An erasure
 * deletes its own files before it acks (complete means the files are gone too); rows without an
 * owner (sweeps) stay with the asynchronous flush.
 */
export class RetentionFileDeletionsOwner1764700000100 implements MigrationInterface {
  name = 'RetentionFileDeletionsOwner1764700000100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE retention_file_deletions ADD COLUMN request_id text`);
    await q.query(`CREATE INDEX retention_file_deletions_request ON retention_file_deletions (request_id) WHERE request_id IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX retention_file_deletions_request');
    await q.query('ALTER TABLE retention_file_deletions DROP COLUMN request_id');
  }
}
