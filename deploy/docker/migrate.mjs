// `entrypoint.sh migrate <coordinator|service>`: applies the pending database migrations of one
// process and exits (a Kubernetes pre-install/pre-upgrade Job, or a one-shot compose service), so
// replicas that start afterwards find nothing to migrate and never race on DDL. Until the
// processes get their own `retention migrate` (issue 11, item 2), it drives the same code they
// run at start:
//   coordinator: openCoordinatorDatabase (migrations as DATABASE_MIGRATIONS_URL's owner role, then
//                the grants to DATABASE_URL's role and the check that it cannot rewrite the ledger);
//   a service:   the SDK's migrations (outbox, policy tables, inbox) and the service's own, in the
//                order startRetentionService applies them.
// Env: DATABASE_URL, DATABASE_MIGRATIONS_URL (coordinator, optional), DATABASE_AUTO_CREATE, LOG_LEVEL.
import { boolFlag, loadConfig, postgresUrl } from '@retention/config';
import { CreateRetentionInbox1763800000200 } from '@retention/consumer';
import { createDataSource, ensureDatabase, openDatabase } from '@retention/database';
import { createLogger, runMain } from '@retention/observability';
import { outboxMigrations } from '@retention/outbox';
import { policyMigrations } from '@retention/policy';
import { z } from 'zod';

const SERVICES = ['orders', 'sessions', 'analytics', 'support', 'ml-data'];
const target = process.argv[2] ?? '';
const logger = createLogger({ service: `migrate-${target || 'unknown'}`, level: process.env.LOG_LEVEL || 'info' });

const Env = z.object({
  DATABASE_URL: postgresUrl,
  DATABASE_MIGRATIONS_URL: postgresUrl.optional(),
  DATABASE_AUTO_CREATE: boolFlag.default(false),
});

async function migrateCoordinator(config) {
  const { openCoordinatorDatabase } = await import('@retention/service-coordinator');
  const dataSource = await openCoordinatorDatabase(config, logger);
  await dataSource.destroy();
}

async function migrateService(name, config) {
  const module = await import(`@retention/service-${name}`);
  const definition = Object.values(module).find((v) => v && typeof v === 'object' && 'policies' in v && Array.isArray(v.migrations));
  if (!definition) throw new Error(`@retention/service-${name} exports no service definition (policies and migrations)`);
  if (config.DATABASE_AUTO_CREATE) await ensureDatabase(config.DATABASE_URL);
  const dataSource = createDataSource({
    url: config.DATABASE_URL,
    entities: [],
    migrations: [...outboxMigrations, ...policyMigrations, CreateRetentionInbox1763800000200, ...definition.migrations],
    applicationName: `retention-${name}-migrations`,
    poolSize: 1,
  });
  await openDatabase(dataSource);
  await dataSource.destroy();
}

await runMain(logger, async () => {
  if (target !== 'coordinator' && !SERVICES.includes(target)) {
    throw new Error(`usage: migrate <coordinator|${SERVICES.join('|')}> (got "${target}")`);
  }
  const config = loadConfig(Env);
  if (target === 'coordinator') await migrateCoordinator(config);
  else await migrateService(target, config);
  logger.info({ target }, 'migrations applied');
  // Nothing stays open: node exits once the connections are closed.
  return { stop: async () => undefined };
});
