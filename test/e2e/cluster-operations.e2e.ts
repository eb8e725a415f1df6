/**
 * Operations that fit a cluster, against the real broker and database: processes told not to
 * create topics (RETENTION_CREATE_TOPICS=false) or migrate (DATABASE_MIGRATE=false) stop with an
 * error naming what is missing, and start once `retention topics apply` and `retention migrate`
 * (the CLI, run as its own process) have made them; they then run as PostgreSQL roles that may not
 * create anything (no CREATE on the database or its schema: proven by a refused CREATE TABLE), with
 * their database URLs and keys read from files (X_FILE; the message-signing key still inline here).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { topicNames } from '@retention/contracts';
import { quoteIdent } from '@retention/database';
import { createTestDatabase, createTestKeys, type TestDatabase, testStack, uniqueSuffix, uniqueTopicPrefix, waitFor } from '@retention/testing';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COORDINATOR_TEST_ROLE, coordinatorRuntimeUrl } from './coordinator-role';

const ROOT = resolve(import.meta.dirname, '../..');
const TOKENS = 'admin:cluster-ops-admin-token-0123,auditor:cluster-ops-auditor-token-0123';

interface Exited {
  code: number | null;
  stderr: string;
  stdout: string;
  /** Both (a process logs its fatal error as JSON on stdout). */
  output: string;
}

/** Runs `node --import tsx <entry> [args]` to its end. */
function runToEnd(entry: string, args: string[], env: Record<string, string>, timeoutMs = 120_000): Promise<Exited> {
  const child = start(entry, args, env);
  return new Promise((resolvePromise, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${entry} ${args.join(' ')} did not exit within ${timeoutMs} ms: ${stderr.slice(-2000)}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stderr, stdout, output: `${stdout}\n${stderr}` });
    });
  });
}

function start(entry: string, args: string[], env: Record<string, string>): ChildProcess {
  // The sources (not a dist/ build that may lag behind them), as `npm run dev` runs them.
  return spawn(process.execPath, ['--conditions=@retention/source', '--import', 'tsx', resolve(ROOT, entry), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH!, TSX_TSCONFIG_PATH: resolve(ROOT, 'tsconfig.runtime.json'), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

const retention = (args: string[], env: Record<string, string>): Promise<Exited> => runToEnd('services/cli/bin/retention.mjs', args, env);

function freePort(): Promise<number> {
  return new Promise((resolvePromise) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolvePromise(port));
    });
  });
}

