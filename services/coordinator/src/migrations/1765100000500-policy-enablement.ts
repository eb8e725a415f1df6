import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A policy's first real run needs an admin's go-ahead: each (service, policy) records the hash of
 * its current definition, when it was first seen, and which definition an admin (or the
 * configuration) enabled. A new policy, or one whose definition changed since it was enabled, runs
 * dry only. Policies registered before this migration keep running: they are enabled as they are.
 */
export class PolicyEnablement1765100000500 implements MigrationInterface {
  name = 'PolicyEnablement1765100000500';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE policy_enablement (
        service text NOT NULL,
        policy text NOT NULL,
        definition_hash text NOT NULL,
        first_seen_at timestamptz NOT NULL,
        enabled_hash text,
        enabled_by text,
        enabled_at timestamptz,
        PRIMARY KEY (service, policy)
      )`);
    await q.query(`
      INSERT INTO policy_enablement (service, policy, definition_hash, first_seen_at, enabled_hash, enabled_by, enabled_at)
      SELECT s.service, p->>'name', ${DEFINITION_HASH_SQL('p')}, s.first_registered_at, ${DEFINITION_HASH_SQL('p')}, 'migration', now()
      FROM registered_services s, jsonb_array_elements(s.manifest->'policies') p`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE policy_enablement');
  }
}

/**
 * The hash of a policy's definition as the registry holds it (a jsonb value: its text form has a
 * canonical key order), computed in SQL so that migrations and the registry agree.
 */
export function DEFINITION_HASH_SQL(jsonbExpression: string): string {
  return `encode(sha256(convert_to((${jsonbExpression})::text, 'UTF8')), 'hex')`;
}
