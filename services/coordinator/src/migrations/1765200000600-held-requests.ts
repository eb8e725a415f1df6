import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A request whose targets kept data under a legal hold is `held`, not `completed`: it keeps what it
 * needs to resume (the subject, as stored by the request functions) and is re-issued to its held
 * targets when every hold that blocked them has ended.
 */
export class HeldRequests1765200000600 implements MigrationInterface {
  name = 'HeldRequests1765200000600';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE retention_requests DROP CONSTRAINT retention_requests_status_check`);
    await q.query(`ALTER TABLE retention_requests ADD CONSTRAINT retention_requests_status_check CHECK (status IN ('pending', 'completed', 'failed', 'held'))`);
    // The maintenance loop looks for held targets whose holds have all ended.
    await q.query(`CREATE INDEX request_targets_held ON request_targets (request_id) WHERE status = 'held'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX request_targets_held');
    await q.query(`UPDATE retention_requests SET status = 'completed' WHERE status = 'held'`);
    await q.query(`ALTER TABLE retention_requests DROP CONSTRAINT retention_requests_status_check`);
    await q.query(`ALTER TABLE retention_requests ADD CONSTRAINT retention_requests_status_check CHECK (status IN ('pending', 'completed', 'failed'))`);
  }
}