/** Starts a process and waits for `/readyz` of `port` to answer 200; fails with its stderr if it exits first. */
async function startReady(entry: string, env: Record<string, string>, port: number): Promise<{ child: ChildProcess; stop(): Promise<number | null> }> {
  const child = start(entry, [], env);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout!.resume();
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    await waitFor(
      `${entry} to answer /readyz on ${port}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`${entry} exited (${child.exitCode}): ${stderr.slice(-3000)}`);
        const response = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
        return response?.status === 200 ? true : undefined;
      },
      { timeoutMs: 90_000 },
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    child,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** `/metrics` answers on `metricsPort` (with /healthz and /readyz) and not on `otherPort`. */
async function expectMetricsOnlyOn(metricsPort: number, otherPort: number, series: string[]): Promise<void> {
  const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  expect(metrics.status).toBe(200);
  const body = await metrics.text();
  for (const name of series) expect(body).toContain(name);
  expect((await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status).toBe(200);
  expect((await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status).toBe(200);
  expect((await fetch(`http://127.0.0.1:${otherPort}/metrics`)).status).toBe(404);
  expect((await fetch(`http://127.0.0.1:${otherPort}/healthz`)).status).toBe(200);
}

describe('processes that may not create topics or run DDL (RETENTION_CREATE_TOPICS=false, DATABASE_MIGRATE=false)', () => {
  const stack = testStack();
  const prefix = uniqueTopicPrefix();
  const keys = createTestKeys(['orders']);
  const serviceRole = { name: `retention_e2e_nodll_${uniqueSuffix()}`, password: 'retention-e2e-no-ddl' };
  const dir = mkdtempSync(join(tmpdir(), 'cluster-ops-'));
  const admin = new Kafka({ brokers: stack.kafkaBrokers, logLevel: logLevel.NOTHING }).admin();
  let ordersDb: TestDatabase;
  let coordinatorDb: TestDatabase;
  let ordersRoleUrl: string;
  let coordinatorRoleUrl: string;
  const file = (name: string, content: string): string => {
    const path = join(dir, name);
    writeFileSync(path, `${content}\n`, { mode: 0o600 });
    return path;
  };
  const kafkaEnv = { KAFKA_BROKERS: stack.kafkaBrokers.join(','), RETENTION_TOPIC_PREFIX: prefix };
  const cluster = { RETENTION_CREATE_TOPICS: 'false', DATABASE_MIGRATE: 'false' };

  async function asSuperuser<T>(database: string | undefined, work: (client: pg.Client) => Promise<T>): Promise<T> {
    const url = new URL(stack.superuserUrl);
    if (database) url.pathname = `/${database}`;
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  }
  const dbName = (url: string): string => new URL(url).pathname.slice(1);

  /** What `role` may create in the database at `url`: nothing, for a process that needs no DDL. */
  async function createRights(url: string, role: string): Promise<{ database: boolean; schema: boolean; createTable: string }> {
    const rights = await asSuperuser(dbName(url), async (c) => {
      const { rows } = await c.query<{ database: boolean; schema: boolean }>(
        `SELECT has_database_privilege($1, current_database(), 'CREATE') AS database, has_schema_privilege($1, 'public', 'CREATE') AS schema`,
        [role],
      );
      return rows[0]!;
    });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const createTable = await client.query('CREATE TABLE ddl_probe (x int)').then(
        () => 'created',
        (error: { code?: string }) => error.code ?? 'error',
      );
      return { ...rights, createTable };
    } finally {
      await client.end();
    }
  }

  const ordersEnv = (port: number): Record<string, string> => ({
    ...kafkaEnv,
    ...cluster,
    HTTP_PORT: String(port),
    INSTANCE_ID: 'cluster-ops-1',
    DATABASE_URL_FILE: file('orders-database-url', ordersRoleUrl),
    RETENTION_HASH_KEY_FILE: file('hash-key', 'cluster-ops-hash-key-0123456789'),
    ...keys.serviceEnv('orders'),
  });
  const coordinatorEnv = (port: number): Record<string, string> => {
    const { RETENTION_COMMAND_KEK, ...coordinatorKeys } = keys.coordinatorEnv();
    return {
      ...kafkaEnv,
      ...cluster,
      HTTP_PORT: String(port),
      DATABASE_URL_FILE: file('coordinator-database-url', coordinatorRoleUrl),
      RETENTION_API_TOKENS_FILE: file('api-tokens', TOKENS),
      RETENTION_SUBJECT_HMAC_KEY_FILE: file('subject-hmac-key', 'cluster-ops-hmac-key-0123456789'),
      RETENTION_COMMAND_KEK_FILE: file('command-kek', RETENTION_COMMAND_KEK!),
      SWEEP_MISFIRE_GRACE_SECONDS: '0',
      ...coordinatorKeys,
    };
  };

  beforeAll(async () => {
    ordersDb = await createTestDatabase(stack.databaseUrl, 'e2e_ops_orders');
    coordinatorDb = await createTestDatabase(stack.databaseUrl, 'e2e_ops_coordinator');
    coordinatorRoleUrl = await coordinatorRuntimeUrl(stack, coordinatorDb.url);
    // A service role with LOGIN only: no CREATEDB, no CREATEROLE, no CREATE anywhere.
    await asSuperuser(undefined, (c) =>
      c.query(`CREATE ROLE ${quoteIdent(serviceRole.name)} LOGIN NOCREATEDB NOCREATEROLE PASSWORD '${serviceRole.password}'`),
    );
    const url = new URL(ordersDb.url);
    url.username = serviceRole.name;
    url.password = serviceRole.password;
    ordersRoleUrl = url.toString();
    await admin.connect();
  }, 60_000);

  afterAll(async () => {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (topics.length > 0) await admin.deleteTopics({ topics });
    await admin.disconnect();
    await ordersDb?.drop();
    await coordinatorDb?.drop();
    await asSuperuser(undefined, (c) => c.query(`DROP ROLE IF EXISTS ${quoteIdent(serviceRole.name)}`));
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('a service stops naming its pending migrations, then its missing topics; after `retention migrate` and `retention topics apply` it starts as a role without CREATE rights', async () => {
    const port = await freePort();
    // Nothing applied: the role cannot even see the tables; the service names every pending migration.
    const unmigrated = await runToEnd('services/orders/src/main.ts', [], ordersEnv(port));
    expect(unmigrated.code).toBe(1);
    expect(unmigrated.output).toMatch(/orders: \d+ database migration\(s\) pending \([^)]*\) and DATABASE_MIGRATE=false/);
    for (const name of ['CreateRetentionOutbox1763800000000', 'CreateRetentionInbox1763800000200', 'CreateOrders1763800004000'])
      expect(unmigrated.output).toContain(name);
    // TypeORM tries no DDL of its own at connect (CREATE EXTENSION) either.
    expect(unmigrated.output).not.toContain('uuid-ossp');
    expect(unmigrated.output).toContain('retention migrate');
    expect(unmigrated.output).not.toContain(serviceRole.password);

    // The explicit step, as the database's owner (the Job or `npm start`).
    const migrated = await retention(['migrate', 'orders'], { DATABASE_URL: ordersDb.url });
    expect(migrated.code, migrated.stderr).toBe(0);
    expect((JSON.parse(migrated.stdout) as { applied: string[] }).applied).toContain('CreateOrders1763800004000');
    expect(JSON.parse((await retention(['migrate', 'orders'], { DATABASE_URL: ordersDb.url })).stdout)).toEqual({ target: 'orders', applied: [] });
    // The owner grants the service's role its rows, nothing else (no DDL: PostgreSQL 15's public schema gives PUBLIC no CREATE).
    const owner = new pg.Client({ connectionString: ordersDb.url });
    await owner.connect();
    try {
      const who = quoteIdent(serviceRole.name);
      await owner.query(`REVOKE CREATE, TEMPORARY ON DATABASE ${quoteIdent(dbName(ordersDb.url))} FROM PUBLIC`);
      await owner.query(`REVOKE CREATE ON SCHEMA public FROM PUBLIC`);
      await owner.query(`GRANT USAGE ON SCHEMA public TO ${who}`);
      await owner.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${who}`);
      await owner.query(`GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO ${who}`);
    } finally {
      await owner.end();
    }
    expect(await createRights(ordersRoleUrl, serviceRole.name)).toEqual({ database: false, schema: false, createTable: '42501' });

    // Migrated, but the topics do not exist: named, every one.
    const noTopics = await runToEnd('services/orders/src/main.ts', [], ordersEnv(port));
    expect(noTopics.code).toBe(1);
    const names = topicNames(prefix);
    for (const topic of [names.commands, names.acks, names.holds, names.registry, names.dlq, names.keys]) expect(noTopics.output).toContain(topic);
    expect(noTopics.output).toContain('RETENTION_CREATE_TOPICS=false');
    expect(noTopics.output).toContain('retention topics apply');
    expect((await admin.listTopics()).filter((t) => t.startsWith(prefix))).toEqual([]);

    // The explicit step, with the partitions (the services' parallelism) and replication configured.
    const applied = await retention(['topics', 'apply'], { ...kafkaEnv, RETENTION_TOPIC_PARTITIONS: '4', RETENTION_TOPIC_REPLICATION_FACTOR: '1' });
    expect(applied.code, applied.stderr).toBe(0);
    const result = JSON.parse(applied.stdout) as { created: string[]; topics: Record<string, number>; acls: number };
    expect(result.created.sort()).toEqual(Object.values(names).sort());
    expect(result.topics[names.commands]).toBe(4);
    expect(result.topics[names.acks]).toBe(4);
    expect(result.topics[names.holds]).toBe(1);
    expect(result.acls).toBe(0);
    const metadata = await admin.fetchTopicMetadata({ topics: [names.commands] });
    expect(metadata.topics[0]!.partitions).toHaveLength(4);
    expect(metadata.topics[0]!.partitions.every((p) => p.replicas.length === 1)).toBe(true);
    // Again: nothing to create, and a topic with fewer partitions than asked is reported, not altered.
    const again = await retention(['topics', 'apply'], { ...kafkaEnv, RETENTION_TOPIC_PARTITIONS: '8' });
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as { created: string[] }).created).toEqual([]);
    expect(again.stderr).toContain(`warning: ${names.commands} has 4 partitions, RETENTION_TOPIC_PARTITIONS asks for 8`);

    // With a metrics port of its own: /metrics there, not on the ops port (which keeps /healthz, /readyz).
    const metricsPort = await freePort();
    const orders = await startReady('services/orders/src/main.ts', { ...ordersEnv(port), METRICS_PORT: String(metricsPort) }, port);
    try {
      await expectMetricsOnlyOn(metricsPort, port, ['retention_outbox_pending', 'retention_oldest_unprocessed_days']);
    } finally {
      expect(await orders.stop()).toBe(0);
    }
  }, 300_000);

  it('the coordinator stops naming its pending migrations; after `retention migrate coordinator` it starts as a role that may create nothing, its database URL, tokens and keys from files', async () => {
    const port = await freePort();
    const unmigrated = await runToEnd('services/coordinator/src/main.ts', [], coordinatorEnv(port));
    expect(unmigrated.code).toBe(1);
    expect(unmigrated.output).toMatch(
      /coordinator: \d+ database migration\(s\) pending \([^)]*CoordinatorInitial1763800001000[^)]*\) and DATABASE_MIGRATE=false/,
    );

    // As a Job would: the owner runs the DDL and grants the runtime role its rights.
    const migrated = await retention(['migrate', 'coordinator'], { DATABASE_URL: coordinatorRoleUrl, DATABASE_MIGRATIONS_URL: coordinatorDb.url });
    expect(migrated.code, migrated.stderr).toBe(0);
    expect((JSON.parse(migrated.stdout) as { applied: string[] }).applied).toContain('CoordinatorInitial1763800001000');
    expect(await createRights(coordinatorRoleUrl, COORDINATOR_TEST_ROLE.name)).toMatchObject({ database: false, schema: false, createTable: '42501' });

    // The topics exist (made by the first test's `topics apply`, or now if this test runs alone).
    expect((await retention(['topics', 'apply'], kafkaEnv)).code).toBe(0);
    const metricsPort = await freePort();
    const coordinator = await startReady('services/coordinator/src/main.ts', { ...coordinatorEnv(port), METRICS_PORT: String(metricsPort) }, port);
    try {
      await expectMetricsOnlyOn(metricsPort, port, ['retention_requests', 'retention_outbox_pending', 'retention_metrics_cache_age_seconds']);
      const response = await fetch(`http://127.0.0.1:${port}/v1/policies`, { headers: { authorization: 'Bearer cluster-ops-auditor-token-0123' } });
      expect(response.status).toBe(200);
    } finally {
      expect(await coordinator.stop()).toBe(0);
    }
  }, 300_000);
});
