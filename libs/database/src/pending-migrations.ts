import { ConfigError } from '@retention/contracts';
import type { DataSource } from 'typeorm';

/**
 * The migrations of `dataSource` not yet applied to its database, by name, oldest first. Reads
 * TypeORM's migrations table only (no DDL: unlike TypeORM's own check, it does not create that
 * table when it is missing), so a role without CREATE rights can run it.
 */
export async function pendingMigrations(dataSource: DataSource): Promise<string[]> {
  const table = dataSource.options.migrationsTableName ?? 'migrations';
  const schema = (dataSource.options as { schema?: string }).schema;
  const qualified = schema ? `${schema}.${table}` : table;
  const [{ exists } = { exists: false }] = (await dataSource.query(`SELECT to_regclass($1) IS NOT NULL AS exists`, [qualified])) as Array<{ exists: boolean }>;
  const escape = (name: string): string => dataSource.driver.escape(name);
  const from = schema ? `${escape(schema)}.${escape(table)}` : escape(table);
  const rows = exists ? ((await dataSource.query(`SELECT name FROM ${from}`)) as Array<{ name: string }>) : [];
  const applied = new Set(rows.map((r) => r.name));
  // TypeORM runs them in the order of the timestamp that ends each name.
  const timestamp = (name: string): number => Number(/(\d{13})$/.exec(name)?.[1] ?? 0);
  return dataSource.migrations
    .map((m) => m.name ?? m.constructor.name)
    .filter((name) => !applied.has(name))
    .sort((a, b) => timestamp(a) - timestamp(b));
}

/**
 * Fails, naming every pending migration, unless the database is migrated: for a process told not
 * to migrate (`DATABASE_MIGRATE=false`), whose migrations `retention migrate` applies beforehand.
 */
export async function assertMigrated(dataSource: DataSource, what: string): Promise<void> {
  const pending = await pendingMigrations(dataSource);
  if (pending.length > 0) {
    throw new ConfigError(
      `${what}: ${pending.length} database migration(s) pending (${pending.join(', ')}) and DATABASE_MIGRATE=false: ` +
        'apply them first with `retention migrate` (docs/deploy.md)',
    );
  }
}
