import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CoordinatorInitial1763800001000 implements MigrationInterface {
  name = 'CoordinatorInitial1763800001000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE registered_services (
        service text PRIMARY KEY,
        version text NOT NULL,
        policy_hash text NOT NULL,
        subject_types text[] NOT NULL,
        manifest jsonb NOT NULL,
        first_registered_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE retention_requests (
        id uuid PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('erasure', 'sweep')),
        status text NOT NULL CHECK (status IN ('pending', 'completed', 'failed')),
        dry_run boolean NOT NULL,
        subject_type text,
        subject_ref text,
        -- The raw subject id is needed only to (re)deliver the command; it is cleared when the
        -- request completes, so the coordinator forgets the person too.
        subject_id text,
        service_filter text,
        policy_filter text,
        as_of timestamptz,
        reason text,
        requested_by text NOT NULL,
        idempotency_key text UNIQUE,
        trace_headers jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        due_at timestamptz NOT NULL,
        completed_at timestamptz
      )`);
    await q.query('CREATE INDEX retention_requests_status ON retention_requests (status, due_at)');
    await q.query('CREATE INDEX retention_requests_subject ON retention_requests (subject_ref) WHERE subject_ref IS NOT NULL');
    await q.query('CREATE INDEX retention_requests_created ON retention_requests (created_at)');
    await q.query(`
      CREATE TABLE request_targets (
        request_id uuid NOT NULL REFERENCES retention_requests (id),
        service text NOT NULL,
        status text NOT NULL CHECK (status IN ('pending', 'completed', 'failed', 'held', 'not_applicable')),
        attempts int NOT NULL DEFAULT 1,
        last_sent_at timestamptz NOT NULL DEFAULT now(),
        next_attempt_at timestamptz,
        acked_at timestamptz,
        ack jsonb,
        PRIMARY KEY (request_id, service)
      )`);
    await q.query(`CREATE INDEX request_targets_pending ON request_targets (next_attempt_at) WHERE status = 'pending'`);
    await q.query(`
      CREATE TABLE ledger_entries (
        seq bigint PRIMARY KEY,
        request_id uuid,
        entry_type text NOT NULL,
        service text,
        body jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        prev_hash text NOT NULL,
        hash text NOT NULL
      )`);
    await q.query('CREATE INDEX ledger_entries_request ON ledger_entries (request_id)');
    // Append-only: the application never updates or deletes ledger rows; this makes accidents loud.
    await q.query(`
      CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF current_setting('retention.ledger_maintenance', true) = 'on' THEN RETURN COALESCE(NEW, OLD); END IF;
        RAISE EXCEPTION 'ledger_entries is append-only';
      END $$`);
    await q.query(
      `CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE ledger_entries');
    await q.query('DROP FUNCTION ledger_entries_append_only');
    await q.query('DROP TABLE request_targets');
    await q.query('DROP TABLE retention_requests');
    await q.query('DROP TABLE registered_services');
  }
}
