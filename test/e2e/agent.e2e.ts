import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type AgentConfig, loadAgentConfig, type RunningAgent, startAgent } from '@retention/agent';
import { ConfigError } from '@retention/contracts';
import { createTestDatabase, createTestLogger, type TestDatabase, testStack, waitFor } from '@retention/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform, TOKENS } from './support';

const execFileAsync = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SERVICE = 'billing';

/** The application's tables, made with plain SQL: no entity, no migration of the SDK, no code. */
const SCHEMA_SQL = `
  CREATE TABLE customers (
    id bigserial PRIMARY KEY,
    email text NOT NULL,
    full_name varchar(100),
    created_at timestamptz NOT NULL,
    anonymized_at timestamptz
  );
  CREATE INDEX customers_email ON customers (email);
  CREATE TABLE page_views (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), user_id text NOT NULL, path text NOT NULL, viewed_at timestamptz NOT NULL);
  CREATE TABLE ledger_lines (customer_id bigint, amount numeric NOT NULL, booked_at timestamptz NOT NULL);
  CREATE VIEW recent_views AS SELECT * FROM page_views WHERE viewed_at > now() - interval '1 day';
`;

const POLICY_YAML = `
# What billing keeps, and for how long (served by retention-agent; billing has no retention code).
service: ${SERVICE}
version: "2026.12.1"
subjects:
  user:
    - { table: page_views, column: user_id }
    - { table: customers, column: email, action: anonymize }
rules:
  - name: page_view_logs
    table: page_views
    timestampColumn: viewed_at
    retention: { days: 30 }
    action: delete
    legalBasis: Legitimate interest (product analytics), 30 days
  - name: inactive_customers
    table: customers
    timestampColumn: created_at
    retention: { years: 3 }
    action: anonymize
    anonymize: { email: hash, full_name: "null" }
    markerColumn: anonymized_at
    legalBasis: Contract performance, then 3 years (limitation period)
`;

/** Matches the policy above except where the schema says otherwise: each problem must be named. */
const BAD_POLICY_YAML = `
service: ${SERVICE}
subjects:
  user:
    - { table: page_views, column: visitor }
    - { table: recent_views, column: user_id }
rules:
  - name: page_view_logs
    table: page_views
    timestampColumn: path
    retention: { days: 30 }
    action: delete
    legalBasis: Legitimate interest (product analytics)
  - name: ledger
    table: ledger_lines
    timestampColumn: booked_at
    retention: { years: 10 }
    action: delete
    legalBasis: Legal obligation (bookkeeping)
  - name: refunds
    table: refunds
    timestampColumn: created_at
    retention: { years: 10 }
    action: delete
    legalBasis: Legal obligation (bookkeeping)
`;

/**
 * retention-agent against the real broker and database: tables made with plain SQL and a YAML
 * policy file are served with no code in the service; it registers with its own key, erases and
 * sweeps through the coordinator, honours legal holds and dry runs, keeps its tables in a schema of
 * its own, and refuses a policy file that does not match the live schema, naming every problem.
 */
