import { ConfigError } from '@retention/contracts';
import { quoteIdent } from '@retention/database';
import type { DataSource } from 'typeorm';

/** Tables the coordinator may only append to and read: the ledger and its checkpoints. */
export const APPEND_ONLY_TABLES = ['ledger_entries', 'ledger_checkpoints'] as const;

/**
 * Run as the migrations (owner) role after migrating: gives the coordinator's runtime role what it
 * needs on every table (rows of requests, targets, holds, registry and outbox change), then takes
 * back everything but INSERT and SELECT on the append-only tables. Idempotent; tables added by later
 * migrations are covered the next time it runs (at every start).
 */
export async function grantRuntimeRole(owner: DataSource, role: string): Promise<void> {
  const who = quoteIdent(role);
  const appendOnly = APPEND_ONLY_TABLES.join(', ');
  await owner.transaction(async (m) => {
    await m.query(`GRANT USAGE ON SCHEMA public TO ${who}`);
    await m.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${who}`);
    await m.query(`GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO ${who}`);
    await m.query(`REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON ${appendOnly} FROM ${who}`);
    await m.query(`REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON typeorm_migrations FROM ${who}`);
  });
}

export interface RuntimeRoleReport {
  role: string;
  /** Why this role could rewrite the ledger (empty: it can only append and read). */
  problems: string[];
}

/**
 * What the role the coordinator runs as could do to the append-only tables. Owning a table (or
 * being a member of its owner), being a superuser, or holding UPDATE, DELETE or TRUNCATE on it
 * would let it change, remove or truncate entries, or drop or disable the trigger; CREATEROLE lets
 * a role on PostgreSQL 15 make itself a member of the owner.
 */
export async function inspectRuntimeRole(runtime: DataSource): Promise<RuntimeRoleReport> {
  const rows = (await runtime.query(
    `SELECT current_user AS role, r.rolsuper AS superuser, r.rolcreaterole AS createrole, c.relname AS table,
            pg_get_userbyid(c.relowner) AS owner, pg_has_role(current_user, c.relowner, 'MEMBER') AS owns,
            has_table_privilege(c.oid, 'UPDATE') AS can_update, has_table_privilege(c.oid, 'DELETE') AS can_delete,
            has_table_privilege(c.oid, 'TRUNCATE') AS can_truncate,
            has_table_privilege(c.oid, 'INSERT') AND has_table_privilege(c.oid, 'SELECT') AS can_append
     FROM pg_class c JOIN pg_roles r ON r.rolname = current_user
     WHERE c.oid = ANY ($1::regclass[])`,
    [APPEND_ONLY_TABLES],
  )) as Array<{
    role: string;
    superuser: boolean;
    createrole: boolean;
    table: string;
    owner: string;
    owns: boolean;
    can_update: boolean;
    can_delete: boolean;
    can_truncate: boolean;
    can_append: boolean;
  }>;
  const [first] = rows;
  if (!first) throw new ConfigError(`the ledger tables (${APPEND_ONLY_TABLES.join(', ')}) do not exist: have the migrations run?`);
  const problems: string[] = [];
  if (first.superuser) problems.push('is a superuser');
  if (first.createrole) problems.push('has CREATEROLE (it could make itself a member of the tables’ owner)');
  for (const r of rows) {
    if (r.owns) problems.push(`owns ${r.table}, or is a member of its owner ${r.owner}`);
    const rewrite = [r.can_update && 'UPDATE', r.can_delete && 'DELETE', r.can_truncate && 'TRUNCATE'].filter(Boolean);
    if (rewrite.length > 0) problems.push(`holds ${rewrite.join(', ')} on ${r.table}`);
    if (!r.can_append) problems.push(`cannot INSERT into and SELECT ${r.table}`);
  }
  return { role: first.role, problems: [...new Set(problems)] };
}
