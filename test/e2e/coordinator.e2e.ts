import { createHmac } from 'node:crypto';
import { sessionsService } from '@retention/service-sessions';
import { type RunningCoordinator, startCoordinator, CoordinatorEnv } from '@retention/service-coordinator';
import { loadConfig } from '@retention/config';
import { createTestLogger, testStack, waitFor } from '@retention/testing';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishRegistration } from './registry-helpers';
import { type Platform, startPlatform, TOKENS } from './support';

const DAY = 86_400_000;

/**
 * The coordinator and its ledger against the real broker and database: the registry, complete
 * means complete (redelivery, overdue), scheduling, replicas, the API surface, and tamper evidence.
 * The coordinator runs on a clock the tests move.
 */
describe('coordinator and completion ledger', () => {
  let platform: Platform;
  let clock = new Date('2026-06-01T12:00:00.000Z');
  const now = () => new Date(clock);

  beforeAll(async () => {
    platform = await startPlatform([sessionsService], {
      now,
      coordinatorEnv: {
        RETRY_BASE_SECONDS: '1',
        MAINTENANCE_INTERVAL_MS: '600000',
        METRICS_REFRESH_SECONDS: '1',
        SWEEP_DEFAULT_SCHEDULE: '0 3 * * *',
        SWEEP_MISFIRE_GRACE_SECONDS: '120',
      },
      trustedServices: ['bridge'],
    });
  });

  afterAll(async () => {
    await platform?.stop();
  });

  const sessions = () => platform.services.get('sessions')!.dataSource;
  const ledger = async (requestId: string) =>
    (await platform.coordinator.dataSource.query(`SELECT entry_type, service, body FROM ledger_entries WHERE request_id = $1 ORDER BY seq`, [
      requestId,
    ])) as Array<{
      entry_type: string;
      service: string | null;
      body: any;
    }>;

  it("shows every registered service's policies with their legal basis", async () => {
    const { status, body } = await platform.api('GET', '/v1/policies', { token: TOKENS.auditor });
    expect(status).toBe(200);
    expect(body.services).toEqual([
      expect.objectContaining({
        service: 'sessions',
        subjects: [{ type: 'user', tables: [{ table: 'sessions', column: 'user_id', action: 'delete' }] }],
        policies: [
          expect.objectContaining({ name: 'session_logs', period: 'P90D', action: 'delete', legalBasis: expect.stringContaining('Legitimate interest') }),
        ],
        policyHash: expect.stringMatching(/^[0-9a-f]{32}$/),
      }),
    ]);
    expect((await platform.api('GET', '/v1/policies', { token: TOKENS.requester })).status).toBe(403);
  });

  it('does not pile redeliveries on a service that is behind, redelivers a lost command, flags the request overdue, and completes it only when the target acks', async () => {
    await platform.stopService('sessions');
    const created = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: 'vera' } } });
    expect(created.status).toBe(202);
    const id = created.body.id as string;

    // The command waits in the topic for the stopped service: it is not lost, so it is not re-sent.
    await waitFor('the command to be published', async () => {
      const [row] = (await platform.coordinator.dataSource.query(`SELECT count(*)::int AS n FROM retention_outbox`)) as Array<{ n: number }>;
      return row?.n === 0 ? true : undefined;
    });
    clock = new Date(clock.getTime() + 2000);
    expect(await platform.coordinator.maintain()).toBe(true);
    let view = (await platform.api('GET', `/v1/erasure-requests/${id}`)).body;
    expect(view).toMatchObject({ status: 'pending', targets: [{ service: 'sessions', status: 'pending', attempts: 1 }] });

    // Now it is lost (as if the topic's retention had dropped it): the group is moved past it.
    const admin = new Kafka({ clientId: 'e2e-admin', brokers: testStack().kafkaBrokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const topic = `${platform.prefix}data.retention`;
      const ends = await admin.fetchTopicOffsets(topic);
      await admin.setOffsets({
        groupId: `${platform.prefix}retention.sessions`,
        topic,
        partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })),
      });
    } finally {
      await admin.disconnect();
    }
    clock = new Date(clock.getTime() + 2000);
    await platform.coordinator.maintain();
    view = (await platform.api('GET', `/v1/erasure-requests/${id}`)).body;
    expect(view).toMatchObject({ status: 'pending', targets: [{ service: 'sessions', status: 'pending', attempts: 2 }] });

    clock = new Date(clock.getTime() + 31 * DAY);
    await platform.coordinator.maintain();
    view = (await platform.api('GET', `/v1/erasure-requests/${id}`)).body;
    expect(view).toMatchObject({ status: 'overdue', overdue: true });
    const overdueList = (await platform.api('GET', '/v1/erasure-requests?status=overdue', { token: TOKENS.auditor })).body;
    expect(overdueList.items.map((r: any) => r.id)).toContain(id);
    // Gauges from the database are refreshed on an interval (METRICS_REFRESH_SECONDS, 1 s here), not per scrape.
    try {
      await waitFor(
        'the request gauges to show the overdue request',
        async () => {
          const metrics = (await platform.api('GET', '/metrics', { token: null })).body as string;
          return /retention_requests\{kind="erasure",status="overdue",service="coordinator"\} 1\n/.test(metrics) &&
            /retention_pending_acks\{target="sessions",service="coordinator"\} 1\n/.test(metrics) &&
            Number(/retention_oldest_unacked_command_seconds\{target="sessions",service="coordinator"\} (\S+)\n/.exec(metrics)?.[1]) > 0
            ? true
            : undefined;
        },
        { timeoutMs: 15_000 },
      );
    } finally {
      // The tests after this one need the service whether or not the gauges showed.
      await platform.startService('sessions');
    }
    const done = await platform.waitForRequest(id);
    expect(done).toMatchObject({ status: 'completed', overdue: false, targets: [{ service: 'sessions', status: 'completed', attempts: 2 }] });
    const entries = (await ledger(id)).map((e) => e.entry_type);
    expect(entries).toEqual(['request.created', 'command.sent', 'command.sent', 'request.overdue', 'ack.received', 'request.completed']);
  });

  it('redelivers to a service not built on the SDK by the consumer group its registration names, and by backoff when the group is unknown', async () => {
    // A bridge (another language, another group naming) that never acks in this test.
    const group = `${platform.prefix}bridge-commands`;
    await publishRegistration(platform.prefix, 'bridge', platform.keys.service('bridge'), { consumerGroup: group });
    await waitFor('the bridge to be active', async () => ((await platform.api('GET', '/v1/services/bridge')).body.status === 'active' ? true : undefined));
    expect((await platform.api('GET', '/v1/services/bridge')).body.consumerGroup).toBe(group);
    const created = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: 'bea' } } });
    const id = created.body.id as string;
    expect(created.body.targets).toEqual(['bridge', 'sessions']);
    await waitFor('the command to be published', async () => {
      const [row] = (await platform.coordinator.dataSource.query(`SELECT count(*)::int AS n FROM retention_outbox`)) as Array<{ n: number }>;
      return row?.n === 0 ? true : undefined;
    });
    const attempts = async (): Promise<number> =>
      (await platform.api('GET', `/v1/erasure-requests/${id}`)).body.targets.find((t: { service: string }) => t.service === 'bridge').attempts;

    // Its group has never committed: whether it is behind is unknown, so the backoff decides.
    clock = new Date(clock.getTime() + 2000);
    await platform.coordinator.maintain();
    expect(await attempts()).toBe(2);

    // The group it named is behind (committed, but not to the end): its command is queued, not lost.
    const admin = new Kafka({ clientId: 'e2e-admin', brokers: testStack().kafkaBrokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const topic = `${platform.prefix}data.retention`;
    try {
      const ends = await admin.fetchTopicOffsets(topic);
      await admin.setOffsets({ groupId: group, topic, partitions: ends.map((p) => ({ partition: p.partition, offset: p.low })) });
      clock = new Date(clock.getTime() + 60_000);
      await platform.coordinator.maintain();
      expect(await attempts()).toBe(2);
      // Read to the end: the command was consumed and no ack came back, so it is sent again.
      const now = await admin.fetchTopicOffsets(topic);
      await admin.setOffsets({ groupId: group, topic, partitions: now.map((p) => ({ partition: p.partition, offset: p.high })) });
      clock = new Date(clock.getTime() + 60_000);
      await platform.coordinator.maintain();
      expect(await attempts()).toBe(3);
    } finally {
      await admin.disconnect();
    }
    // Retired: the request completes without it (sessions acked).
    expect((await platform.api('DELETE', '/v1/services/bridge', { body: { reason: 'test over' } })).status).toBe(200);
    expect((await platform.waitForRequest(id)).targets.find((t: { service: string }) => t.service === 'bridge').status).toBe('retired');
  });

  it('reports a target that failed, and completes the request when it is retried after the cause is fixed', async () => {
    // A failure that does not pass by itself: a trigger refuses to delete this user's sessions.
    await sessions().query(`INSERT INTO sessions (user_id, started_at) VALUES ('wilma', now())`);
    await sessions().query(
      `CREATE FUNCTION refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'legal department says no' USING ERRCODE = 'P0001'; END $$`,
    );
    await sessions().query(`CREATE TRIGGER refuse_delete BEFORE DELETE ON sessions FOR EACH ROW WHEN (OLD.user_id = 'wilma') EXECUTE FUNCTION refuse_delete()`);
    const created = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: 'wilma' } } });
    const failed = await platform.waitForRequest(created.body.id);
    expect(failed).toMatchObject({ status: 'failed', targets: [{ service: 'sessions', status: 'failed', error: { code: 'P0001', retriable: false } }] });
    expect(JSON.stringify(failed)).not.toContain('wilma');
    expect((await platform.api('POST', `/v1/erasure-requests/${created.body.id}/retry`, { token: TOKENS.requester })).status).toBe(403);

    await sessions().query(`DROP TRIGGER refuse_delete ON sessions`);
    const retry = await platform.api('POST', `/v1/erasure-requests/${created.body.id}/retry`);
    expect(retry).toMatchObject({ status: 202, body: { retried: ['sessions'] } });
    expect(await platform.waitForRequest(created.body.id)).toMatchObject({
      status: 'completed',
      targets: [{ status: 'completed', tables: [expect.objectContaining({ deleted: 1 })] }],
    });
    expect((await platform.api('POST', `/v1/erasure-requests/${created.body.id}/retry`)).status).toBe(409);
    const entries = (await ledger(created.body.id)).map((e) => e.entry_type);
    expect(entries).toEqual(expect.arrayContaining(['request.failed', 'target.retry', 'request.completed']));
  });

  it('schedules each policy on cron once per slot, within the misfire grace window', async () => {
    clock = new Date('2026-07-02T03:01:30.000Z');
    await platform.coordinator.maintain();
    await platform.coordinator.maintain();
    const sweeps = (await platform.api('GET', '/v1/sweeps?from=2026-07-02T00:00:00Z', { token: TOKENS.auditor })).body.items;
    expect(sweeps).toHaveLength(1);
    const sweep = await waitFor('scheduled sweep', async () => {
      const { body } = await platform.api('GET', `/v1/sweeps/${sweeps[0].id}`);
      return body.status === 'completed' ? body : undefined;
    });
    expect(sweep.targets).toEqual([
      expect.objectContaining({ service: 'sessions', status: 'completed', tables: [expect.objectContaining({ policy: 'session_logs' })] }),
    ]);

    clock = new Date('2026-07-02T03:10:00.000Z'); // past the grace window: the 03:00 slot is not run again
    await platform.coordinator.maintain();
    expect((await platform.api('GET', '/v1/sweeps?from=2026-07-02T00:00:00Z', { token: TOKENS.auditor })).body.items).toHaveLength(1);
  });

  it("pages lists and finds a subject's requests by its keyed hash", async () => {
    clock = new Date('2026-08-01T00:00:00.000Z');
    const ids: string[] = [];
    for (const subject of ['wes', 'xena', 'wes']) {
      clock = new Date(clock.getTime() + 1000);
      ids.push(
        (await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: subject }, dryRun: true } })).body
          .id,
      );
    }
    const page1 = (await platform.api('GET', '/v1/erasure-requests?from=2026-08-01T00:00:00Z&limit=2', { token: TOKENS.auditor })).body;
    expect(page1.items.map((r: any) => r.id)).toEqual([ids[2], ids[1]]);
    const page2 = (await platform.api('GET', `/v1/erasure-requests?from=2026-08-01T00:00:00Z&limit=2&cursor=${page1.nextCursor}`, { token: TOKENS.auditor }))
      .body;
    expect(page2).toEqual({ items: [expect.objectContaining({ id: ids[0] })], nextCursor: null });
    // A subject by the id in a POST body, or by its keyed hash in the URL; never by its id in a URL.
    const wes = (
      await platform.api('POST', '/v1/erasure-requests/search', {
        token: TOKENS.auditor,
        body: { subject: { type: 'user', id: 'wes' }, from: '2026-08-01T00:00:00Z' },
      })
    ).body;
    expect(wes.items.map((r: any) => r.id).sort()).toEqual([ids[0], ids[2]].sort());
    // The coordinator's RETENTION_SUBJECT_HMAC_KEY in support.ts (receipts and reports show this value).
    const wesRef = createHmac('sha256', 'test-hmac-key-0123456789').update('user\u0000wes').digest('hex');
    const byRef = (await platform.api('GET', `/v1/erasure-requests?subjectRef=${wesRef}&from=2026-08-01T00:00:00Z`, { token: TOKENS.auditor })).body;
    expect(byRef.items.map((r: any) => r.id).sort()).toEqual([ids[0], ids[2]].sort());
    const inUrl = await platform.api('GET', '/v1/erasure-requests?subjectType=user&subjectId=wes', { token: TOKENS.auditor });
    expect(inUrl.status).toBe(400);
    const bad = await platform.api('GET', '/v1/erasure-requests?limit=0&status=done', { token: TOKENS.auditor });
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues.map((i: any) => i.path).sort()).toEqual(['limit', 'status']);
  });

  it('reports every request of a window with a summary, as JSON and CSV', async () => {
    for (const id of (await platform.api('GET', '/v1/erasure-requests?from=2026-08-01T00:00:00Z', { token: TOKENS.auditor })).body.items.map(
      (r: any) => r.id,
    )) {
      await platform.waitForRequest(id);
    }
    const json = await platform.api('GET', '/v1/ledger/report?from=2026-08-01T00:00:00Z&to=2026-08-02T00:00:00Z', { token: TOKENS.auditor });
    expect(json.status).toBe(200);
    expect(json.body.summary).toEqual({
      total: 3,
      completed: 3,
      pending: 0,
      overdue: 0,
      failed: 0,
      held: 0,
      keptUnderHold: 0,
      dryRun: 3,
      scheduled: 0,
      cancelled: 0,
    });
    expect(json.body.requests[0]).toMatchObject({ kind: 'erasure', dryRun: true, subjectRef: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const csv = await platform.api('GET', '/v1/ledger/report?from=2026-08-01T00:00:00Z&to=2026-08-02T00:00:00Z&format=csv', { token: TOKENS.auditor });
    const lines = (csv.body as string).trim().split('\n');
    expect(lines[0]).toMatch(/^request_id,kind,status,dry_run,subject_type,subject_ref,/);
    expect(lines).toHaveLength(4);
    expect(csv.body).not.toContain('wes');
    const bad = await platform.api('GET', '/v1/ledger/report?from=2026-08-02T00:00:00Z&to=2026-08-01T00:00:00Z', { token: TOKENS.auditor });
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues[0].path).toBe('to');
  });

  it('runs as several replicas: one leader, requests through either complete', async () => {
    const { logger } = createTestLogger('coordinator-2');
    const first = platform.coordinator;
    const config = loadConfig(CoordinatorEnv, {
      KAFKA_BROKERS: platform.serviceConfigs.get('sessions')!.KAFKA_BROKERS.join(','),
      RETENTION_TOPIC_PREFIX: platform.prefix,
      DATABASE_URL: (first.dataSource.options as { url: string }).url,
      HTTP_PORT: '0',
      RETENTION_API_TOKENS: `requester:${TOKENS.requester}`,
      RETENTION_SUBJECT_HMAC_KEY: 'test-hmac-key-0123456789',
      MAINTENANCE_INTERVAL_MS: '600000',
      ...platform.keys.coordinatorEnv(),
    });
    let second: RunningCoordinator | undefined;
    try {
      second = await startCoordinator(config, { logger, now });
      expect(await first.maintain()).toBe(true);
      expect(await second.maintain()).toBe(false);
      const response = await fetch(`${second.url}/v1/erasure-requests`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKENS.requester}`, 'content-type': 'application/json' },
        body: JSON.stringify({ subject: { type: 'user', id: 'yara' } }),
      });
      expect(response.status).toBe(202);
      const { id } = (await response.json()) as { id: string };
      expect(await platform.waitForRequest(id)).toMatchObject({ status: 'completed' });
    } finally {
      await second?.stop();
    }
  });

  it('serves an OpenAPI document that matches the routes', async () => {
    const { body: doc } = await platform.api('GET', '/v1/openapi.json', { token: TOKENS.auditor });
    expect(doc.openapi).toBe('3.1.0');
    const operations = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => [m.toUpperCase(), path] as const),
    );
    expect(operations.length).toBeGreaterThanOrEqual(13);
    for (const [method, path] of operations) {
      const url = path.replace('{id}', '00000000-0000-4000-8000-000000000000');
      const { body } = await platform.api(method, url, { body: method === 'POST' ? {} : undefined });
      expect(JSON.stringify(body)).not.toContain('no route');
    }
    const unknown = await platform.api('GET', '/v1/nothing-here');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toContain('no route');
  });

  it('exposes retention_oldest_unprocessed_days per policy from the service', async () => {
    await sessions().query(`DELETE FROM sessions`);
    await sessions().query(`INSERT INTO sessions (user_id, started_at) VALUES ('zed', now() - interval '100 days'), ('zed', now() - interval '10 days')`);
    const text = await platform.services.get('sessions')!.registry.metrics();
    const value = Number(/retention_oldest_unprocessed_days\{policy="session_logs"[^}]*\} ([\d.]+)/.exec(text)?.[1]);
    expect(value).toBeGreaterThan(9.9);
    expect(value).toBeLessThan(10.1);
    await sessions().query(`DELETE FROM sessions WHERE started_at < now() - interval '90 days'`);
    const after = await platform.services.get('sessions')!.registry.metrics();
    expect(after).toMatch(/retention_oldest_unprocessed_days\{policy="session_logs"[^}]*\} 0/);
  });

  it('detects an altered ledger and names the first broken entry', async () => {
    const ok = await platform.api('GET', '/v1/ledger/verify', { token: TOKENS.auditor });
    expect(ok.body).toMatchObject({ ok: true });
    expect(ok.body.entries).toBeGreaterThan(10);
    const db = platform.coordinator.dataSource;
    // The coordinator's own role cannot (test/e2e/ledger-proof.e2e.ts tries every way); a superuser can.
    await expect(db.query(`UPDATE ledger_entries SET body = '{}' WHERE seq = 5`)).rejects.toThrow(/permission denied/);
    const url = new URL(testStack().superuserUrl);
    url.pathname = new URL((db.options as { url: string }).url).pathname;
    const superuser = new pg.Client({ connectionString: url.toString() });
    await superuser.connect();
    try {
      await superuser.query('BEGIN');
      await superuser.query('SET LOCAL session_replication_role = replica');
      await superuser.query(`UPDATE ledger_entries SET body = jsonb_set(body, '{targets}', '[]') WHERE seq = 5`);
      await superuser.query('COMMIT');
    } finally {
      await superuser.end();
    }
    const broken = await platform.api('GET', '/v1/ledger/verify?full=true', { token: TOKENS.auditor });
    expect(broken.body).toMatchObject({
      ok: false,
      problems: [{ kind: 'changed', seq: 5, message: "entry 5's content does not match its hash" }],
      firstBrokenEntry: { seq: 5, reason: "entry 5's content does not match its hash" },
    });
  });
});