describe('retention-agent: retention without code', () => {
  let platform: Platform;
  let db: TestDatabase;
  let client: pg.Client;
  let agent: RunningAgent;
  let dir: string;
  let logs: string[];

  const configFor = (url: string, policyFile: string): AgentConfig =>
    loadAgentConfig({
      KAFKA_BROKERS: testStack().kafkaBrokers.join(','),
      RETENTION_TOPIC_PREFIX: platform.prefix,
      DATABASE_URL: url,
      RETENTION_HASH_KEY: 'test-hash-key-0123456789',
      HTTP_PORT: '0',
      ...platform.keys.serviceEnv(SERVICE),
      RETENTION_AGENT_POLICY_FILE: policyFile,
    });

  beforeAll(async () => {
    platform = await startPlatform([], { trustedServices: [SERVICE] });
    db = await createTestDatabase(testStack().databaseUrl, 'e2e_agent');
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query(SCHEMA_SQL);
    dir = await mkdtemp(join(tmpdir(), 'retention-agent-'));
    await writeFile(join(dir, 'retention.yaml'), POLICY_YAML);
    await writeFile(join(dir, 'bad.yaml'), BAD_POLICY_YAML);
    const { logger, lines } = createTestLogger(SERVICE);
    logs = lines;
    agent = await startAgent(configFor(db.url, join(dir, 'retention.yaml')), { logger });
  });

  afterAll(async () => {
    await agent?.stop();
    await client?.end();
    await platform?.stop();
    await db?.drop().catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function erase(id: string, dryRun = false): Promise<any> {
    const created = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id }, dryRun } });
    expect(created.status).toBe(202);
    return platform.waitForRequest(created.body.id);
  }

  async function sweep(body: { policy?: string; dryRun?: boolean }): Promise<any> {
    const created = await platform.api('POST', '/v1/sweeps', { body: { service: SERVICE, ...body } });
    expect(created.status).toBe(202);
    return waitFor('sweep to finish', async () => {
      const { body: s } = await platform.api('GET', `/v1/sweeps/${created.body.id}`);
      return ['completed', 'failed'].includes(s.status) ? s : undefined;
    });
  }

  const count = async (sql: string, params: unknown[] = []): Promise<number> => (await client.query(sql, params)).rows[0].n as number;

  it('registers with its own key, the policy file as manifest, and its tables in a schema of its own', async () => {
    const policies = await waitFor('the agent to register', async () => {
      const { body } = await platform.api('GET', '/v1/policies', { token: TOKENS.auditor });
      return body.services?.find((s: any) => s.service === SERVICE);
    });
    expect(policies).toMatchObject({
      service: SERVICE,
      version: '2026.12.1',
      subjects: [
        {
          type: 'user',
          tables: [
            { table: 'page_views', column: 'user_id', action: 'delete' },
            { table: 'customers', column: 'email', action: 'anonymize' },
          ],
        },
      ],
      policies: [
        expect.objectContaining({ name: 'page_view_logs', period: 'P30D', action: 'delete' }),
        expect.objectContaining({ name: 'inactive_customers', period: 'P3Y', action: 'anonymize' }),
      ],
    });
    const { body: registry } = await platform.api('GET', `/v1/services/${SERVICE}`, { token: TOKENS.auditor });
    // Accepted because its key is the one the coordinator's configuration names for billing.
    expect(registry).toMatchObject({ status: 'active', signingKeyId: platform.keys.service(SERVICE).keyId, approvedBy: 'configuration', version: '2026.12.1' });

    const tables = async (schema: string) =>
      (await client.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`, [schema])).rows.map((r) => r.table_name);
    expect(await tables('public')).toEqual(['customers', 'ledger_lines', 'page_views', 'recent_views']);
    expect(await tables('retention_agent')).toEqual(
      expect.arrayContaining(['retention_audit', 'retention_holds', 'retention_inbox', 'retention_outbox', 'retention_released_holds', 'typeorm_migrations']),
    );
  });

  it('prints index advice like the SDK, read from the live catalog', () => {
    const advice = logs.filter((l) => l.includes('retention needs an index this table lacks')).map((l) => JSON.parse(l));
    expect(advice.map((a) => a.for).sort()).toEqual(['rules.inactive_customers', 'rules.page_view_logs', 'subjects.user.page_views']);
    expect(advice.find((a) => a.for === 'subjects.user.page_views').ddl).toBe('CREATE INDEX "page_views_user_id" ON "page_views" ("user_id")');
  });

  it('erases a subject through the coordinator: a dry run changes nothing, then rows go or are anonymized', async () => {
    await client.query(
      `INSERT INTO customers (email, full_name, created_at) VALUES ('alice@example.com', 'Alice A', now() - interval '10 days'), ('bob@example.com', 'Bob B', now())`,
    );
    await client.query(
      `INSERT INTO page_views (user_id, path, viewed_at) VALUES ('alice@example.com', '/a', now()), ('alice@example.com', '/b', now() - interval '2 days'), ('bob@example.com', '/a', now())`,
    );

    const dry = await erase('alice@example.com', true);
    expect(dry).toMatchObject({ status: 'completed', dryRun: true });
    expect(dry.targets[0].tables).toEqual([
      { table: 'page_views', action: 'delete', matched: 2, deleted: 2, anonymized: 0, archived: 0, held: 0 },
      { table: 'customers', action: 'anonymize', matched: 1, deleted: 0, anonymized: 1, archived: 0, held: 0 },
    ]);
    expect(await count(`SELECT count(*)::int AS n FROM page_views WHERE user_id = 'alice@example.com'`)).toBe(2);
    expect(await count(`SELECT count(*)::int AS n FROM customers WHERE email = 'alice@example.com' AND full_name IS NOT NULL`)).toBe(1);

    const done = await erase('alice@example.com');
    expect(done).toMatchObject({ status: 'completed', dryRun: false });
    expect(done.targets[0].tables).toEqual(dry.targets[0].tables);
    expect(await count(`SELECT count(*)::int AS n FROM page_views WHERE user_id = 'alice@example.com'`)).toBe(0);
    expect(await count(`SELECT count(*)::int AS n FROM page_views`)).toBe(1);
    const { rows } = await client.query(`SELECT email, full_name, anonymized_at FROM customers ORDER BY id`);
    // The `hash` strategy: keyed SHA-256 of `<key>:<value>`, as the SDK writes it.
    const hashed = createHash('sha256').update('test-hash-key-0123456789:alice@example.com').digest('hex');
    expect(rows[0]).toEqual({ email: hashed, full_name: null, anonymized_at: expect.any(Date) });
    expect(rows[1]).toMatchObject({ email: 'bob@example.com', full_name: 'Bob B', anonymized_at: null });
    // The audit is in the agent's schema, one row per table and run.
    expect(await count(`SELECT count(*)::int AS n FROM retention_agent.retention_audit WHERE request_id = $1`, [done.id])).toBe(2);
  });

  it('honours a legal hold on a subject, and erases once it is released', async () => {
    const hold = await platform.api('POST', '/v1/legal-holds', {
      body: { scope: 'subject', subject: { type: 'user', id: 'bob@example.com' }, reason: 'litigation' },
    });
    expect(hold.status).toBe(201);
    // The hold reaches the agent's replica (its own schema) before the erasure is sent.
    await waitFor('the hold in the replica', async () =>
      (await count(`SELECT count(*)::int AS n FROM retention_agent.retention_holds WHERE hold_id = $1`, [hold.body.id])) === 1 ? true : undefined,
    );
    const held = await erase('bob@example.com');
    expect(held.status).toBe('held');
    expect(held.targets[0]).toMatchObject({ service: SERVICE, status: 'held', holdIds: [hold.body.id] });
    expect(await count(`SELECT count(*)::int AS n FROM page_views WHERE user_id = 'bob@example.com'`)).toBe(1);
    expect(await count(`SELECT count(*)::int AS n FROM customers WHERE email = 'bob@example.com'`)).toBe(1);

    expect((await platform.api('DELETE', `/v1/legal-holds/${hold.body.id}`)).body).toMatchObject({ active: false });
    const after = await platform.waitForRequest(held.id, ['completed']);
    expect(after.targets[0].tables[0]).toMatchObject({ table: 'page_views', deleted: 1 });
    expect(await count(`SELECT count(*)::int AS n FROM page_views WHERE user_id = 'bob@example.com'`)).toBe(0);
  });

  it('sweeps: a dry run changes nothing, a policy hold keeps rows, then only expired rows go', async () => {
    await client.query(`DELETE FROM page_views`);
    await client.query(
      `INSERT INTO page_views (user_id, path, viewed_at) SELECT 'u' || g, '/old', now() - interval '40 days' FROM generate_series(1, 25) g;
       INSERT INTO page_views (user_id, path, viewed_at) SELECT 'u' || g, '/new', now() - interval '5 days' FROM generate_series(1, 5) g;`,
    );
    const dry = await sweep({ policy: 'page_view_logs', dryRun: true });
    expect(dry).toMatchObject({ status: 'completed', dryRun: true });
    expect(dry.targets[0].tables[0]).toMatchObject({ policy: 'page_view_logs', matched: 25, deleted: 25, held: 0 });
    expect(await count(`SELECT count(*)::int AS n FROM page_views`)).toBe(30);

    const hold = await platform.api('POST', '/v1/legal-holds', { body: { scope: 'policy', policy: 'page_view_logs', reason: 'regulator inquiry' } });
    expect(hold.status).toBe(201);
    await waitFor('the policy hold in the replica', async () =>
      (await count(`SELECT count(*)::int AS n FROM retention_agent.retention_holds WHERE hold_id = $1`, [hold.body.id])) === 1 ? true : undefined,
    );
    const held = await sweep({ policy: 'page_view_logs' });
    expect(held.targets[0].tables[0]).toMatchObject({ policy: 'page_view_logs', deleted: 0, held: 25 });
    expect(held.targets[0].holdIds).toEqual([hold.body.id]);
    expect(await count(`SELECT count(*)::int AS n FROM page_views`)).toBe(30);
    await platform.api('DELETE', `/v1/legal-holds/${hold.body.id}`);
    await waitFor('the policy hold released in the replica', async () =>
      (await count(`SELECT count(*)::int AS n FROM retention_agent.retention_holds WHERE hold_id = $1`, [hold.body.id])) === 0 ? true : undefined,
    );

    const real = await sweep({ policy: 'page_view_logs' });
    expect(real).toMatchObject({ status: 'completed', dryRun: false });
    expect(real.targets[0].tables[0]).toMatchObject({ policy: 'page_view_logs', matched: 25, deleted: 25, held: 0 });
    expect(await count(`SELECT count(*)::int AS n FROM page_views`)).toBe(5);
    expect(await count(`SELECT count(*)::int AS n FROM page_views WHERE viewed_at < now() - interval '30 days'`)).toBe(0);

    const metrics = await agent.registry.metrics();
    expect(metrics).toMatch(/retention_commands_total\{kind="sweep",outcome="completed",service="billing"\} [3-9]/);
    expect(metrics).toMatch(/retention_oldest_unprocessed_days\{[^}]*policy="page_view_logs"[^}]*\} 0/);
    expect(metrics).toMatch(/retention_records_processed_total\{policy="page_view_logs",action="delete",service="billing"\} 25/);
  });

  it('refuses a policy file that does not match the live schema, naming each problem, and writes nothing', async () => {
    const fresh = await createTestDatabase(testStack().databaseUrl, 'e2e_agent_bad');
    const c = new pg.Client({ connectionString: fresh.url });
    await c.connect();
    try {
      await c.query(SCHEMA_SQL);
      const refused = await startAgent(configFor(fresh.url, join(dir, 'bad.yaml')), { logger: createTestLogger(SERVICE).logger }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(refused).toBeInstanceOf(ConfigError);
      const issues = (refused as ConfigError).issues;
      expect(issues).toEqual(
        expect.arrayContaining([
          { path: 'rules[0].timestampColumn', message: '"path" is text, not a date or timestamp' },
          { path: 'rules[1].table', message: expect.stringContaining('table "ledger_lines" has no primary key') },
          { path: 'rules[2].table', message: expect.stringContaining('unknown table "refunds"') },
          { path: 'subjects.user[0].column', message: 'table "page_views" has no column "visitor"' },
          { path: 'subjects.user[1].table', message: 'table "recent_views" is a view; retention applies to tables' },
        ]),
      );
      expect((refused as Error).message).toContain('do not match the schema "public"');
      const { rows } = await c.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'retention_agent'`);
      expect(rows[0].n).toBe(0);

      // A subject column of a type subject ids cannot match is refused too.
      await writeFile(join(dir, 'jsonb.yaml'), POLICY_YAML.replace('{ table: page_views, column: user_id }', '{ table: page_views, column: viewed_at }'));
      const wrongType = await startAgent(configFor(fresh.url, join(dir, 'jsonb.yaml')), { logger: createTestLogger(SERVICE).logger }).then(
        () => undefined,
        (e: unknown) => e as ConfigError,
      );
      expect(wrongType?.issues).toEqual([
        { path: 'subjects.user[0].column', message: expect.stringContaining('"viewed_at" of table "page_views" is timestamptz') },
      ]);
    } finally {
      await c.end();
      await fresh.drop().catch(() => undefined);
    }
  });

  it('runs under plain node from its bin: --check prints the advice, a bad policy exits 1 naming the problem, --migrate for DATABASE_MIGRATE=false', async () => {
    // The compiled agent, as a deployment runs it (npm run build; `npm test` builds first).
    await execFileAsync(process.execPath, [resolve(root, 'node_modules/typescript/bin/tsc'), '-b', 'services/agent/tsconfig.build.json'], { cwd: root });
    await execFileAsync(process.execPath, [resolve(root, 'scripts/esm-specifiers.mjs')], { cwd: root });
    const env = {
      PATH: process.env.PATH ?? '',
      KAFKA_BROKERS: testStack().kafkaBrokers.join(','),
      RETENTION_TOPIC_PREFIX: platform.prefix,
      DATABASE_URL: db.url,
      RETENTION_HASH_KEY: 'test-hash-key-0123456789',
      ...platform.keys.serviceEnv(SERVICE),
      LOG_LEVEL: 'warn',
    };
    const bin = resolve(root, 'services/agent/bin/retention-agent.mjs');
    const check = await execFileAsync(process.execPath, [bin, '--check'], { env: { ...env, RETENTION_AGENT_POLICY_FILE: join(dir, 'retention.yaml') } });
    const report = JSON.parse(check.stdout);
    expect(report).toMatchObject({ service: SERVICE, version: '2026.12.1', policies: ['page_view_logs', 'inactive_customers'] });
    expect(report.missingIndexes.map((m: { for: string }) => m.for).sort()).toEqual([
      'rules.inactive_customers',
      'rules.page_view_logs',
      'subjects.user.page_views',
    ]);

    const failure = await execFileAsync(process.execPath, [bin], { env: { ...env, RETENTION_AGENT_POLICY_FILE: join(dir, 'bad.yaml') } }).then(
      () => undefined,
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect(failure?.code).toBe(1);
    expect(`${failure?.stdout}${failure?.stderr}`).toContain('rules[0].timestampColumn: \\"path\\" is text, not a date or timestamp');

    // DATABASE_MIGRATE=false: the agent makes no DDL and stops naming what is pending; --migrate applies it.
    const fresh = await createTestDatabase(testStack().databaseUrl, 'e2e_agent_migrate');
    const c = new pg.Client({ connectionString: fresh.url });
    await c.connect();
    try {
      await c.query(SCHEMA_SQL);
      const migrateEnv = { ...env, DATABASE_URL: fresh.url, RETENTION_AGENT_POLICY_FILE: join(dir, 'retention.yaml') };
      const unmigrated = await execFileAsync(process.execPath, [bin], { env: { ...migrateEnv, DATABASE_MIGRATE: 'false' } }).then(
        () => undefined,
        (e: { code: number; stdout: string }) => e,
      );
      expect(unmigrated?.code).toBe(1);
      expect(unmigrated?.stdout).toContain('database migration(s) pending');
      const migrated = JSON.parse((await execFileAsync(process.execPath, [bin, '--migrate'], { env: migrateEnv })).stdout);
      expect(migrated.applied).toEqual(expect.arrayContaining(['CreateRetentionInbox1763800000200', 'CreateRetentionPolicyTables1763800000100']));
      const { rows } = await c.query(
        `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'retention_agent' AND table_name = 'retention_inbox'`,
      );
      expect(rows[0].n).toBe(1);
      expect(JSON.parse((await execFileAsync(process.execPath, [bin, '--migrate'], { env: migrateEnv })).stdout)).toEqual({ applied: [] });
    } finally {
      await c.end();
      await fresh.drop().catch(() => undefined);
    }

    const missing = await execFileAsync(process.execPath, [bin], { env: { PATH: env.PATH } }).then(
      () => undefined,
      (e: { code: number; stdout: string }) => e,
    );
    expect(missing?.code).toBe(1);
    expect(missing?.stdout).toContain('RETENTION_AGENT_POLICY_FILE');
    // A build (incremental after `npm run build`) and five node processes on a shared 2-core machine.
  }, 300_000);
});
