import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An erasure may wait a grace period before its command is sent: `scheduled` until `not_before`
 * (the leader then sends it and it is `pending`), or `cancelled` by its requester meanwhile (its
 * subject id forgotten). Its targets are `scheduled` (nothing sent yet) or `cancelled` likewise.
 * The status checks are replaced whole: a later migration that changes them must keep these values.
 */
export class ErasureGrace1765400000800 implements MigrationInterface {
  name = 'ErasureGrace1765400000800';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE retention_requests ADD COLUMN not_before timestamptz, ADD COLUMN cancelled_at timestamptz, ADD COLUMN cancelled_by text');
    await q.query(`ALTER TABLE retention_requests DROP CONSTRAINT retention_requests_status_check`);
    await q.query(
      `ALTER TABLE retention_requests ADD CONSTRAINT retention_requests_status_check CHECK (status IN ('pending', 'completed', 'failed', 'held', 'scheduled', 'cancelled'))`,
    );
    await q.query(`ALTER TABLE request_targets DROP CONSTRAINT request_targets_status_check`);
    await q.query(
      `ALTER TABLE request_targets ADD CONSTRAINT request_targets_status_check CHECK (status IN ('pending', 'completed', 'failed', 'held', 'not_applicable', 'retired', 'scheduled', 'cancelled'))`,
    );
    // The leader looks for scheduled requests that are due.
    await q.query(`CREATE INDEX retention_requests_scheduled ON retention_requests (not_before) WHERE status = 'scheduled'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX retention_requests_scheduled');
    await q.query(`UPDATE request_targets SET status = 'pending' WHERE status = 'scheduled'`);
    await q.query(`UPDATE request_targets SET status = 'not_applicable' WHERE status = 'cancelled'`);
    await q.query(`UPDATE retention_requests SET status = 'pending' WHERE status = 'scheduled'`);
    await q.query(`UPDATE retention_requests SET status = 'failed' WHERE status = 'cancelled'`);
    await q.query(`ALTER TABLE request_targets DROP CONSTRAINT request_targets_status_check`);
    await q.query(
      `ALTER TABLE request_targets ADD CONSTRAINT request_targets_status_check CHECK (status IN ('pending', 'completed', 'failed', 'held', 'not_applicable', 'retired'))`,
    );
    await q.query(`ALTER TABLE retention_requests DROP CONSTRAINT retention_requests_status_check`);
    await q.query(`ALTER TABLE retention_requests ADD CONSTRAINT retention_requests_status_check CHECK (status IN ('pending', 'completed', 'failed', 'held'))`);
    await q.query('ALTER TABLE retention_requests DROP COLUMN not_before, DROP COLUMN cancelled_at, DROP COLUMN cancelled_by');
  }
}
