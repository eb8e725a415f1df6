import { execFile } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { sessionsService } from '@retention/service-sessions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform, TOKENS } from './support';

/**
 * The walking skeleton, end to end on the real broker and database: an erasure request over HTTP
 * reaches the sessions service through Kafka, exactly that subject's rows go, and the ledger turns
 * `completed` with the service's counts.
 */
const execFileAsync = promisify(execFile);

describe('erasure request, end to end', () => {
  let platform: Platform;

  beforeAll(async () => {
    platform = await startPlatform([sessionsService]);
    const sessions = platform.services.get('sessions')!.dataSource;
    await sessions.query(
      `INSERT INTO sessions (user_id, started_at, ip_address) VALUES
       ('alice', now() - interval '1 day', '198.51.100.1'), ('alice', now() - interval '2 days', '198.51.100.1'), ('alice', now() - interval '200 days', NULL),
       ('bob', now() - interval '1 day', '198.51.100.2'), ('bob', now() - interval '3 days', '198.51.100.2')`,
    );
  });

  afterAll(async () => {
    await platform?.stop();
  });

  it("deletes exactly the subject's rows and completes the request with the counts", async () => {
    const created = await platform.api('POST', '/v1/erasure-requests', {
      token: TOKENS.requester,
      body: { subject: { type: 'user', id: 'alice' }, reason: 'Art. 17 request #1' },
    });
    expect(created.status).toBe(202);
    expect(created.body).toMatchObject({ status: 'pending', targets: ['sessions'], dryRun: false });

    const done = await platform.waitForRequest(created.body.id);
    expect(done.status).toBe('completed');
    expect(done.targets).toHaveLength(1);
    expect(done.targets[0]).toMatchObject({ service: 'sessions', status: 'completed' });
    expect(done.targets[0].tables).toEqual([{ table: 'sessions', action: 'delete', matched: 3, deleted: 3, anonymized: 0, archived: 0, held: 0 }]);

    const sessions = platform.services.get('sessions')!.dataSource;
    const rows = (await sessions.query(`SELECT user_id, count(*)::int AS n FROM sessions GROUP BY user_id ORDER BY user_id`)) as Array<{
      user_id: string;
      n: number;
    }>;
    expect(rows).toEqual([{ user_id: 'bob', n: 2 }]);

    const audit = (await sessions.query(`SELECT table_name, action, deleted, dry_run FROM retention_audit WHERE request_id = $1`, [
      created.body.id,
    ])) as unknown[];
    expect(audit).toEqual([{ table_name: 'sessions', action: 'delete', deleted: 3, dry_run: false }]);

    // The coordinator forgets the raw subject id once the request is complete; the ledger never had it.
    const coordinator = platform.coordinator.dataSource;
    const [request] = (await coordinator.query(`SELECT subject_id, subject_ref FROM retention_requests WHERE id = $1`, [created.body.id])) as Array<{
      subject_id: string | null;
      subject_ref: string;
    }>;
    expect(request).toMatchObject({ subject_id: null });
    expect(request!.subject_ref).toMatch(/^[0-9a-f]{64}$/);
    const ledger = (await coordinator.query(`SELECT entry_type, service, body::text AS body FROM ledger_entries WHERE request_id = $1 ORDER BY seq`, [
      created.body.id,
    ])) as Array<{
      entry_type: string;
      service: string | null;
      body: string;
    }>;
    expect(ledger.map((e) => e.entry_type)).toEqual(['request.created', 'command.sent', 'ack.received', 'request.completed']);
    expect(ledger.some((e) => e.body.includes('alice'))).toBe(false);
  });

  it('returns the same request for the same Idempotency-Key', async () => {
    const body = { subject: { type: 'user', id: 'carol' }, dryRun: true };
    const headers = { 'idempotency-key': 'key-123' };
    const first = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body, headers });
    const second = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body, headers });
    expect(first.status).toBe(202);
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    const conflict = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { ...body, dryRun: false }, headers });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe('conflict');
  });

  it('rejects bad input with the offending field, and unknown callers', async () => {
    const bad = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: '' } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_failed');
    expect(bad.body.error.issues).toEqual([{ path: 'subject.id', message: 'must not be empty' }]);

    const unknownType = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'vendor', id: 'v1' } } });
    expect(unknownType.status).toBe(400);
    expect(unknownType.body.error.issues[0].path).toBe('subject.type');

    expect((await platform.api('POST', '/v1/erasure-requests', { body: { subject: { type: 'user', id: 'x' } }, token: null })).status).toBe(401);
    expect((await platform.api('POST', '/v1/erasure-requests', { body: { subject: { type: 'user', id: 'x' } }, token: 'wrong-token-0123456789' })).status).toBe(
      401,
    );
    expect((await platform.api('POST', '/v1/erasure-requests', { body: { subject: { type: 'user', id: 'x' } }, token: TOKENS.auditor })).status).toBe(403);
    expect((await platform.api('GET', '/v1/erasure-requests/not-a-uuid')).status).toBe(400);
    const malformed = await fetch(`${platform.coordinator.url}/v1/erasure-requests`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKENS.requester}`, 'content-type': 'application/json' },
      body: '{"subject": ',
    });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: { code: string } }).error.code).toBe('bad_request');
    const extra = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: 'x' }, dryrun: true } });
    expect(extra.status).toBe(400);
    expect(extra.body.error.issues[0].message).toContain('dryrun');
    expect((await platform.api('GET', '/v1/erasure-requests/00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });

  it('works from the retention command line too', async () => {
    const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
    // Each command with the role it needs: a requester erases, an auditor verifies the ledger.
    const run = (...args: string[]) =>
      execFileAsync(process.execPath, [resolve(root, 'services/cli/bin/retention.mjs'), ...args], {
        env: { ...process.env, RETENTION_API_URL: platform.coordinator.url, RETENTION_API_TOKEN: args[0] === 'verify' ? TOKENS.auditor : TOKENS.requester },
      });
    const { stdout } = await run('erase', 'user', 'bob', '--dry-run', '--wait', '--timeout', '60', '--json');
    const request = JSON.parse(stdout);
    expect(request).toMatchObject({ status: 'completed', dryRun: true, targets: [{ service: 'sessions', tables: [expect.objectContaining({ deleted: 2 })] }] });
    expect(JSON.parse((await run('verify', '--json')).stdout)).toMatchObject({ ok: true });
    const failure = await run('erase', 'vendor', 'v1').then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toContain('subject.type');
  });

  it('writes no subject id to any log line', () => {
    const lines = platform.logs;
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((l) => l.includes('alice') || l.includes('carol') || l.includes('bob'))).toEqual([]);
  });
});
