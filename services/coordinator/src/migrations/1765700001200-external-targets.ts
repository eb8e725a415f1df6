import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Targets that are not Kafka consumers: a webhook (the coordinator calls an HTTPS endpoint, the
 * system answers on its callback endpoint) or a manual task (an operator confirms it with a note).
 * They are rows of `registered_services` like any service, so they take part in erasures, overdue,
 * retirement and the request views unchanged; `target_kind` tells the leader how to deliver.
 */
export class ExternalTargets1765700001200 implements MigrationInterface {
  name = 'ExternalTargets1765700001200';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE registered_services
        ADD COLUMN target_kind text NOT NULL DEFAULT 'kafka' CHECK (target_kind IN ('kafka', 'webhook', 'manual')),
        ADD COLUMN webhook_url text,
        -- Sealed (AES-256-GCM, see subject-vault.ts): it signs both directions, so a dump must not hold it.
        ADD COLUMN webhook_secret text,
        ADD COLUMN instructions text,
        -- After a rotation, the previous secret (sealed) still signs and verifies until this time.
        ADD COLUMN webhook_previous_secret text,
        ADD COLUMN webhook_previous_until timestamptz,
        ADD CONSTRAINT registered_services_external_check CHECK (
          (target_kind = 'kafka' AND webhook_url IS NULL AND webhook_secret IS NULL AND instructions IS NULL)
          OR (target_kind = 'webhook' AND webhook_url IS NOT NULL AND webhook_secret IS NOT NULL)
          OR (target_kind = 'manual' AND instructions IS NOT NULL))`);
    await q.query(`
      ALTER TABLE request_targets
        -- Why the last webhook delivery failed (an HTTP status or a connection error code; never a body).
        ADD COLUMN last_error text,
        -- When the webhook last accepted a delivery (2xx); its result is awaited on the callback.
        ADD COLUMN delivered_at timestamptz,
        -- A manual task's confirmation: the note stays here only (the ledger has its keyed hash).
        ADD COLUMN note text,
        ADD COLUMN confirmed_by text,
        ADD COLUMN confirmed_at timestamptz`);
    // Callback signatures seen within their tolerance window: the same signed callback sent again
    // (a captured one replayed) is answered as a duplicate and applies nothing.
    await q.query(`
      CREATE TABLE webhook_callbacks_seen (
        target text NOT NULL,
        signature text NOT NULL,
        seen_at timestamptz NOT NULL,
        PRIMARY KEY (target, signature)
      )`);
    await q.query('CREATE INDEX webhook_callbacks_seen_at ON webhook_callbacks_seen (seen_at)');
    // Holds placed after a webhook accepted an erasure: each is notified to it once (retried with backoff until a 2xx).
    await q.query(`
      CREATE TABLE webhook_hold_notices (
        request_id uuid NOT NULL,
        service text NOT NULL,
        hold_id text NOT NULL,
        attempts int NOT NULL DEFAULT 0,
        next_attempt_at timestamptz,
        sent_at timestamptz,
        PRIMARY KEY (request_id, service, hold_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE webhook_hold_notices');
    await q.query('DROP TABLE webhook_callbacks_seen');
    await q.query(
      `ALTER TABLE request_targets DROP COLUMN last_error, DROP COLUMN delivered_at, DROP COLUMN note, DROP COLUMN confirmed_by, DROP COLUMN confirmed_at`,
    );
    await q.query(
      `ALTER TABLE registered_services DROP CONSTRAINT registered_services_external_check, DROP COLUMN target_kind, DROP COLUMN webhook_url, DROP COLUMN webhook_secret, DROP COLUMN instructions,
         DROP COLUMN webhook_previous_secret, DROP COLUMN webhook_previous_until`,
    );
  }
}
