import { sessionsService } from '@retention/service-sessions';
import { waitFor } from '@retention/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform, TOKENS } from './support';

/** A second admin: the one who approves (a token is identified by its role and SHA-256 prefix). */
const ADMIN2 = 'second-admin-token-0123456789abcdef';

/**
 * Four eyes on the real stack: with RETENTION_APPROVALS set, a first real sweep of a policy, a bulk
 * erasure over the threshold and a hold release wait for a second admin. Nothing is sent before
 * (no request row, no outbox row, the service's rows untouched); the token that asked cannot
 * approve; another admin can, and the work is sent; a rejection sends nothing. Both are ledger entries.
 */
describe('approvals (four eyes)', () => {
  let platform: Platform;

  beforeAll(async () => {
    platform = await startPlatform([sessionsService], {
      coordinatorEnv: {
        RETENTION_API_TOKENS: [...Object.entries(TOKENS).map(([role, token]) => `${role}:${token}`), `admin:${ADMIN2}`].join(','),
        RETENTION_APPROVALS: 'sweep-first-run,bulk,hold-release',
        RETENTION_APPROVAL_BULK_THRESHOLD: '2',
      },
    });
  });

  afterAll(async () => {
    await platform?.stop();
  });

  const coordinatorDb = () => platform.coordinator.dataSource;
  const sessions = () => platform.services.get('sessions')!.dataSource;
  const count = async (db: ReturnType<typeof coordinatorDb>, sql: string, params: unknown[] = []): Promise<number> =>
    ((await db.query(sql, params)) as Array<{ n: number }>)[0]!.n;
  const ledger = async (approvalId: string) =>
    (await coordinatorDb().query(`SELECT entry_type, body FROM ledger_entries WHERE body->>'approvalId' = $1 ORDER BY seq`, [approvalId])) as Array<{
      entry_type: string;
      body: Record<string, unknown>;
    }>;

  it('a first real sweep waits; the token that asked cannot approve it; a second admin does, and it runs', async () => {
    await sessions().query(`INSERT INTO sessions (user_id, started_at) VALUES ('sweep-old', now() - interval '200 days'), ('sweep-new', now())`);
    const asked = await platform.api('POST', '/v1/sweeps', { body: { service: 'sessions', reason: 'first run' } });
    expect(asked.status).toBe(202);
    expect(asked.body).toMatchObject({
      status: 'awaiting_approval',
      approval: { kind: 'sweep', status: 'pending', action: { firstRun: ['sessions/session_logs'] } },
    });
    const id = asked.body.id as string;

    // Nothing sent: no sweep request, no command in the outbox, the old row still there.
    expect(await count(coordinatorDb(), `SELECT count(*)::int AS n FROM retention_requests WHERE kind = 'sweep'`)).toBe(0);
    expect(await count(coordinatorDb(), `SELECT count(*)::int AS n FROM retention_outbox`)).toBe(0);
    expect((await platform.api('GET', '/v1/approvals', { token: TOKENS.auditor })).body.items.map((a: { id: string }) => a.id)).toContain(id);

    const self = await platform.api('POST', `/v1/approvals/${id}/approve`, { body: {} });
    expect(self.status).toBe(403);
    expect(self.body.error.code).toBe('approver_is_requester');
    expect((await platform.api('POST', `/v1/approvals/${id}/approve`, { token: TOKENS.requester, body: {} })).status).toBe(403);
    expect(await count(sessions(), `SELECT count(*)::int AS n FROM sessions WHERE user_id = 'sweep-old'`)).toBe(1);

    const approved = await platform.api('POST', `/v1/approvals/${id}/approve`, { token: ADMIN2, body: { note: 'checked the dry run' } });
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: 'approved', requestedBy: expect.stringMatching(/^admin:/), decidedBy: expect.stringMatching(/^admin:/) });
    expect(approved.body.decidedBy).not.toBe(approved.body.requestedBy);
    const sweepId = approved.body.result.requestId as string;
    await waitFor('the approved sweep', async () => ((await platform.api('GET', `/v1/sweeps/${sweepId}`)).body.status === 'completed' ? true : undefined));
    expect(await count(sessions(), `SELECT count(*)::int AS n FROM sessions WHERE user_id = 'sweep-old'`)).toBe(0);
    expect(await count(sessions(), `SELECT count(*)::int AS n FROM sessions WHERE user_id = 'sweep-new'`)).toBe(1);

    const entries = await ledger(id);
    expect(entries.map((e) => e.entry_type)).toEqual(['approval.requested', 'approval.approved']);
    expect(entries[0]!.body).toMatchObject({ kind: 'sweep', requestedBy: approved.body.requestedBy });
    expect(entries[0]!.body.action).not.toHaveProperty('reason');
    expect(entries[1]!.body).toMatchObject({ requestedBy: approved.body.requestedBy, approvedBy: approved.body.decidedBy, result: { requestId: sweepId } });

    // The policy has now run for real with this definition: the next real sweep is sent at once.
    const again = await platform.api('POST', '/v1/sweeps', { body: { service: 'sessions' } });
    expect(again.status).toBe(202);
    expect(again.body.status).toBe('pending');
    // Deciding twice is refused.
    expect((await platform.api('POST', `/v1/approvals/${id}/reject`, { token: ADMIN2, body: {} })).status).toBe(409);
  });

  it('a bulk erasure over the threshold waits with its subjects sealed; approved, every subject is erased', async () => {
    const users = ['bulk-a', 'bulk-b', 'bulk-c'];
    await sessions().query(`INSERT INTO sessions (user_id, started_at) SELECT unnest($1::text[]), now()`, [users]);
    const body = { items: users.map((id, i) => ({ subject: { type: 'user', id }, line: i + 2 })), reason: 'bulk approval test' };
    const asked = await platform.api('POST', '/v1/erasure-requests/bulk', { token: TOKENS.requester, body, headers: { 'idempotency-key': 'bulk-e2e-1' } });
    expect(asked.status).toBe(202);
    expect(asked.body).toMatchObject({ status: 'awaiting_approval', approval: { kind: 'bulk_erasure', action: { subjects: 3, subjectTypes: { user: 3 } } } });
    const id = asked.body.id as string;

    // Waiting: the ids only sealed, no request, nothing in the outbox, the rows still there.
    const stored = (await coordinatorDb().query(`SELECT subject_id FROM approval_subjects WHERE approval_id = $1`, [id])) as Array<{ subject_id: string }>;
    expect(stored).toHaveLength(3);
    for (const s of stored) for (const u of users) expect(s.subject_id).not.toContain(u);
    expect(await count(coordinatorDb(), `SELECT count(*)::int AS n FROM retention_requests WHERE kind = 'erasure'`)).toBe(0);
    expect(await count(coordinatorDb(), `SELECT count(*)::int AS n FROM retention_outbox`)).toBe(0);
    expect(await count(sessions(), `SELECT count(*)::int AS n FROM sessions WHERE user_id = ANY($1)`, [users])).toBe(3);
    // The same call again is the same approval.
    const repeated = await platform.api('POST', '/v1/erasure-requests/bulk', { token: TOKENS.requester, body, headers: { 'idempotency-key': 'bulk-e2e-1' } });
    expect(repeated.body.id).toBe(id);

    const approved = await platform.api('POST', `/v1/approvals/${id}/approve`, { body: {} });
    expect(approved.status).toBe(200);
    const items = approved.body.result.items as Array<{ line: number; id: string }>;
    expect(items.map((i) => i.line)).toEqual([2, 3, 4]);
    for (const item of items) expect((await platform.waitForRequest(item.id)).status).toBe('completed');
    expect(await count(sessions(), `SELECT count(*)::int AS n FROM sessions WHERE user_id = ANY($1)`, [users])).toBe(0);
    expect(await count(coordinatorDb(), `SELECT count(*)::int AS n FROM approval_subjects WHERE approval_id = $1`, [id])).toBe(0);
    // Each request has its own ledger entries, made by the requester.
    const created = (await coordinatorDb().query(`SELECT body FROM ledger_entries WHERE entry_type = 'request.created' AND request_id = ANY($1::uuid[])`, [
      items.map((i) => i.id),
    ])) as Array<{ body: { requestedBy: string } }>;
    expect(created).toHaveLength(3);
    for (const c of created) expect(c.body.requestedBy).toMatch(/^requester:/);
    expect((await ledger(id)).map((e) => e.entry_type)).toEqual(['approval.requested', 'approval.approved']);

    // Sent again after approval: the same requests, none created.
    const after = await platform.api('POST', '/v1/erasure-requests/bulk', { token: TOKENS.requester, body, headers: { 'idempotency-key': 'bulk-e2e-1' } });
    expect(after.body).toMatchObject({ status: 'accepted', created: 0, existing: 3 });
    expect(await count(coordinatorDb(), `SELECT count(*)::int AS n FROM retention_requests WHERE kind = 'erasure'`)).toBe(3);
  });

  it('chunks of one file sent with one key are an approval each; approved, every line of every chunk is erased', async () => {
    // What `retention erase --csv` sends when its chunk size is above the threshold: one key, other lines.
    const users = ['chunk-a', 'chunk-b', 'chunk-c', 'chunk-d', 'chunk-e', 'chunk-f'];
    await sessions().query(`INSERT INTO sessions (user_id, started_at) SELECT unnest($1::text[]), now()`, [users]);
    const chunk = (from: number) => ({ items: users.slice(from, from + 3).map((id, i) => ({ subject: { type: 'user', id }, line: from + i + 2 })) });
    const send = (from: number) =>
      platform.api('POST', '/v1/erasure-requests/bulk', { token: TOKENS.requester, body: chunk(from), headers: { 'idempotency-key': 'csv-run-1' } });
    const first = await send(0);
    const second = await send(3);
    expect(first.body.status).toBe('awaiting_approval');
    expect(second.body.status).toBe('awaiting_approval');
    expect(second.body.id).not.toBe(first.body.id);
    expect((await send(3)).body.id).toBe(second.body.id);
    for (const id of [first.body.id, second.body.id]) {
      const approved = await platform.api('POST', `/v1/approvals/${id}/approve`, { body: {} });
      expect(approved.status).toBe(200);
      for (const item of approved.body.result.items as Array<{ id: string }>) expect((await platform.waitForRequest(item.id)).status).toBe('completed');
    }
    expect(await count(sessions(), `SELECT count(*)::int AS n FROM sessions WHERE user_id = ANY($1)`, [users])).toBe(0);
  });

  it('a rejected bulk erasure sends nothing and forgets its subjects', async () => {
    await sessions().query(`INSERT INTO sessions (user_id, started_at) SELECT unnest($1::text[]), now()`, [['rej-a', 'rej-b', 'rej-c']]);
    const body = { items: ['rej-a', 'rej-b', 'rej-c'].map((id) => ({ subject: { type: 'user', id } })) };
    const requestsBefore = await count(coordinatorDb(), `SELECT count(*)::int AS n FROM retention_requests WHERE kind = 'erasure'`);
    const asked = await platform.api('POST', '/v1/erasure-requests/bulk', { token: TOKENS.requester, body });
    expect(asked.body.status).toBe('awaiting_approval');
    const rejected = await platform.api('POST', `/v1/approvals/${asked.body.id}/reject`, { token: ADMIN2, body: { note: 'wrong list' } });
    expect(rejected.status).toBe(200);
    expect(rejected.body).toMatchObject({ status: 'rejected', result: null });
    expect((await platform.api('POST', `/v1/approvals/${asked.body.id}/approve`, { body: {} })).status).toBe(409);
    expect(await count(coordinatorDb(), `SELECT count(*)::int AS n FROM approval_subjects WHERE approval_id = $1`, [asked.body.id])).toBe(0);
    expect(await count(coordinatorDb(), `SELECT count(*)::int AS n FROM retention_requests WHERE kind = 'erasure'`)).toBe(requestsBefore);
    expect(await count(sessions(), `SELECT count(*)::int AS n FROM sessions WHERE user_id LIKE 'rej-%'`)).toBe(3);
    expect((await ledger(asked.body.id)).map((e) => e.entry_type)).toEqual(['approval.requested', 'approval.rejected']);
  });

  it('a bulk call at or under the threshold is accepted at once, idempotent per line; over 10,000 subjects is 413', async () => {
    const body = { items: [{ subject: { type: 'user', id: 'small-a' } }, { subject: { type: 'user', id: 'small-b' } }] };
    const first = await platform.api('POST', '/v1/erasure-requests/bulk', { token: TOKENS.requester, body, headers: { 'idempotency-key': 'small-1' } });
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ status: 'accepted', created: 2, existing: 0 });
    const again = await platform.api('POST', '/v1/erasure-requests/bulk', { token: TOKENS.requester, body, headers: { 'idempotency-key': 'small-1' } });
    expect(again.body).toMatchObject({ status: 'accepted', created: 0, existing: 2 });
    expect(again.body.items.map((i: { id: string }) => i.id)).toEqual(first.body.items.map((i: { id: string }) => i.id));
    // Line 1 under this key was small-a: another subject on that line is a conflict.
    const swapped = await platform.api('POST', '/v1/erasure-requests/bulk', {
      token: TOKENS.requester,
      body: { items: [{ subject: { type: 'user', id: 'small-b' }, line: 1 }] },
      headers: { 'idempotency-key': 'small-1' },
    });
    expect(swapped.status).toBe(409);
    const unknownType = await platform.api('POST', '/v1/erasure-requests/bulk', {
      token: TOKENS.requester,
      body: { items: [{ subject: { type: 'robot', id: 'x' } }] },
    });
    expect(unknownType.status).toBe(400);
    expect(unknownType.body.error.issues[0].path).toBe('items.0.subject.type');

    const tooMany = { items: Array.from({ length: 10_001 }, (_, i) => ({ subject: { type: 'user', id: `u${i}` } })) };
    const refused = await platform.api('POST', '/v1/erasure-requests/bulk', { token: TOKENS.requester, body: tooMany });
    expect(refused.status).toBe(413);
    expect(refused.body.error.code).toBe('too_many_subjects');
  });

  it('releasing a hold waits for a second admin; until then the hold is in force', async () => {
    const placed = await platform.api('POST', '/v1/legal-holds', { body: { scope: 'subject', subject: { type: 'user', id: 'held-1' }, reason: 'litigation' } });
    expect(placed.status).toBe(201);
    const asked = await platform.api('DELETE', `/v1/legal-holds/${placed.body.id}`);
    expect(asked.status).toBe(202);
    expect(asked.body).toMatchObject({ status: 'awaiting_approval', approval: { kind: 'hold_release', action: { holdId: placed.body.id } } });
    // Asked twice: one approval.
    expect((await platform.api('DELETE', `/v1/legal-holds/${placed.body.id}`)).body.id).toBe(asked.body.id);
    expect((await platform.api('GET', `/v1/legal-holds?active=true`)).body.items.map((h: { id: string }) => h.id)).toContain(placed.body.id);
    expect((await platform.api('POST', `/v1/approvals/${asked.body.id}/approve`, { body: {} })).body.error.code).toBe('approver_is_requester');

    const approved = await platform.api('POST', `/v1/approvals/${asked.body.id}/approve`, { token: ADMIN2, body: {} });
    expect(approved.status).toBe(200);
    const hold = (await platform.api('GET', `/v1/legal-holds?active=false`)).body.items.find((h: { id: string }) => h.id === placed.body.id);
    expect(hold).toMatchObject({ active: false, releasedBy: approved.body.requestedBy });
    expect((await ledger(asked.body.id)).map((e) => e.entry_type)).toEqual(['approval.requested', 'approval.approved']);
  });
});

