import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Privacy1765300000700 implements MigrationInterface {
  name = 'Privacy1765300000700';

  async up(q: QueryRunner): Promise<void> {
    // Command keys, wrapped with RETENTION_COMMAND_KEK; a row is deleted (the key destroyed) at destroy_at.
    await q.query(`
      CREATE TABLE command_keys (
        key_id text PRIMARY KEY,
        wrapped jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        destroy_at timestamptz NOT NULL,
        published_at timestamptz NOT NULL
      )`);
    await q.query('CREATE INDEX command_keys_created ON command_keys (created_at)');
    // Which command key the hold's last publication sealed its subject with (re-published under each new one).
    await q.query('ALTER TABLE legal_holds ADD COLUMN published_key_id text');
    // The reason text of an ended hold is erased (the ledger and the topic carry only its HMAC).
    await q.query('ALTER TABLE legal_holds ALTER COLUMN reason DROP NOT NULL');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE legal_holds SET reason = '' WHERE reason IS NULL`);
    await q.query('ALTER TABLE legal_holds ALTER COLUMN reason SET NOT NULL');
    await q.query('ALTER TABLE legal_holds DROP COLUMN published_key_id');
    await q.query('DROP TABLE command_keys');
  }
}
