import { ConfigError } from '@retention/contracts';
import { createDataSource, ensureDatabase, openDatabase, TypeOrmPinoLogger } from '@retention/database';
import type { Logger } from '@retention/observability';
import { OutboxMessage, outboxMigrations } from '@retention/outbox';
import type { DataSource } from 'typeorm';
import type { CoordinatorConfig } from './config';
import { grantRuntimeRole, inspectRuntimeRole } from './database-roles';
import { coordinatorMigrations } from './migrations';

const migrations = [...outboxMigrations, ...coordinatorMigrations];

/**
 * The coordinator's database connection. With DATABASE_MIGRATIONS_URL, the migrations run as that
 * (owner) role, which then grants DATABASE_URL's role what it needs and no more on the ledger; the
 * coordinator runs as DATABASE_URL's role and refuses to start if that role could still rewrite the
 * ledger. With DATABASE_URL alone (one role owning everything) it starts with a warning: the
 * ledger is then tamper-evident (verify names changes against signed checkpoints) but not
 * tamper-resistant.
 */
export async function openCoordinatorDatabase(
  config: Pick<CoordinatorConfig, 'DATABASE_URL' | 'DATABASE_MIGRATIONS_URL' | 'DATABASE_AUTO_CREATE'>,
  logger: Logger,
): Promise<DataSource> {
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