/** A pending approval does not keep its subjects forever: it expires as an open request forgets its subject. */
describe('approvals expire', () => {
  let platform: Platform;
  let clock = new Date();
  const now = () => new Date(clock);

  beforeAll(async () => {
    platform = await startPlatform([sessionsService], {
      now,
      coordinatorEnv: {
        RETENTION_APPROVALS: 'bulk',
        RETENTION_APPROVAL_BULK_THRESHOLD: '0',
        RETENTION_SUBJECT_ID_MAX_AGE_SECONDS: '600',
        RETENTION_ERASURE_MAX_GRACE_SECONDS: '0',
        MAINTENANCE_INTERVAL_MS: '600000',
      },
    });
  });

  afterAll(async () => {
    await platform?.stop();
  });

  it('after RETENTION_SUBJECT_ID_MAX_AGE_SECONDS a pending approval is rejected as expired and its sealed ids deleted; nothing is sent', async () => {
    const asked = await platform.api('POST', '/v1/erasure-requests/bulk', {
      token: TOKENS.requester,
      body: { items: [{ subject: { type: 'user', id: 'late-1' } }] },
    });
    expect(asked.body.status).toBe('awaiting_approval');
    const db = platform.coordinator.dataSource;
    const subjects = async () =>
      ((await db.query(`SELECT count(*)::int AS n FROM approval_subjects WHERE approval_id = $1`, [asked.body.id])) as Array<{ n: number }>)[0]!.n;
    clock = new Date(clock.getTime() + 300_000);
    expect(await platform.coordinator.maintain()).toBe(true);
    expect((await platform.api('GET', `/v1/approvals/${asked.body.id}`)).body.status).toBe('pending');
    expect(await subjects()).toBe(1);

    clock = new Date(clock.getTime() + 400_000);
    await platform.coordinator.maintain();
    const expired = (await platform.api('GET', `/v1/approvals/${asked.body.id}`)).body;
    expect(expired).toMatchObject({ status: 'rejected', decidedBy: 'expired', result: null });
    expect(await subjects()).toBe(0);
    expect((await platform.api('POST', `/v1/approvals/${asked.body.id}/approve`, { body: {} })).status).toBe(409);
    const [entry] = (await db.query(`SELECT body FROM ledger_entries WHERE entry_type = 'approval.rejected' AND body->>'approvalId' = $1`, [
      asked.body.id,
    ])) as Array<{ body: Record<string, unknown> }>;
    expect(entry!.body).toMatchObject({ rejectedBy: 'expired', expired: true });
    expect(((await db.query(`SELECT count(*)::int AS n FROM retention_requests`)) as Array<{ n: number }>)[0]!.n).toBe(0);
  });
});

