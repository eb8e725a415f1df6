import { retentionMigrations, type RunningRetentionService, startRetentionRuntime } from '@retention/consumer';
import { assertMigrated, createDataSource, ensureDatabase, openDatabase, pendingMigrations, TypeOrmPinoLogger } from '@retention/database';
import type { Logger, Registry } from '@retention/observability';
import { OutboxMessage } from '@retention/outbox';
import { type BoundPolicies, type MissingIndex, missingIndexes } from '@retention/policy';
import type { DataSource } from 'typeorm';
import { bindToLiveSchema } from './bind-schema';
import type { AgentConfig } from './config';
import { introspectSchema, tableNames } from './introspect';
import { type AgentPolicies, loadPolicyFile } from './policy-file';

/**
 * The agent's own tables (and TypeORM's record of its migrations). A policy may not name one: with
 * the agent's schema first on the search path, the name would reach the agent's table.
 */
export const AGENT_TABLES = [
  'retention_outbox',
  'retention_holds',
  'retention_audit',
  'retention_file_deletions',
  'retention_released_holds',
  'retention_inbox',
  'retention_deletion_journal',
  'typeorm_migrations',
] as const;

export interface StartAgentOptions {
  logger?: Logger;
  registry?: Registry;
}

/** A running agent: the same handle as an SDK service's (`stop()` ends it), with the policy file's version. */
export interface RunningAgent extends RunningRetentionService {
  version: string;
}

/**
 * Starts the retention agent for one PostgreSQL database: reads the policy file, binds it to the
 * live schema (refusing, with every problem named, a policy that does not match it), creates the
 * agent's schema and tables, then runs the same runtime as an SDK service: manifest, holds
 * replica, commands, inbox, outbox, acks, metrics and index advice.
 */
export async function startAgent(config: AgentConfig, options: StartAgentOptions = {}): Promise<RunningAgent> {
  const file = await loadPolicyFile(config.agent.RETENTION_AGENT_POLICY_FILE, {
    serviceName: config.agent.RETENTION_SERVICE_NAME,
    minPeriodDays: config.service.RETENTION_MIN_PERIOD_DAYS,
  });
  const running = await startRetentionRuntime(
    {
      policies: file.policies,
      version: file.version,
      open: async ({ logger, onStop }) => {
        if (config.service.DATABASE_AUTO_CREATE) await ensureDatabase(config.service.DATABASE_URL);
        const dataSource = agentDataSource(config, file.policies.service, logger);
        await dataSource.initialize();
        onStop(() => dataSource.destroy());
        // Bound before anything is written: a refused policy leaves the database as it was.
        const bound = await bindLive(dataSource, config, file);
        if (config.service.DATABASE_MIGRATE) await migrate(dataSource, config);
        // DATABASE_MIGRATE=false: `retention-agent --migrate` made the schema; this role needs no DDL rights.
        else await assertMigrated(dataSource, `retention-agent ${file.policies.service}`);
        return { dataSource, bound };
      },
    },
    config.service,
    options,
  );
  return Object.assign(running, { version: file.version });
}

/**
 * Creates the agent's schema and applies its migrations, then closes (`retention-agent --migrate`:
 * a deploy step run with DDL rights, so the agent itself can run with `DATABASE_MIGRATE=false`).
 * Returns the migrations it applied. Reads no policy file.
 */
export async function migrateAgent(config: AgentConfig, options: { logger?: Logger } = {}): Promise<string[]> {
  if (config.service.DATABASE_AUTO_CREATE) await ensureDatabase(config.service.DATABASE_URL);
  const dataSource = agentDataSource(config, 'migrate', options.logger);
  await dataSource.initialize();
  try {
    const pending = await pendingMigrations(dataSource);
    await migrate(dataSource, config);
    return pending;
  } finally {
    await dataSource.destroy();
  }
}

async function migrate(dataSource: DataSource, config: AgentConfig): Promise<void> {
  await dataSource.query(`CREATE SCHEMA IF NOT EXISTS ${config.agent.RETENTION_AGENT_SCHEMA}`);
  await openDatabase(dataSource);
}

/** What `retention-agent --check` reports: the bound policies and the indexes they lack. */
export interface AgentCheck {
  service: string;
  version: string;
  policies: string[];
  missingIndexes: MissingIndex[];
}

/**
 * Checks the policy file against the live schema without starting anything or writing to the
 * database (a CI step before deploying a policy change). Throws the same error as {@link startAgent}.
 */
export async function checkAgentPolicies(config: AgentConfig, options: { logger?: Logger } = {}): Promise<AgentCheck> {
  const file = await loadPolicyFile(config.agent.RETENTION_AGENT_POLICY_FILE, {
    serviceName: config.agent.RETENTION_SERVICE_NAME,
    minPeriodDays: config.service.RETENTION_MIN_PERIOD_DAYS,
  });
  const dataSource = agentDataSource(config, file.policies.service, options.logger);
  await dataSource.initialize();
  try {
    const bound = await bindLive(dataSource, config, file);
    return {
      service: file.policies.service,
      version: file.version,
      policies: [...file.policies.rules.map((r) => r.name), ...file.policies.directories.map((d) => d.name)],
      missingIndexes: await missingIndexes(dataSource.manager, bound),
    };
  } finally {
    await dataSource.destroy();
  }
}

function agentDataSource(config: AgentConfig, service: string, logger?: Logger): DataSource {
  return createDataSource({
    url: config.service.DATABASE_URL,
    entities: [OutboxMessage],
    migrations: retentionMigrations,
    ...(logger ? { logger: new TypeOrmPinoLogger(logger) } : {}),
    applicationName: `retention-agent-${service}`,
    // Unqualified names in the runtime's SQL: its own tables first, then the application's.
    searchPath: [config.agent.RETENTION_AGENT_SCHEMA, config.agent.RETENTION_AGENT_DATA_SCHEMA],
  });
}

async function bindLive(dataSource: DataSource, config: AgentConfig, file: AgentPolicies): Promise<BoundPolicies> {
  const query = (sql: string, params: unknown[]) => dataSource.query(sql, params) as Promise<unknown[]>;
  const live = await introspectSchema(query, config.agent.RETENTION_AGENT_DATA_SCHEMA);
  const own = new Set([...AGENT_TABLES, ...(await tableNames(query, config.agent.RETENTION_AGENT_SCHEMA))]);
  return bindToLiveSchema(file.policies, live, own, {
    hashKey: config.service.RETENTION_HASH_KEY,
    filesRoot: config.service.RETENTION_FILES_ROOT,
    minPeriodDays: config.service.RETENTION_MIN_PERIOD_DAYS,
  });
}
