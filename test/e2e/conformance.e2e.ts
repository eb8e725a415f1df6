import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAgentConfig, type RunningAgent, startAgent } from '@retention/agent';
import { loadConfig } from '@retention/config';
import { main, runConformance } from '@retention/conformance';
import { type RunningRetentionService, ServiceEnv, startRetentionService } from '@retention/consumer';
import { parseKek } from '@retention/contracts';
import { sessionsService } from '@retention/service-sessions';
import { createTestDatabase, createTestKeys, createTestLogger, type TestDatabase, testStack, uniqueTopicPrefix } from '@retention/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrokenResponder } from './conformance-broken-responder';

/**
 * The conformance kit against the real broker: an SDK service (sessions) passes every scenario,
 * run through the `retention-conformance` command line, and so does retention-agent serving
 * tables made with plain SQL; a deliberately wrong implementation (acks
 * without applying, verifies nothing, knows no holds, dead-letters nothing) fails the scenarios it
 * gets wrong, each with the reason.
 */
describe('retention-conformance', () => {
  // No coordinator: the kit plays it, with its key, as it would against a deployment under test.
  const prefix = uniqueTopicPrefix();
  const keys = createTestKeys(['sessions']);
  const brokers = testStack().kafkaBrokers;
  let service: RunningRetentionService;
  let db: TestDatabase;
  let dir: string;

  beforeAll(async () => {
    db = await createTestDatabase(testStack().databaseUrl, 'e2e_conformance');
    const config = loadConfig(ServiceEnv, {
      KAFKA_BROKERS: brokers.join(','),
      RETENTION_TOPIC_PREFIX: prefix,
      DATABASE_URL: db.url,
      RETENTION_HASH_KEY: 'test-hash-key-0123456789',
      HTTP_PORT: '0',
      ...keys.serviceEnv('sessions'),
    });
    service = await startRetentionService(sessionsService, config, { logger: createTestLogger('sessions').logger });
    dir = mkdtempSync(join(tmpdir(), 'conformance-'));
  });

  afterAll(async () => {
    await service?.stop();
    await db?.drop().catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const sessions = () => service.dataSource;
  const countRows = async (userId: string): Promise<number> =>
    ((await sessions().query(`SELECT count(*)::int AS n FROM sessions WHERE user_id = $1`, [userId])) as Array<{ n: number }>)[0]!.n;

  it('an SDK service conforms: every scenario passes, exit code 0', async () => {
    await sessions().query(
      `INSERT INTO sessions (user_id, started_at) SELECT u, now() - make_interval(days => g) FROM unnest(ARRAY['conf-a', 'conf-b']) u, generate_series(1, 3) g`,
    );
    writeFileSync(join(dir, 'coordinator.pem'), keys.coordinator.privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    writeFileSync(join(dir, 'kek'), keys.commandKek, { mode: 0o600 });
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(
      [
        'node',
        'retention-conformance',
        '--service',
        'sessions',
        '--subject-type',
        'user',
        '--subject',
        'conf-a',
        '--subject',
        'conf-b',
        '--topic-prefix',
        prefix,
        '--coordinator-key-file',
        join(dir, 'coordinator.pem'),
        '--coordinator-key-id',
        keys.coordinator.keyId,
        '--command-kek-file',
        join(dir, 'kek'),
        '--timeout',
        '60',
        '--json',
      ],
      { out: (t) => out.push(t), err: (t) => err.push(t), env: { KAFKA_BROKERS: brokers.join(',') } },
    );
    const report = JSON.parse(out.join('\n')) as { ok: boolean; results: Array<{ name: string; ok: boolean; detail: string }> };
    expect(report.results.filter((r) => !r.ok)).toEqual([]);
    expect(report.results.map((r) => r.name)).toEqual([
      'registration',
      'dry-run',
      'duplicate-command',
      'unknown-version',
      'malformed-message',
      'forged-and-stale',
      'legal-hold',
    ]);
    expect(code).toBe(0);
    // What the kit saw in the acks is what happened in the database: both subjects erased, the second only after its hold was released.
    expect(await countRows('conf-a')).toBe(0);
    expect(await countRows('conf-b')).toBe(0);
    expect(report.results.find((r) => r.name === 'legal-hold')!.detail).toMatch(/held with 3 row\(s\) kept and none changed/);
  });

  it('the retention agent conforms: every scenario passes on tables made with plain SQL', async () => {
    const agentDb = await createTestDatabase(testStack().databaseUrl, 'e2e_conformance_agent');
    const client = new pg.Client({ connectionString: agentDb.url });
    await client.connect();
    let agent: RunningAgent | undefined;
    try {
      await client.query(`
        CREATE TABLE page_views (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), user_id text NOT NULL, path text NOT NULL, viewed_at timestamptz NOT NULL);
        CREATE INDEX page_views_viewed_at ON page_views (viewed_at);
        INSERT INTO page_views (user_id, path, viewed_at)
          SELECT u, '/home', now() - make_interval(days => g) FROM unnest(ARRAY['agent-a', 'agent-b']) u, generate_series(1, 3) g;
      `);
      writeFileSync(
        join(dir, 'pageviews.yaml'),
        [
          'service: pageviews',
          'subjects:',
          '  user:',
          '    - { table: page_views, column: user_id }',
          'rules:',
          '  - name: page_view_logs',
          '    table: page_views',
          '    timestampColumn: viewed_at',
          '    retention: { days: 30 }',
          '    action: delete',
          '    legalBasis: Legitimate interest (product analytics), 30 days',
        ].join('\n'),
      );
      agent = await startAgent(
        loadAgentConfig({
          KAFKA_BROKERS: brokers.join(','),
          RETENTION_TOPIC_PREFIX: prefix,
          DATABASE_URL: agentDb.url,
          RETENTION_HASH_KEY: 'test-hash-key-0123456789',
          HTTP_PORT: '0',
          ...keys.serviceEnv('pageviews'),
          RETENTION_AGENT_POLICY_FILE: join(dir, 'pageviews.yaml'),
        }),
        { logger: createTestLogger('pageviews').logger },
      );
      const report = await runConformance({
        brokers,
        topicPrefix: prefix,
        service: 'pageviews',
        coordinatorKey: keys.coordinator,
        commandKek: parseKek(keys.commandKek),
        subjectType: 'user',
        subjects: ['agent-a', 'agent-b'],
        timeoutMs: 60_000,
      });
      expect(report.results.filter((r) => !r.ok)).toEqual([]);
      expect(report.results).toHaveLength(7);
      const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM page_views WHERE user_id IN ('agent-a', 'agent-b')`);
      expect(rows[0]!.n).toBe(0);
    } finally {
      await agent?.stop();
      await client.end();
      await agentDb.drop().catch(() => undefined);
    }
  });

  it('a wrong implementation fails the scenarios it gets wrong, each with the reason', async () => {
    const broken = await startBrokenResponder(prefix, 'broken');
    try {
      const report = await runConformance({
        brokers,
        topicPrefix: prefix,
        service: 'broken',
        coordinatorKey: keys.coordinator,
        commandKek: parseKek(keys.commandKek),
        subjectType: 'user',
        subjects: ['broken-a', 'broken-b'],
        timeoutMs: 10_000,
      });
      const byName = Object.fromEntries(report.results.map((r) => [r.name, r]));
      expect(report.ok).toBe(false);
      // What it does right passes: it registers, and its acks are well-formed and signed.
      expect(byName.registration).toMatchObject({ ok: true });
      expect(byName['dry-run']).toMatchObject({ ok: true });
      expect(byName['duplicate-command']).toMatchObject({
        ok: false,
        detail: expect.stringMatching(/still matches 1 row\(s\): the erasure was acked but not applied/),
      });
      expect(byName['unknown-version']).toMatchObject({
        ok: false,
        detail: expect.stringMatching(/expected 2 dead letter\(s\) by "broken" with reasons unsupported_version.*found none/),
      });
      expect(byName['malformed-message']).toMatchObject({ ok: false, detail: expect.stringMatching(/validation_failed.*found none/) });
      expect(byName['forged-and-stale']).toMatchObject({ ok: false, detail: expect.stringMatching(/signature_missing.*found none/) });
      expect(byName['legal-hold']).toMatchObject({ ok: false, detail: expect.stringMatching(/acked completed, expected held/) });
    } finally {
      await broken.stop();
    }
  });
});
