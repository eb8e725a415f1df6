import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Parking for messages the broker keeps refusing: the relay counts failed publishes per row
 * (`attempts`, already there), records the last error code and parks the row after too many. The
 * partial index serves the relay's "is an earlier row of this topic and key parked?" check, which
 * keeps order per key; it holds only parked rows, so it stays tiny.
 */
export class AddOutboxParking1763800007100 implements MigrationInterface {
  name = 'AddOutboxParking1763800007100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE retention_outbox ADD COLUMN parked_at timestamptz, ADD COLUMN last_error text, ADD COLUMN last_attempt_at timestamptz`);
    await q.query(`CREATE INDEX retention_outbox_parked ON retention_outbox (topic, key, id) WHERE parked_at IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX retention_outbox_parked');
    await q.query('ALTER TABLE retention_outbox DROP COLUMN parked_at, DROP COLUMN last_error, DROP COLUMN last_attempt_at');
  }
}
