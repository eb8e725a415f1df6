import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mlDataService } from '@retention/service-ml-data';
import { sessionsService } from '@retention/service-sessions';
import { waitFor } from '@retention/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishRegistration } from './registry-helpers';
import { type Platform, startPlatform, TOKENS } from './support';

/**
 * Held erasures wait and resume, on the real broker and databases: an erasure blocked by a legal
 * hold is `held` (not `completed`), reports per table what the hold keeps and the hold ids, and is
 * re-issued to its held targets when the hold is released or expires, then completes through the
 * normal path, every step in the ledger.
 */
describe('held erasures resume', () => {
  let platform: Platform;
  let filesRoot: string;

  beforeAll(async () => {
    filesRoot = await mkdtemp(join(tmpdir(), 'retention-e2e-held-'));
    platform = await startPlatform([sessionsService, mlDataService], {
      serviceEnv: { 'ml-data': { RETENTION_FILES_ROOT: filesRoot } },
      // Expiry is noticed by the leader's maintenance loop: tick often.
      // The coordinator's gauges are computed on an interval, not per scrape: refresh them every second here.
      coordinatorEnv: { MAINTENANCE_INTERVAL_MS: '200', METRICS_REFRESH_SECONDS: '1' },
      // `bridge` registers from the test (no process) and is retired while a request waits on it.
      trustedServices: ['bridge'],
    });
  });

  afterAll(async () => {
    await platform?.stop();
    await rm(filesRoot, { recursive: true, force: true });
  });

  const sessions = () => platform.services.get('sessions')!.dataSource;
  const ml = () => platform.services.get('ml-data')!.dataSource;
  const count = async (db: () => { query: (sql: string, p: unknown[]) => Promise<unknown> }, table: string, user: string): Promise<number> =>
    ((await db().query(`SELECT count(*)::int AS n FROM ${table} WHERE user_id = $1`, [user])) as Array<{ n: number }>)[0]!.n;

  async function seed(user: string): Promise<void> {
    await sessions().query(`INSERT INTO sessions (user_id, started_at) VALUES ($1, now()), ($1, now() - interval '1 day')`, [user]);
    await ml().query(`INSERT INTO inference_logs (user_id, model_version, prediction, created_at) VALUES ($1, 'v1', '{}', now())`, [user]);
  }

  async function placeHold(body: Record<string, unknown>): Promise<string> {
    const hold = await platform.api('POST', '/v1/legal-holds', { body: { reason: 'litigation', ...body } });
    expect(hold.status).toBe(201);
    return hold.body.id as string;
  }

  async function erase(user: string): Promise<string> {
    const created = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: user } } });
    expect(created.status).toBe(202);
    return created.body.id as string;
  }

  async function ledgerTypes(requestId: string): Promise<string[]> {
    const rows = (await platform.coordinator.dataSource.query(`SELECT entry_type FROM ledger_entries WHERE request_id = $1 ORDER BY seq`, [
      requestId,
    ])) as Array<{
      entry_type: string;
    }>;
    return rows.map((r) => r.entry_type);
  }

  const target = (view: any, service: string): any => view.targets.find((t: any) => t.service === service);

  it('hold on one service → erase: held with per-table kept counts beside a target that completed → release → erased → completed', async () => {
    await seed('hana');
    const holdId = await placeHold({ scope: 'subject', subject: { type: 'user', id: 'hana' }, service: 'sessions' });
    const id = await erase('hana');

    const held = await platform.waitForRequest(id, ['held']);
    expect(held.completedAt).toBeNull();
    expect(target(held, 'sessions')).toMatchObject({
      status: 'held',
      holdIds: [holdId],
      reason: 'the subject is under legal hold',
      tables: [{ table: 'sessions', action: 'delete', matched: 2, deleted: 0, anonymized: 0, archived: 0, held: 2 }],
    });
    expect(target(held, 'ml-data')).toMatchObject({
      status: 'completed',
      tables: [
        expect.objectContaining({ table: 'training_records', deleted: 0, held: 0 }),
        expect.objectContaining({ table: 'inference_logs', deleted: 1, held: 0 }),
      ],
    });
    expect(await count(sessions, 'sessions', 'hana')).toBe(2);
    expect(await count(ml, 'inference_logs', 'hana')).toBe(0);

    // Everywhere a status shows: the list and its filter, the report (JSON and CSV), the metric.
    const list = await platform.api('GET', '/v1/erasure-requests?status=held', { token: TOKENS.auditor });
    expect(list.status).toBe(200);
    expect(list.body.items.map((r: any) => r.id)).toEqual([id]);
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 3_600_000).toISOString();
    const report = await platform.api('GET', `/v1/ledger/report?from=${from}&to=${to}`, { token: TOKENS.auditor });
    expect(report.body.summary).toMatchObject({ total: 1, held: 1, keptUnderHold: 1, completed: 0 });
    expect(report.body.requests[0]).toMatchObject({ id, status: 'held' });
    const csv = await fetch(`${platform.coordinator.url}/v1/ledger/report?from=${from}&to=${to}&format=csv`, {
      headers: { authorization: `Bearer ${TOKENS.auditor}` },
    }).then((r) => r.text());
    const lines = csv.trim().split('\n');
    expect(lines.find((l) => l.includes('"sessions","held"'))).toMatch(
      new RegExp(`^"${id}","erasure","held",.*"sessions","","delete","2","0","0","0","2","${holdId}"`),
    );
    expect(lines.find((l) => l.includes('"inference_logs"'))).toMatch(new RegExp(`^"${id}","erasure","held",.*"ml-data","completed"`));
    await waitFor('the held-requests gauge to say 1', async () =>
      /retention_requests\{kind="erasure",status="held"[^}]*\} 1\n/.test(await platform.coordinator.registry.metrics()) ? true : undefined,
    );
    expect(await ledgerTypes(id)).toEqual(['request.created', 'command.sent', 'ack.received', 'ack.received', 'request.held']);

    // Released: the erasure is re-issued to the held target only, and completes.
    expect((await platform.api('DELETE', `/v1/legal-holds/${holdId}`)).status).toBe(200);
    const done = await platform.waitForRequest(id, ['completed']);
    expect(await count(sessions, 'sessions', 'hana')).toBe(0);
    expect(target(done, 'sessions')).toMatchObject({
      status: 'completed',
      attempts: 2,
      holdIds: [],
      tables: [{ table: 'sessions', action: 'delete', matched: 2, deleted: 2, anonymized: 0, archived: 0, held: 0 }],
    });
    expect(target(done, 'ml-data')).toMatchObject({ status: 'completed', attempts: 1 });
    expect(await ledgerTypes(id)).toEqual([
      'request.created',
      'command.sent',
      'ack.received',
      'ack.received',
      'request.held',
      'request.resumed',
      'command.sent',
      'ack.received',
      'request.completed',
    ]);
    const [resumed] = (await platform.coordinator.dataSource.query(`SELECT body FROM ledger_entries WHERE request_id = $1 AND entry_type = 'request.resumed'`, [
      id,
    ])) as Array<{ body: any }>;
    expect(resumed!.body).toEqual({ services: ['sessions'], endedHolds: [holdId], holds: [] });
    await waitFor('the held-requests gauge to say 0', async () =>
      /retention_requests\{kind="erasure",status="held"[^}]*\} 0\n/.test(await platform.coordinator.registry.metrics()) ? true : undefined,
    );
  });

  it('a hold that expires: held, then the leader notices the expiry, re-issues the erasure, and it completes', async () => {
    await seed('ivo');
    const holdId = await placeHold({ scope: 'subject', subject: { type: 'user', id: 'ivo' }, expiresAt: new Date(Date.now() + 6_000).toISOString() });
    const id = await erase('ivo');
    const held = await platform.waitForRequest(id, ['held', 'completed']);
    expect(held.status).toBe('held');
    expect(target(held, 'sessions')).toMatchObject({ status: 'held', holdIds: [holdId], tables: [expect.objectContaining({ table: 'sessions', held: 2 })] });
    expect(target(held, 'ml-data')).toMatchObject({
      status: 'held',
      holdIds: [holdId],
      tables: [expect.objectContaining({ table: 'training_records', held: 0 }), expect.objectContaining({ table: 'inference_logs', held: 1 })],
    });
    expect(await count(sessions, 'sessions', 'ivo')).toBe(2);

    // No release: only the clock ends this hold.
    const done = await platform.waitForRequest(id, ['completed']);
    expect(await count(sessions, 'sessions', 'ivo')).toBe(0);
    expect(await count(ml, 'inference_logs', 'ivo')).toBe(0);
    expect(done.targets.map((t: any) => [t.service, t.status, t.attempts])).toEqual([
      ['ml-data', 'completed', 2],
      ['sessions', 'completed', 2],
    ]);
    const types = await ledgerTypes(id);
    expect(types.filter((t) => t === 'request.held')).toHaveLength(1);
    expect(types.filter((t) => t === 'request.resumed')).toHaveLength(1);
    expect(types.at(-1)).toBe('request.completed');
    // Ended by its expiry (nobody called DELETE; the coordinator may record the expiry as its end).
    const holds = await platform.api('GET', '/v1/legal-holds');
    expect(holds.body.items.find((h: any) => h.id === holdId)).toMatchObject({ active: false });
  });

  it('a hold that stays keeps the request held: redelivery and maintenance leave it alone', async () => {
    await seed('jo');
    const holdId = await placeHold({ scope: 'subject', subject: { type: 'user', id: 'jo' }, service: 'sessions' });
    const id = await erase('jo');
    await platform.waitForRequest(id, ['held']);
    for (let i = 0; i < 3; i++) await platform.coordinator.maintain();
    const still = await platform.api('GET', `/v1/erasure-requests/${id}`);
    expect(still.body).toMatchObject({ status: 'held' });
    expect(target(still.body, 'sessions')).toMatchObject({ status: 'held', attempts: 1 });
    expect(await count(sessions, 'sessions', 'jo')).toBe(2);
    await waitFor('nothing else in the ledger', async () => ((await ledgerTypes(id)).at(-1) === 'request.held' ? true : undefined));
    await platform.api('DELETE', `/v1/legal-holds/${holdId}`);
    await platform.waitForRequest(id, ['completed']);
    expect(await count(sessions, 'sessions', 'jo')).toBe(0);
  });

  it('retiring the last open target of a request that has a held one leaves it held, not completed; the release still completes it', async () => {
    await publishRegistration(platform.prefix, 'bridge', platform.keys.service('bridge'));
    await waitFor('bridge to be active', async () => ((await platform.api('GET', '/v1/services/bridge')).body.status === 'active' ? true : undefined));
    await seed('ravi');
    const holdId = await placeHold({ scope: 'subject', subject: { type: 'user', id: 'ravi' }, service: 'sessions' });
    const id = await erase('ravi');
    await waitFor('sessions held and ml-data done', async () => {
      const { body } = await platform.api('GET', `/v1/erasure-requests/${id}`);
      return target(body, 'sessions')?.status === 'held' && target(body, 'ml-data')?.status === 'completed' ? body : undefined;
    });
    expect((await platform.api('DELETE', '/v1/services/bridge', { body: { reason: 'decommissioned' } })).body).toMatchObject({ closedTargets: 1 });
    const view = (await platform.api('GET', `/v1/erasure-requests/${id}`)).body;
    expect(view).toMatchObject({ status: 'held', completedAt: null });
    expect(target(view, 'bridge').status).toBe('retired');
    expect(await ledgerTypes(id)).toContain('request.held');

    expect((await platform.api('DELETE', `/v1/legal-holds/${holdId}`)).status).toBe(200);
    expect((await platform.waitForRequest(id, ['completed'])).status).toBe('completed');
    expect(await count(sessions, 'sessions', 'ravi')).toBe(0);
  });
});
