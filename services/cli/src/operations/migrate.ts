import { boolFlag, loadConfig, postgresUrl } from '@retention/config';
import { createDataSource, ensureDatabase, openDatabase, pendingMigrations, TypeOrmPinoLogger } from '@retention/database';
import { createLogger, type Logger } from '@retention/observability';
import type { DataSource } from 'typeorm';
import { z } from 'zod';
import { UsageError } from './usage-error';

/** The environment of `retention migrate`. */
export const MigrateEnv = z.object({
  DATABASE_URL: postgresUrl,
  DATABASE_MIGRATIONS_URL: postgresUrl.optional(),
  DATABASE_AUTO_CREATE: boolFlag.default(false),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('warn'),
});

export interface MigrateResult {
  target: string;
  /** The migrations this run applied, oldest first (empty: the database was up to date). */
  applied: string[];
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
type Migrations = Function[];

/**
 * Applies the pending migrations of one process's database and returns their names: `coordinator`
 * (as DATABASE_MIGRATIONS_URL's owner role when set, which then grants DATABASE_URL's role its
 * rights and checks it cannot rewrite the ledger: the coordinator's own start path) or a domain
 * service `@retention/service-<name>` (the SDK's tables, then the service's own, in the order
 * the service applies them). Runs once per install and upgrade, before the processes start with
 * DATABASE_MIGRATE=false, so replicas never race on DDL.
 */
export async function migrate(target: string, env: NodeJS.ProcessEnv): Promise<MigrateResult> {
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(target)) throw new UsageError(`migrate: "${target}" is not coordinator or a service name`);
  const config = loadConfig(MigrateEnv, env);
  const logger = createLogger({ service: `retention-migrate-${target}`, level: config.LOG_LEVEL, destination: process.stderr });
  // The target's package is loaded by name, as a plugin: the CLI depends on no service.
  const module = await servicePackage(target);
  if (target === 'coordinator') return { target, applied: await migrateCoordinator(module as unknown as CoordinatorPackage, config, logger) };
  return { target, applied: await migrateService(target, module, config, logger) };
}

/** What `retention migrate coordinator` needs of @retention/service-coordinator. */
interface CoordinatorPackage {
  coordinatorDatabaseMigrations: Migrations;
  openCoordinatorDatabase(
    config: { DATABASE_URL: string; DATABASE_MIGRATIONS_URL?: string; DATABASE_AUTO_CREATE: boolean; DATABASE_MIGRATE: boolean },
    logger: Logger,
  ): Promise<DataSource>;
}

async function migrateCoordinator(
  { coordinatorDatabaseMigrations, openCoordinatorDatabase }: CoordinatorPackage,
  config: z.output<typeof MigrateEnv>,
  logger: Logger,
): Promise<string[]> {
  if (!Array.isArray(coordinatorDatabaseMigrations) || typeof openCoordinatorDatabase !== 'function') {
    throw new UsageError('migrate: @retention/service-coordinator exports no coordinatorDatabaseMigrations and openCoordinatorDatabase');
  }
  const ownerUrl = config.DATABASE_MIGRATIONS_URL ?? config.DATABASE_URL;
  if (config.DATABASE_AUTO_CREATE) await ensureDatabase(ownerUrl);
  const pending = await withDataSource(createDataSource({ url: ownerUrl, entities: [], migrations: coordinatorDatabaseMigrations, poolSize: 1 }), (ds) =>
    pendingMigrations(ds),
  );
  const runtime = await openCoordinatorDatabase({ ...config, DATABASE_AUTO_CREATE: false, DATABASE_MIGRATE: true }, logger);
  await runtime.destroy();
  return pending;
}

async function migrateService(name: string, module: Record<string, unknown>, config: z.output<typeof MigrateEnv>, logger: Logger): Promise<string[]> {
  const definition = Object.values(module).find(
    (v): v is { migrations: Migrations } => typeof v === 'object' && v !== null && 'policies' in v && Array.isArray((v as { migrations?: unknown }).migrations),
  );
  if (!definition) throw new UsageError(`migrate: @retention/service-${name} exports no service definition (policies and migrations)`);
  const consumer = await import('@retention/consumer');
  const { outboxMigrations } = await import('@retention/outbox');
  const { policyMigrations } = await import('@retention/policy');
  // The SDK's own tables, in the order a service applies them (the SDK exports its list as
  // retentionMigrations; before it did, these).
  const sdkMigrations = (consumer as { retentionMigrations?: Migrations }).retentionMigrations ?? [
    ...outboxMigrations,
    ...policyMigrations,
    consumer.CreateRetentionInbox1763800000200,
    consumer.CreateDeletionJournal1765500000900,
  ];
  if (config.DATABASE_AUTO_CREATE) await ensureDatabase(config.DATABASE_URL);
  const dataSource = createDataSource({
    url: config.DATABASE_URL,
    entities: [],
    migrations: [...sdkMigrations, ...definition.migrations],
    logger: new TypeOrmPinoLogger(logger),
    applicationName: `retention-${name}-migrations`,
    poolSize: 1,
  });
  return withDataSource(dataSource, async (ds) => {
    const pending = await pendingMigrations(ds);
    await openDatabase(ds);
    return pending;
  });
}

/** The package `@retention/service-<name>`. */
async function servicePackage(name: string): Promise<Record<string, unknown>> {
  try {
    return (await import(`@retention/service-${name}`)) as Record<string, unknown>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes(`@retention/service-${name}`)) {
      throw new UsageError(`migrate: no service "${name}" (no package @retention/service-${name} is installed)`);
    }
    throw error;
  }
}

async function withDataSource<T>(dataSource: DataSource, work: (ds: DataSource) => Promise<T>): Promise<T> {
  await dataSource.initialize();
  try {
    return await work(dataSource);
  } finally {
    await dataSource.destroy();
  }
}
