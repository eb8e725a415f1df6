import { ConfigError } from '@retention/contracts';
import { assertMigrated, createDataSource, ensureDatabase, openDatabase, TypeOrmPinoLogger } from '@retention/database';
import type { Logger } from '@retention/observability';
import { OutboxMessage, outboxMigrations } from '@retention/outbox';
import type { DataSource } from 'typeorm';
import type { CoordinatorConfig } from './config';
import { grantRuntimeRole, inspectRuntimeRole } from './database-roles';
import { coordinatorMigrations } from './migrations';

const migrations = [...outboxMigrations, ...coordinatorMigrations];

/** Every migration of the coordinator's database, in order (`retention migrate coordinator` lists the pending ones). */
export const coordinatorDatabaseMigrations = migrations;

/**
 * The coordinator's database connection. With DATABASE_MIGRATIONS_URL, the migrations run as that
 * (owner) role, which then grants DATABASE_URL's role what it needs and no more on the ledger; the
 * coordinator runs as DATABASE_URL's role and refuses to start if that role could still rewrite the
 * ledger. With DATABASE_URL alone (one role owning everything) it starts with a warning: the
 * ledger is then tamper-evident (verify names changes against signed checkpoints) but not
 * tamper-resistant.
 */
export async function openCoordinatorDatabase(
  config: Pick<CoordinatorConfig, 'DATABASE_URL' | 'DATABASE_MIGRATIONS_URL' | 'DATABASE_AUTO_CREATE'> & { DATABASE_MIGRATE?: boolean },
  logger: Logger,
): Promise<DataSource> {
  if (config.DATABASE_MIGRATE === false) return openMigratedDatabase(config.DATABASE_URL, logger);
  const ownerUrl = config.DATABASE_MIGRATIONS_URL;
  if (config.DATABASE_AUTO_CREATE) await ensureDatabase(ownerUrl ?? config.DATABASE_URL);
  const runtime = createDataSource({
    url: config.DATABASE_URL,
    entities: [OutboxMessage],
    migrations: ownerUrl ? [] : migrations,
    logger: new TypeOrmPinoLogger(logger),
    applicationName: 'retention-coordinator',
  });
  if (!ownerUrl) {
    await openDatabase(runtime);
    logger.warn(
      'DATABASE_MIGRATIONS_URL is not set: the coordinator runs as the role that owns its tables, so the ledger is tamper-evident (verify names changes against signed checkpoints) but not tamper-resistant (this role could rewrite it); see docs/operations.md',
    );
    return runtime;
  }
  try {
    await openDatabase(runtime, { migrate: false });
    const [{ role } = { role: '' }] = (await runtime.query('SELECT current_user AS role')) as Array<{ role: string }>;
    const owner = createDataSource({
      url: ownerUrl,
      entities: [],
      migrations,
      logger: new TypeOrmPinoLogger(logger),
      applicationName: 'retention-coordinator-migrations',
      poolSize: 1,
    });
    await openDatabase(owner);
    try {
      const [{ ownerRole } = { ownerRole: '' }] = (await owner.query('SELECT current_user AS "ownerRole"')) as Array<{ ownerRole: string }>;
      if (ownerRole === role) {
        throw new ConfigError('invalid configuration', [
          {
            path: 'DATABASE_URL',
            message: `logs in as "${role}", the same role as DATABASE_MIGRATIONS_URL: the coordinator must run as a role that only inserts into and reads the ledger (or leave DATABASE_MIGRATIONS_URL unset, and the ledger is only tamper-evident)`,
          },
        ]);
      }
      await grantRuntimeRole(owner, role);
    } finally {
      await owner.destroy();
    }
    const report = await inspectRuntimeRole(runtime);
    if (report.problems.length > 0) {
      throw new ConfigError('invalid configuration', [
        {
          path: 'DATABASE_URL',
          message: `its role "${report.role}" could rewrite the ledger (${report.problems.join('; ')}); the coordinator must run as a role that only inserts into and reads it, with DATABASE_MIGRATIONS_URL naming the owner (see docs/operations.md)`,
        },
      ]);
    }
    logger.info({ role: report.role }, 'database: the coordinator role may only append to and read the ledger');
    return runtime;
  } catch (error) {
    await runtime.destroy().catch(() => undefined);
    throw error;
  }
}

/**
 * `DATABASE_MIGRATE=false`: `retention migrate coordinator` migrated the database and granted this
 * role its rights beforehand. Runs no DDL and never opens DATABASE_MIGRATIONS_URL: checks that no
 * migration is pending (naming each one if some are) and what this role could do to the ledger.
 */
async function openMigratedDatabase(url: string, logger: Logger): Promise<DataSource> {
  const runtime = createDataSource({
    url,
    entities: [OutboxMessage],
    migrations,
    logger: new TypeOrmPinoLogger(logger),
    applicationName: 'retention-coordinator',
  });
  try {
    await openDatabase(runtime, { migrate: false });
    await assertMigrated(runtime, 'coordinator');
    const report = await inspectRuntimeRole(runtime);
    if (report.problems.length > 0) {
      logger.warn(
        { role: report.role, problems: report.problems },
        'the coordinator runs as a role that could rewrite the ledger: it is tamper-evident (verify names changes against signed checkpoints) but not tamper-resistant; run it as the restricted role `retention migrate coordinator` grants (see docs/operations.md)',
      );
    } else logger.info({ role: report.role }, 'database: the coordinator role may only append to and read the ledger');
    return runtime;
  } catch (error) {
    await runtime.destroy().catch(() => undefined);
    throw error;
  }
}