/**
 * Under `sweep-first-run`, enabling a policy is not a second pair of eyes: its scheduled slots run
 * dry until one real sweep of its current definition was approved. (Before, one admin could enable
 * a policy and let the scheduler give it its first real run.)
 */
describe('four eyes: the scheduler does not give a policy its first real run', () => {
  let platform: Platform;
  let clock = new Date('2026-11-01T03:30:00.000Z');
  const now = () => new Date(clock);

  beforeAll(async () => {
    platform = await startPlatform([sessionsService], {
      now,
      coordinatorEnv: {
        RETENTION_APPROVALS: 'sweep-first-run',
        SWEEP_DEFAULT_SCHEDULE: '0 3 * * *',
        SWEEP_MISFIRE_GRACE_SECONDS: '3600',
        MAINTENANCE_INTERVAL_MS: '600000',
      },
    });
    await platform.services.get('sessions')!.dataSource.query(`INSERT INTO sessions (user_id, started_at) VALUES ('sched-old', now() - interval '200 days')`);
  });

  afterAll(async () => {
    await platform?.stop();
  });

  it('an enabled policy that never ran for real runs dry in its slot, and nothing is deleted', async () => {
    const policy = (await platform.api('GET', '/v1/policies', { token: TOKENS.auditor })).body.services[0].policies[0];
    expect(policy).toMatchObject({ name: 'session_logs', enabled: true });
    clock = new Date('2026-11-02T03:00:30.000Z');
    expect(await platform.coordinator.maintain()).toBe(true);
    const [scheduled] = (await platform.coordinator.dataSource.query(
      `SELECT id, dry_run, reason FROM retention_requests WHERE kind = 'sweep' AND requested_by = 'scheduler'`,
    )) as Array<{ id: string; dry_run: boolean; reason: string }>;
    expect(scheduled).toMatchObject({ dry_run: true, reason: expect.stringContaining('sweep-first-run') });
    expect((await platform.waitForRequest(scheduled!.id)).status).toBe('completed');
    const [rows] = (await platform.services.get('sessions')!.dataSource.query(`SELECT count(*)::int AS n FROM sessions`)) as Array<{ n: number }>;
    expect(rows!.n).toBe(1);
  });
});
