import { quoteIdent } from '@retention/database';
import type { TestStack } from '@retention/testing';
import pg from 'pg';

/**
 * The role e2e coordinators run as: LOGIN and nothing else (no CREATEDB, no CREATEROLE). Each test
 * database's owner (the stack's own role, which runs the migrations) grants it what it needs there.
 */
export const COORDINATOR_TEST_ROLE = { name: 'retention_e2e_coordinator', password: 'retention-e2e-coordinator' };

let ensured: Promise<void> | undefined;

/** Creates the role once per run (as the superuser; concurrent test files may race to do it). */
function ensureCoordinatorRole(stack: TestStack): Promise<void> {
  ensured ??= (async () => {
    const client = new pg.Client({ connectionString: stack.superuserUrl });
    await client.connect();
    try {
      // One file at a time (each runs in its own worker): two ALTER ROLE at once fail with
      // "tuple concurrently updated". The session lock ends with the connection.
      await client.query(`SELECT pg_advisory_lock(hashtext('retention_e2e_coordinator_role'))`);
      const { rowCount } = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [COORDINATOR_TEST_ROLE.name]);
      const who = quoteIdent(COORDINATOR_TEST_ROLE.name);
      const password = `'${COORDINATOR_TEST_ROLE.password}'`;
      if (!rowCount) {
        await client.query(`CREATE ROLE ${who} LOGIN PASSWORD ${password}`).catch((error: { code?: string }) => {
          // 42710 duplicate_object, 23505 unique_violation: another test file created it just now.
          if (error.code !== '42710' && error.code !== '23505') throw error;
        });
      }
      await client.query(`ALTER ROLE ${who} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD ${password}`);
    } finally {
      await client.end();
    }
  })();
  return ensured;
}

/** `ownerUrl` (a test database, owned by the stack's role) as the coordinator's runtime role. */
export async function coordinatorRuntimeUrl(stack: TestStack, ownerUrl: string): Promise<string> {
  await ensureCoordinatorRole(stack);
  const url = new URL(ownerUrl);
  url.username = COORDINATOR_TEST_ROLE.name;
  url.password = COORDINATOR_TEST_ROLE.password;
  return url.toString();
}
