import { randomUUID } from 'node:crypto';
import { type AddressInfo, createServer } from 'node:net';
import { type RunningCoordinator, CoordinatorEnv, startCoordinator } from '@retention/service-coordinator';
import { main as cli } from '@retention/cli';
import { loadConfig } from '@retention/config';
import { EventTypes } from '@retention/contracts';
import { sessionsService } from '@retention/service-sessions';
import { createTestLogger, testStack, waitFor } from '@retention/testing';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform, TOKENS } from './support';

/** A second requester: it may not cancel the first one's requests. */
const OTHER_REQUESTER = 'requester-two-token-0123456789abcdef';

/**
 * Grace period and cancel on the real broker and databases: an erasure waits `scheduled` (nothing
 * on the command topic) until its grace period ends; cancelled meanwhile, nothing is ever sent and
 * the ledger says so; due, the leader sends it once (across a restart and two replicas) and it
 * completes. The coordinator runs on a clock the test moves; its maintenance runs when the test says.
 */
describe('erasure grace period and cancel', () => {
  let platform: Platform;
  let clock = new Date('2026-07-01T09:00:00.000Z');
  const now = () => new Date(clock);
  const extra: RunningCoordinator[] = [];

  beforeAll(async () => {
    platform = await startPlatform([sessionsService], {
      now,
      coordinatorEnv: {
        RETENTION_ERASURE_GRACE_SECONDS: '3600',
        RETENTION_ERASURE_MAX_GRACE_SECONDS: '86400',
        MAINTENANCE_INTERVAL_MS: '600000',
        // The gauges are computed from the database on this interval.
        METRICS_REFRESH_SECONDS: '1',
        RETENTION_API_TOKENS: [...Object.entries(TOKENS).map(([role, token]) => `${role}:${token}`), `requester:${OTHER_REQUESTER}`].join(','),
      },
    });
  });

  afterAll(async () => {
    for (const c of extra) await c.stop().catch(() => undefined);
    await platform?.stop();
  });

  const sessions = () => platform.services.get('sessions')!.dataSource;
  const rowsOf = async (user: string): Promise<number> =>
    ((await sessions().query(`SELECT count(*)::int AS n FROM sessions WHERE user_id = $1`, [user])) as Array<{ n: number }>)[0]!.n;
  const seed = (user: string) => sessions().query(`INSERT INTO sessions (user_id, started_at) VALUES ($1, now()), ($1, now() - interval '1 day')`, [user]);
  const ledger = async (id: string) =>
    (await platform.coordinator.dataSource.query(`SELECT entry_type, body FROM ledger_entries WHERE request_id = $1 ORDER BY seq`, [id])) as Array<{
      entry_type: string;
      body: Record<string, unknown>;
    }>;
  const erase = async (user: string, extraBody: Record<string, unknown> = {}) => {
    const created = await platform.api('POST', '/v1/erasure-requests', {
      token: TOKENS.requester,
      body: { subject: { type: 'user', id: user }, ...extraBody },
    });
    expect(created.status).toBe(202);
    return created.body as { id: string; status: string; notBefore: string | null };
  };
  const advance = (seconds: number) => {
    clock = new Date(clock.getTime() + seconds * 1000);
  };
  /**
   * Every erasure command on the command topic, read from its beginning until as many as the ledger
   * says were sent have arrived, and 2 s more (a duplicate would show then). Other messages share
   * the topic (sweeps, deletion probes): only erasure commands count here.
   */
  const erasureCommandsOnTopic = async (): Promise<string[]> => {
    const [{ n }] = (await platform.coordinator.dataSource.query(
      `SELECT count(*)::int AS n FROM ledger_entries e JOIN retention_requests r ON r.id = e.request_id WHERE e.entry_type = 'command.sent' AND r.kind = 'erasure'`,
    )) as [{ n: number }];
    const consumer = new Kafka({ clientId: 'e2e-grace', brokers: testStack().kafkaBrokers, logLevel: logLevel.NOTHING }).consumer({
      groupId: `e2e-grace-${randomUUID()}`,
    });
    const found: string[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: `${platform.prefix}data.retention`, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          const value = message.value?.toString() ?? '';
          if ((JSON.parse(value) as { type?: string }).type === EventTypes.erasureRequested) found.push(value);
        },
      });
      await waitFor(`${n} erasure commands on the topic`, async () => (found.length >= n ? true : undefined));
      await new Promise((resolve) => setTimeout(resolve, 2000));
      return found;
    } finally {
      await consumer.disconnect();
    }
  };

  let cancelledId = '';
  let downErr = '';

  it('waits in its grace period as scheduled, with nothing sent, and the requester cancels it', async () => {
    await seed('gina');
    const created = await erase('gina');
    expect(created).toMatchObject({ status: 'scheduled', notBefore: new Date(clock.getTime() + 3_600_000).toISOString() });
    cancelledId = created.id;

    const view = (await platform.api('GET', `/v1/erasure-requests/${created.id}`, { token: TOKENS.requester })).body;
    expect(view).toMatchObject({
      status: 'scheduled',
      cancelledAt: null,
      targets: [{ service: 'sessions', status: 'scheduled', attempts: 0, lastSentAt: null }],
    });
    const listed = (await platform.api('GET', '/v1/erasure-requests?status=scheduled', { token: TOKENS.auditor })).body;
    expect(listed.items.map((i: { id: string }) => i.id)).toEqual([created.id]);
    const metrics = await waitFor('the scheduled erasure in the metrics', async () => {
      const text = (await platform.api('GET', '/metrics', { token: null })).body as string;
      return /retention_requests\{kind="erasure",status="scheduled"[^}]*\} 1/.test(text) ? text : undefined;
    });
    // Not waiting for an ack: no target counts as pending.
    expect(metrics).toMatch(/retention_pending_acks\{target="sessions"[^}]*\} 0/);

    // Before its time the leader sends nothing.
    advance(60);
    expect(await platform.coordinator.maintain()).toBe(true);
    expect((await platform.api('GET', `/v1/erasure-requests/${created.id}`)).body.status).toBe('scheduled');

    // Another requester may not cancel it, an auditor neither; the one who made it may.
    const other = await platform.api('POST', `/v1/erasure-requests/${created.id}/cancel`, { token: OTHER_REQUESTER });
    expect(other.status).toBe(403);
    expect((await platform.api('POST', `/v1/erasure-requests/${created.id}/cancel`, { token: TOKENS.auditor })).status).toBe(403);
    const cancelled = await platform.api('POST', `/v1/erasure-requests/${created.id}/cancel`, { token: TOKENS.requester });
    expect(cancelled).toMatchObject({ status: 200, body: { id: created.id, status: 'cancelled', cancelledAt: clock.toISOString() } });
    const again = await platform.api('POST', `/v1/erasure-requests/${created.id}/cancel`, { token: TOKENS.requester });
    expect(again.status).toBe(409);
    expect(again.body.error.message).toContain('already cancelled');

    // Its time comes and goes: still nothing is sent, the rows stay, the raw id is forgotten.
    advance(7200);
    expect(await platform.coordinator.maintain()).toBe(true);
    const after = (await platform.api('GET', `/v1/erasure-requests/${created.id}`)).body;
    expect(after).toMatchObject({ status: 'cancelled', targets: [{ status: 'cancelled', attempts: 0, lastSentAt: null }] });
    expect(await rowsOf('gina')).toBe(2);
    const [row] = (await platform.coordinator.dataSource.query(`SELECT subject_id, cancelled_by FROM retention_requests WHERE id = $1`, [
      created.id,
    ])) as Array<{
      subject_id: string | null;
      cancelled_by: string;
    }>;
    expect(row).toMatchObject({ subject_id: null, cancelled_by: expect.stringMatching(/^requester:/) });
    const entries = await ledger(created.id);
    expect(entries.map((e) => e.entry_type)).toEqual(['request.created', 'request.cancelled']);
    expect(entries[0]!.body).toMatchObject({ notBefore: created.notBefore });
    expect(entries[1]!.body).toMatchObject({ by: expect.stringMatching(/^requester:/), notBefore: created.notBefore });
    expect(JSON.stringify(entries)).not.toContain('gina');
    expect((await platform.api('GET', '/v1/erasure-requests?status=cancelled', { token: TOKENS.auditor })).body.items).toHaveLength(1);
  });

  it('is sent when its notBefore comes, completes, and can no longer be cancelled', async () => {
    await seed('hank');
    const notBefore = new Date(clock.getTime() + 120_000).toISOString();
    const created = await erase('hank', { notBefore });
    expect(created).toMatchObject({ status: 'scheduled', notBefore });
    advance(60);
    await platform.coordinator.maintain();
    expect((await platform.api('GET', `/v1/erasure-requests/${created.id}`)).body.status).toBe('scheduled');
    expect(await rowsOf('hank')).toBe(2);

    advance(61);
    expect(await platform.coordinator.maintain()).toBe(true);
    const done = await platform.waitForRequest(created.id);
    expect(done).toMatchObject({ status: 'completed', notBefore, targets: [{ service: 'sessions', status: 'completed', attempts: 1 }] });
    expect(await rowsOf('hank')).toBe(0);
    expect((await ledger(created.id)).map((e) => e.entry_type)).toEqual([
      'request.created',
      'request.released',
      'command.sent',
      'ack.received',
      'request.completed',
    ]);
    const late = await platform.api('POST', `/v1/erasure-requests/${created.id}/cancel`, { token: TOKENS.requester });
    expect(late.status).toBe(409);
    expect(late.body.error.message).toContain('already sent');
  });

  it('refuses a notBefore beyond the maximum grace, and one in the past sends at once', async () => {
    const far = await platform.api('POST', '/v1/erasure-requests', {
      token: TOKENS.requester,
      body: { subject: { type: 'user', id: 'ivan' }, notBefore: new Date(clock.getTime() + 2 * 86_400_000).toISOString() },
    });
    expect(far.status).toBe(400);
    expect(far.body.error.issues[0]).toMatchObject({ path: 'notBefore', message: expect.stringContaining('RETENTION_ERASURE_MAX_GRACE_SECONDS') });
    const bad = await platform.api('POST', '/v1/erasure-requests', {
      token: TOKENS.requester,
      body: { subject: { type: 'user', id: 'ivan' }, notBefore: 'soon' },
    });
    expect(bad.status).toBe(400);
    await seed('ivan');
    const now1 = await erase('ivan', { notBefore: new Date(clock.getTime() - 1000).toISOString() });
    expect(now1.status).toBe('pending');
    expect(await platform.waitForRequest(now1.id)).toMatchObject({ status: 'completed', notBefore: null });
  });

  it('a cancel racing the release: exactly one of them happens, for each request', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await erase(`race-${i}`, { notBefore: new Date(clock.getTime() + 30_000).toISOString() })).id);
    advance(31);
    // The leader's release and every cancel at once: each request is locked by one of them first.
    const [, ...cancels] = await Promise.all([
      platform.coordinator.maintain(),
      ...ids.map((id) => platform.api('POST', `/v1/erasure-requests/${id}/cancel`, { token: TOKENS.requester })),
    ]);
    for (const [i, id] of ids.entries()) {
      const types = (await ledger(id)).map((e) => e.entry_type);
      if (cancels[i]!.status === 200) {
        expect(types).toEqual(['request.created', 'request.cancelled']);
      } else {
        expect(cancels[i]!.status).toBe(409);
        expect(types.slice(0, 3)).toEqual(['request.created', 'request.released', 'command.sent']);
        expect(types).not.toContain('request.cancelled');
      }
    }
  });

  it('works from the command line: erase --not-before, status, cancel, report without a window', async () => {
    const run = async (token: string, ...args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await cli(['node', 'retention', ...args], {
        out: (t) => out.push(t),
        err: (t) => err.push(t),
        env: { RETENTION_API_URL: platform.coordinator.url, RETENTION_API_TOKEN: token },
        sleep: async () => {},
      });
      return { code, out: out.join('\n'), err: err.join('\n') };
    };
    await seed('kira');
    const notBefore = new Date(clock.getTime() + 600_000).toISOString();
    const erased = await run(TOKENS.requester, 'erase', 'user', 'kira', '--not-before', notBefore, '--json');
    expect(erased.code, erased.err).toBe(0);
    const { id, status } = JSON.parse(erased.out) as { id: string; status: string };
    expect(status).toBe('scheduled');
    // The default output is a table a person reads.
    const shown = await run(TOKENS.requester, 'status', id);
    expect(shown.out).toMatch(/│ status\s+│ scheduled/);
    expect(shown.out).toMatch(/│ sessions\s+│ scheduled\s+│ 0/);
    const cancelled = await run(TOKENS.requester, 'cancel', id);
    expect(cancelled.code, cancelled.err).toBe(0);
    expect(cancelled.out).toMatch(/│ status\s+│ cancelled/);
    const again = await run(TOKENS.requester, 'cancel', id);
    expect(again.code).toBe(1);
    expect(again.err).toContain('409 conflict');
    expect(await rowsOf('kira')).toBe(2);

    // The report without --from/--to: the last 30 days up to the coordinator's now (`to` excluded).
    advance(1);
    const report = await run(TOKENS.auditor, 'report', '--json');
    expect(report.code, report.err).toBe(0);
    const body = JSON.parse(report.out) as { from: string; to: string; summary: { scheduled: number; cancelled: number }; requests: Array<{ id: string }> };
    expect(body.to).toBe(clock.toISOString());
    expect(new Date(body.to).getTime() - new Date(body.from).getTime()).toBe(30 * 86_400_000);
    expect(body.requests.map((r) => r.id)).toContain(id);
    const cancelledSoFar = (await platform.api('GET', '/v1/erasure-requests?status=cancelled&limit=500', { token: TOKENS.auditor })).body.items.length;
    expect(body.summary.cancelled).toBe(cancelledSoFar);
    expect(cancelledSoFar).toBeGreaterThanOrEqual(2);
    const api = await platform.api('GET', '/v1/ledger/report', { token: TOKENS.auditor });
    expect(api.status).toBe(200);
    expect(api.body.from).toBe(body.from);

    // A coordinator that is not there is named (a port just freed: nothing listens on it).
    const free = createServer();
    await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
    const port = (free.address() as AddressInfo).port;
    await new Promise((resolve) => free.close(resolve));
    const down = await cli(['node', 'retention', 'status', id], {
      out: () => {},
      err: (t) => void (downErr = t),
      env: { RETENTION_API_URL: `http://127.0.0.1:${port}`, RETENTION_API_TOKEN: TOKENS.requester },
      sleep: async () => {},
    });
    expect(down).toBe(1);
    expect(downErr).toContain(`cannot reach the coordinator at http://127.0.0.1:${port} (fetch failed: ECONNREFUSED)`);
  });

  it('survives a restart of the coordinator and is sent once with two replicas', async () => {
    await seed('jade');
    const created = await erase('jade', { notBefore: new Date(clock.getTime() + 300_000).toISOString() });
    const first = platform.coordinator;
    const config = loadConfig(CoordinatorEnv, {
      KAFKA_BROKERS: platform.serviceConfigs.get('sessions')!.KAFKA_BROKERS.join(','),
      RETENTION_TOPIC_PREFIX: platform.prefix,
      DATABASE_URL: (first.dataSource.options as { url: string }).url,
      HTTP_PORT: '0',
      RETENTION_API_TOKENS: Object.entries(TOKENS)
        .map(([role, token]) => `${role}:${token}`)
        .join(','),
      RETENTION_SUBJECT_HMAC_KEY: 'test-hmac-key-0123456789',
      MAINTENANCE_INTERVAL_MS: '600000',
      POLICIES_AUTO_ENABLE: 'true',
      ...platform.keys.coordinatorEnv(),
    });
    // The coordinator that accepted it stops (its leadership goes with it); two replicas take over.
    await first.stop();
    const b = await startCoordinator(config, { logger: createTestLogger('coordinator-b').logger, now });
    extra.push(b);
    const c = await startCoordinator(config, { logger: createTestLogger('coordinator-c').logger, now });
    extra.push(c);
    // platform.stop() stops b (the first is stopped already).
    platform.coordinator = b;

    advance(301);
    // Both try at once: one is the leader, and the request is released once.
    const leaders = await Promise.all([b.maintain(), c.maintain()]);
    expect(leaders.filter(Boolean)).toHaveLength(1);
    await Promise.all([b.maintain(), c.maintain()]);
    // The platform's helpers call the stopped coordinator: ask b.
    const done = await waitFor('the released request to complete', async () => {
      const response = await fetch(`${b.url}/v1/erasure-requests/${created.id}`, { headers: { authorization: `Bearer ${TOKENS.auditor}` } });
      const body = (await response.json()) as { status: string };
      return body.status === 'completed' ? body : undefined;
    });
    expect(done).toMatchObject({ status: 'completed', targets: [{ status: 'completed', attempts: 1 }] });
    expect(await rowsOf('jade')).toBe(0);
    const types = (await ledger(created.id)).map((e) => e.entry_type);
    expect(types.filter((t) => t === 'request.released')).toHaveLength(1);
    expect(types.filter((t) => t === 'command.sent')).toHaveLength(1);

    // The command topic holds exactly one command for it, and none for the cancelled request.
    const commands = await erasureCommandsOnTopic();
    expect(commands.filter((v) => v.includes(created.id))).toHaveLength(1);
    expect(commands.filter((v) => v.includes(cancelledId))).toHaveLength(0);
  });
});
