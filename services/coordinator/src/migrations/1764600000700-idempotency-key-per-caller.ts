import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An `Idempotency-Key` belongs to the caller that sent it: the same key from another token is
 * another request, so no caller can see (or probe for) another caller's request through a key.
 */
export class IdempotencyKeyPerCaller1764600000700 implements MigrationInterface {
  name = 'IdempotencyKeyPerCaller1764600000700';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE retention_requests DROP CONSTRAINT retention_requests_idempotency_key_key`);
    await q.query(
      `CREATE UNIQUE INDEX retention_requests_idempotency_key_per_caller ON retention_requests (requested_by, idempotency_key) WHERE idempotency_key IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX retention_requests_idempotency_key_per_caller`);
    await q.query(`ALTER TABLE retention_requests ADD CONSTRAINT retention_requests_idempotency_key_key UNIQUE (idempotency_key)`);
  }
}
