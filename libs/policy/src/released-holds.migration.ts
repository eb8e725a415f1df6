import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The ids of released holds. A hold id is never placed again once released, so a replayed (old but
 * authentic) placement of a released hold cannot bring it back in one service while the
 * coordinator shows it released. Only ids are kept: no subject, no reason.
 */
export class CreateRetentionReleasedHolds1764600000100 implements MigrationInterface {
  name = 'CreateRetentionReleasedHolds1764600000100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE retention_released_holds (hold_id text PRIMARY KEY, released_at timestamptz NOT NULL DEFAULT now())`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE retention_released_holds');
  }
}
