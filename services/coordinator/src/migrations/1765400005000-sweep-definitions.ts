import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A real sweep keeps the policy definitions that were enabled when it was issued, so that every
 * delivery of its command (sweep.requested 1.1 `definitions`) names the same ones.
 */
export class SweepDefinitions1765400005000 implements MigrationInterface {
  name = 'SweepDefinitions1765400005000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE retention_requests ADD COLUMN sweep_definitions jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE retention_requests DROP COLUMN sweep_definitions`);
  }
}
