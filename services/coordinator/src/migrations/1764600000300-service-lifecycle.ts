import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Registrations get a lifecycle: a service becomes a target of requests only once it is `active`
 * (an admin approved it, or the coordinator's configuration names its signing key), and an admin
 * can retire it. The key a service signs its acks with is pinned here when it is approved.
 */
export class ServiceLifecycle1764600000300 implements MigrationInterface {
  name = 'ServiceLifecycle1764600000300';

  async up(q: QueryRunner): Promise<void> {
    // Rows registered before signing existed keep working as targets, but their acks are accepted
    // only once a key is pinned (configuration or approval), like any other service.
    await q.query(`
      ALTER TABLE registered_services
        ADD COLUMN status text NOT NULL DEFAULT 'active' CHECK (status IN ('pending_approval', 'active', 'retired')),
        ADD COLUMN signing_key_id text,
        ADD COLUMN signing_public_key text,
        ADD COLUMN consumer_group text,
        ADD COLUMN pending_manifest jsonb,
        ADD COLUMN pending_since timestamptz,
        ADD COLUMN approved_by text,
        ADD COLUMN approved_at timestamptz,
        ADD COLUMN retired_by text,
        ADD COLUMN retired_at timestamptz,
        ADD COLUMN retired_reason text`);
    await q.query(`ALTER TABLE registered_services ALTER COLUMN status SET DEFAULT 'pending_approval'`);
    await q.query(`ALTER TABLE request_targets DROP CONSTRAINT request_targets_status_check`);
    await q.query(
      `ALTER TABLE request_targets ADD CONSTRAINT request_targets_status_check CHECK (status IN ('pending', 'completed', 'failed', 'held', 'not_applicable', 'retired'))`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE request_targets DROP CONSTRAINT request_targets_status_check`);
    await q.query(
      `ALTER TABLE request_targets ADD CONSTRAINT request_targets_status_check CHECK (status IN ('pending', 'completed', 'failed', 'held', 'not_applicable'))`,
    );
    await q.query(`
      ALTER TABLE registered_services
        DROP COLUMN status, DROP COLUMN signing_key_id, DROP COLUMN signing_public_key, DROP COLUMN consumer_group,
        DROP COLUMN pending_manifest, DROP COLUMN pending_since, DROP COLUMN approved_by, DROP COLUMN approved_at,
        DROP COLUMN retired_by, DROP COLUMN retired_at, DROP COLUMN retired_reason`);
  }
}
