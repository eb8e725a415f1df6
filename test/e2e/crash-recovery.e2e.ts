import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '@retention/config';
import { ServiceEnv, startRetentionService, type RunningRetentionService } from '@retention/consumer';
import { mlDataService } from '@retention/service-ml-data';
import { sessionsService } from '@retention/service-sessions';
import { createTestDatabase, createTestLogger, type TestDatabase, testStack, waitFor } from '@retention/testing';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform, TOKENS } from './support';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Crashes and scale-out against the real broker and database: a service killed with SIGKILL in
 * the middle of a sweep finishes it after a restart with exact counts, and two instances of a
 * service share the commands without doing any twice.
 */
describe('crash recovery and scale-out', () => {
  let platform: Platform;
  let db: TestDatabase;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    // ml-data is in-process only so the platform has a registered service from the start; the
    // sessions service under test runs as a child process that can be killed.
    platform = await startPlatform([mlDataService], { serviceEnv: { 'ml-data': { RETENTION_FILES_ROOT: '/tmp' } }, trustedServices: ['sessions'] });
    db = await createTestDatabase(testStack().databaseUrl, 'e2e_crash_sessions');
  });

  afterAll(async () => {
    if (child?.pid && child.exitCode === null) child.kill('SIGKILL');
    await platform?.stop();
    await db?.drop().catch(() => undefined);
  });

  /** Waits until the sessions group is stable with `members` members that all hold partitions. */
  async function waitForSessionsGroup(members: number): Promise<void> {
    const admin = new Kafka({ clientId: 'e2e-admin', brokers: testStack().kafkaBrokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      await waitFor(
        `${members} stable member(s) in the sessions group`,
        async () => {
          const { groups } = await admin.describeGroups([`${platform.prefix}retention.sessions`]);
          const group = groups[0];
          return group?.state === 'Stable' && group.members.length === members && group.members.every((m) => m.memberAssignment.length > 0) ? true : undefined;
        },
        { timeoutMs: 90_000 },
      );
    } finally {
      await admin.disconnect();
    }
  }

  // The child's last lines of stderr (warnings and errors) and when each phase of a test began:
  // what a failed wait needs to be understood from a CI log alone.
  let childLog: string[] = [];
  let phases: string[] = [];
  let testStart = Date.now();
  const phase = (name: string): void => void phases.push(`${name} at +${((Date.now() - testStart) / 1000).toFixed(1)} s`);

  async function explain(client: pg.Client, requestId: string | undefined, error: unknown): Promise<never> {
    const { body } = requestId ? await platform.api('GET', `/v1/sweeps/${requestId}`).catch(() => ({ body: undefined })) : { body: undefined };
    const { rows } = requestId
      ? await client.query(`SELECT status, started_at, deliveries FROM retention_inbox WHERE request_id = $1`, [requestId]).catch(() => ({ rows: [] }))
      : { rows: [] };
    const { rows: audit } = requestId
      ? await client
          .query(`SELECT count(*)::int AS batches, max(created_at) AS last FROM retention_audit WHERE request_id = $1`, [requestId])
          .catch(() => ({ rows: [] }))
      : { rows: [] };
    throw new Error(
      [
        String(error),
        `phases: ${phases.join(', ')}`,
        `sweep: ${JSON.stringify(body)}`,
        `inbox: ${JSON.stringify(rows)}`,
        `audit: ${JSON.stringify(audit)}`,
        `child exit code: ${child?.exitCode ?? 'running'}`,
        `child stderr (last lines): ${childLog.join('\n')}`,
      ].join('\n'),
    );
  }

  /** Resolves with the child's exit code, or explains why it did not exit within `timeoutMs`. */
  function childExit(client: pg.Client, requestId: string | undefined, timeoutMs: number): Promise<number | null> {
    const proc = child!;
    if (proc.exitCode !== null) return Promise.resolve(proc.exitCode);
    return new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the sessions child did not exit within ${timeoutMs} ms`)), timeoutMs);
      proc.once('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    }).catch((error) => explain(client, requestId, error));
  }

  function spawnSessions(): ChildProcess {
    const proc = spawn(process.execPath, ['--import', 'tsx', resolve(root, 'services/sessions/src/main.ts')], {
      cwd: root,
      env: {
        ...process.env,
        TSX_TSCONFIG_PATH: resolve(root, 'tsconfig.runtime.json'),
        KAFKA_BROKERS: testStack().kafkaBrokers.join(','),
        RETENTION_TOPIC_PREFIX: platform.prefix,
        DATABASE_URL: db.url,
        RETENTION_HASH_KEY: 'test-hash-key-0123456789',
        HTTP_PORT: '0',
        KAFKA_SESSION_TIMEOUT_MS: '8000',
        ...platform.keys.serviceEnv('sessions'),
        LOG_LEVEL: process.env.TEST_LOG ? 'debug' : 'warn',
      },
      stdio: ['ignore', process.env.TEST_LOG ? 'inherit' : 'ignore', 'pipe'],
    });
    childLog = [];
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (chunk: string) => {
      process.stderr.write(chunk);
      childLog.push(
        ...chunk
          .split('\n')
          .filter(Boolean)
          .map((l) => l.slice(0, 400)),
      );
      childLog = childLog.slice(-15);
    });
    phase(`sessions child ${proc.pid} started`);
    return proc;
  }

  it('a service killed with SIGKILL mid-sweep finishes after a restart with exact counts', async () => {
    child = spawnSessions();
    await waitFor('sessions to register', async () => {
      const { body } = await platform.api('GET', '/v1/policies');
      return body.services?.some((s: any) => s.service === 'sessions') ? true : undefined;
    });
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const expired = 300_000;
      await client.query(
        `INSERT INTO sessions (user_id, started_at) SELECT 'u' || (g % 1000), now() - interval '100 days' - make_interval(secs => g) FROM generate_series(1, $1) g`,
        [expired],
      );
      await client.query(`INSERT INTO sessions (user_id, started_at) SELECT 'u' || g, now() - interval '1 day' FROM generate_series(1, 1000) g`);

      const sweep = await platform.api('POST', '/v1/sweeps', { body: { service: 'sessions' } });
      expect(sweep.status).toBe(202);
      // Kill it once a few batches have committed, and before it could have finished.
      await waitFor(
        'a few batches',
        async () => {
          const { rows } = await client.query(`SELECT count(*)::int AS n FROM retention_audit WHERE request_id = $1`, [sweep.body.id]);
          return rows[0].n >= 3 ? true : undefined;
        },
        { intervalMs: 20 },
      );
      child.kill('SIGKILL');
      await new Promise((r) => child!.once('exit', r));
      const { rows: mid } = await client.query(`SELECT count(*)::int AS n FROM sessions WHERE started_at < now() - interval '90 days'`);
      expect(mid[0].n).toBeGreaterThan(0);
      expect(mid[0].n).toBeLessThan(expired);

      child = spawnSessions();
      const done = await waitFor(
        'sweep to complete after restart',
        async () => {
          const { body } = await platform.api('GET', `/v1/sweeps/${sweep.body.id}`);
          return body.status === 'completed' ? body : undefined;
        },
        { timeoutMs: 120_000 },
      );
      expect(done.targets).toEqual([
        expect.objectContaining({
          service: 'sessions',
          status: 'completed',
          tables: [expect.objectContaining({ policy: 'session_logs', matched: expired, deleted: expired, held: 0 })],
        }),
      ]);
      const { rows: left } = await client.query(
        `SELECT count(*) FILTER (WHERE started_at < now() - interval '90 days')::int AS expired, count(*)::int AS total FROM sessions`,
      );
      expect(left[0]).toEqual({ expired: 0, total: 1000 });
      const { rows: audit } = await client.query(`SELECT sum(deleted)::int AS deleted FROM retention_audit WHERE request_id = $1`, [sweep.body.id]);
      expect(audit[0].deleted).toBe(expired);
    } finally {
      child?.kill('SIGTERM');
      await new Promise((r) => (child?.exitCode !== null ? r(undefined) : child.once('exit', r)));
      await client.end();
    }
  });

  it('on SIGTERM a service stops after a committed batch and exits; the sweep resumes after restart', async () => {
    testStart = Date.now();
    phases = [];
    child = spawnSessions();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      // The table is there from the first test: wait for this process to hold the partitions, so
      // that the sweep below is its work and not a leftover member's.
      await waitForSessionsGroup(1).catch((error) => explain(client, undefined, error));
      phase('group stable');
      const expired = 200_000;
      await client.query(`INSERT INTO sessions (user_id, started_at) SELECT 'v' || (g % 500), now() - interval '95 days' FROM generate_series(1, $1) g`, [
        expired,
      ]);
      phase('rows inserted');
      const sweep = await platform.api('POST', '/v1/sweeps', { body: { service: 'sessions' } });
      expect(sweep.status).toBe(202);
      phase('sweep accepted');
      await waitFor(
        'a few batches',
        async () => {
          const { rows } = await client.query(`SELECT count(*)::int AS n FROM retention_audit WHERE request_id = $1`, [sweep.body.id]);
          return rows[0].n >= 2 ? true : undefined;
        },
        { intervalMs: 20, timeoutMs: 90_000 },
      ).catch((error) => explain(client, sweep.body.id, error));
      phase('batches committed');
      const stoppedAt = Date.now();
      child.kill('SIGTERM');
      const code = await childExit(client, sweep.body.id, 30_000);
      phase('child exited');
      expect(code).toBe(0);
      expect(Date.now() - stoppedAt).toBeLessThan(15_000);
      const { rows: inbox } = await client.query(`SELECT status FROM retention_inbox WHERE request_id = $1`, [sweep.body.id]);
      expect(inbox).toEqual([{ status: 'running' }]);

      child = spawnSessions();
      const done = await waitFor(
        'sweep to complete after restart',
        async () => {
          const { body } = await platform.api('GET', `/v1/sweeps/${sweep.body.id}`);
          return body.status === 'completed' ? body : undefined;
        },
        { timeoutMs: 120_000 },
      ).catch((error) => explain(client, sweep.body.id, error));
      expect(done.targets[0].tables[0]).toMatchObject({ policy: 'session_logs', deleted: expired });
    } finally {
      child?.kill('SIGTERM');
      await childExit(client, undefined, 30_000).catch(() => child?.kill('SIGKILL'));
      await client.end();
    }
    // Every wait above is bounded and explains itself: this is their sum, not an expected duration.
  }, 420_000);

  it('two instances of a service share the commands, and none is applied twice', async () => {
    const base = loadConfig(ServiceEnv, {
      KAFKA_BROKERS: testStack().kafkaBrokers.join(','),
      RETENTION_TOPIC_PREFIX: platform.prefix,
      DATABASE_URL: db.url,
      RETENTION_HASH_KEY: 'test-hash-key-0123456789',
      HTTP_PORT: '0',
      KAFKA_SESSION_TIMEOUT_MS: '8000',
      ...platform.keys.serviceEnv('sessions'),
    });
    const instances: RunningRetentionService[] = [];
    try {
      for (const id of ['a', 'b']) {
        instances.push(await startRetentionService(sessionsService, { ...base, INSTANCE_ID: id }, { logger: createTestLogger(`sessions-${id}`).logger }));
      }
      const subjects = Array.from({ length: 40 }, (_, i) => `share-${i}`);
      await instances[0]!.dataSource.query(`INSERT INTO sessions (user_id, started_at) SELECT unnest($1::text[]), now()`, [subjects]);
      // Let the group settle with both members before the commands arrive.
      await waitForSessionsGroup(2);
      const ids: string[] = [];
      for (const subject of subjects)
        ids.push((await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: subject } } })).body.id);
      for (const id of ids) expect(await platform.waitForRequest(id)).toMatchObject({ status: 'completed' });

      const handled = await Promise.all(
        instances.map(async (i) => {
          const text = await i.registry.metrics();
          return [...text.matchAll(/retention_commands_total\{kind="erasure",outcome="(completed|duplicate)"[^}]*\} (\d+)/g)].reduce(
            (n, m) => n + Number(m[2]),
            0,
          );
        }),
      );
      expect(handled[0]).toBeGreaterThan(0);
      expect(handled[1]).toBeGreaterThan(0);
      const { 0: audit } = (await instances[0]!.dataSource.query(
        `SELECT count(*)::int AS batches, count(DISTINCT request_id)::int AS requests, sum(deleted)::int AS deleted FROM retention_audit WHERE request_id = ANY($1::uuid[])`,
        [ids],
      )) as Array<{ batches: number; requests: number; deleted: number }>;
      expect(audit).toEqual({ batches: 40, requests: 40, deleted: 40 });
    } finally {
      await Promise.all(instances.map((i) => i.stop()));
    }
  }, 240_000);
});
