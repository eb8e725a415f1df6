import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A ledger its writer cannot rewrite. The append-only trigger loses its bypass (the setting
 * `retention.ledger_maintenance`, which any role can set, made it a guard against accidents only)
 * and now covers TRUNCATE too. What keeps the coordinator from rewriting the ledger is its role:
 * with DATABASE_MIGRATIONS_URL, these tables belong to the migrations role and the coordinator's
 * own role may only INSERT and SELECT them (see `database-roles.ts`). Signed checkpoints of the
 * ledger's Merkle tree are kept here as a copy; the copy that counts is on the Kafka topic.
 */
export class LedgerProof1765000000400 implements MigrationInterface {
  name = 'LedgerProof1765000000400';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE OR REPLACE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await q.query(
      `CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only()`,
    );
    await q.query(`
      CREATE TABLE ledger_checkpoints (
        tree_size bigint PRIMARY KEY,
        root_hash text NOT NULL,
        last_entry_hash text NOT NULL,
        signed_at timestamptz NOT NULL,
        key_id text NOT NULL,
        signature text NOT NULL,
        -- The compact Merkle frontier at tree_size: the next checkpoint extends it instead of
        -- re-reading the ledger (checked against the signed root before use).
        frontier text[] NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(
      `CREATE TRIGGER ledger_checkpoints_append_only BEFORE UPDATE OR DELETE ON ledger_checkpoints FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()`,
    );
    await q.query(
      `CREATE TRIGGER ledger_checkpoints_no_truncate BEFORE TRUNCATE ON ledger_checkpoints FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only()`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE ledger_checkpoints');
    await q.query('DROP TRIGGER ledger_entries_no_truncate ON ledger_entries');
    await q.query(`
      CREATE OR REPLACE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF current_setting('retention.ledger_maintenance', true) = 'on' THEN RETURN COALESCE(NEW, OLD); END IF;
        RAISE EXCEPTION 'ledger_entries is append-only';
      END $$`);
  }
}
