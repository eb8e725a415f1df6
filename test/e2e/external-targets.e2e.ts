import { execFile } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { sessionsService } from '@retention/service-sessions';
import { waitFor } from '@retention/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform, TOKENS } from './support';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const run = promisify(execFile);

interface Delivery {
  headers: Record<string, string | string[] | undefined>;
  raw: string;
  body: {
    type: string;
    deliveryId: string;
    requestId: string;
    target: string;
    subject: { type: string; id: string };
    dryRun: boolean;
    callbackUrl: string;
    holdIds?: string[];
  };
  signatureValid: boolean;
}

/** `t=…,v1=…` checked as a receiver must: HMAC-SHA256 over `<t>.<raw body>`, within 5 minutes. */
function validSignature(secret: string, header: string | string[] | undefined, raw: string): boolean {
  if (typeof header !== 'string') return false;
  const fields = Object.fromEntries(header.split(',').map((p) => p.split('=') as [string, string]));
  const t = Number(fields.t);
  if (!fields.v1 || !Number.isFinite(t) || Math.abs(Date.now() / 1000 - t) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${raw}`).digest();
  const given = Buffer.from(fields.v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const sign = (secret: string, raw: string, at = Date.now()): string => {
  const t = Math.floor(at / 1000);
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${raw}`).digest('hex')}`;
};

/**
 * Targets that are not Kafka consumers, on the real broker and database with a real HTTPS receiver
 * (a certificate made by openssl for this test, trusted through RETENTION_WEBHOOK_CA_FILE): a
 * webhook gets each erasure signed, is retried with backoff when it fails, answers on its callback
 * (signature checked) or in its response; a manual task is listed and confirmed with a note through
 * the CLI; both hold the request open until they answer (complete means complete), and both wait
 * under a legal hold and resume when it ends.
 */
describe('webhook and manual targets', () => {
  let platform: Platform;
  let dir: string;
  let receiver: Server;
  let receiverUrl: string;
  let secret = '';
  const deliveries: Delivery[] = [];
  /** What the receiver answers next (then 202 with a callback). */
  const plan: Array<'503' | 'sync' | 'accept'> = [];
  /** The erasure the second test completes (the third sends callbacks about it). */
  let completedId = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'retention-e2e-webhook-'));
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ]);
    receiver = createServer({ key: await readFile(join(dir, 'key.pem')), cert: await readFile(join(dir, 'cert.pem')) }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const body = JSON.parse(raw) as Delivery['body'];
        deliveries.push({ headers: req.headers, raw, body, signatureValid: validSignature(secret, req.headers['retention-signature'], raw) });
        // A hold notice: acknowledged, no result (the test answers held itself).
        if (body.type === 'erasure.hold_placed') {
          res.writeHead(200).end();
          return;
        }
        const next = plan.shift();
        if (next === '503') {
          res.writeHead(503).end('busy');
        } else if (next === 'accept') {
          // Accepted; the test sends the callback itself.
          res.writeHead(202).end();
        } else if (next === 'sync') {
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'completed', deleted: 1 }));
        } else {
          res.writeHead(202).end();
          // Done later, reported on the callback as the system would.
          setTimeout(() => {
            const answer = JSON.stringify({ requestId: body.requestId, status: 'completed', deleted: 2 });
            void fetch(body.callbackUrl, {
              method: 'POST',
              headers: { 'content-type': 'application/json', 'retention-signature': sign(secret, answer) },
              body: answer,
            });
          }, 100);
        }
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    receiverUrl = `https://127.0.0.1:${(receiver.address() as AddressInfo).port}/erasures`;
    platform = await startPlatform([sessionsService], {
      coordinatorEnv: { MAINTENANCE_INTERVAL_MS: '200', RETRY_BASE_SECONDS: '1', RETENTION_WEBHOOK_CA_FILE: join(dir, 'cert.pem') },
    });
  });

  afterAll(async () => {
    await platform?.stop();
    await new Promise((r) => receiver?.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  const cli = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await run(process.execPath, [resolve(root, 'services/cli/bin/retention.mjs'), ...args], {
        cwd: root,
        env: { ...process.env, RETENTION_API_URL: platform.coordinator.url, RETENTION_API_TOKEN: TOKENS.admin },
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
  const ledger = async (requestId: string) =>
    (await platform.coordinator.dataSource.query(`SELECT entry_type, service, body FROM ledger_entries WHERE request_id = $1 ORDER BY seq`, [
      requestId,
    ])) as Array<{
      entry_type: string;
      service: string | null;
      body: Record<string, unknown>;
    }>;
  const view = async (id: string) => (await platform.api('GET', `/v1/erasure-requests/${id}`)).body;

  it('registers a webhook (https only, its secret shown once) and a manual task; sweeps never go to them', async () => {
    const plain = await platform.api('POST', '/v1/targets', {
      body: { name: 'billing-legacy', kind: 'webhook', url: 'http://127.0.0.1:9/x', subjectTypes: ['user'] },
    });
    expect(plain.status).toBe(400);
    expect(plain.body.error.issues[0].path).toBe('url');
    const hook = await platform.api('POST', '/v1/targets', { body: { name: 'billing-legacy', kind: 'webhook', url: receiverUrl, subjectTypes: ['user'] } });
    expect(hook.status).toBe(201);
    expect(hook.body).toMatchObject({
      service: 'billing-legacy',
      kind: 'webhook',
      status: 'active',
      url: receiverUrl,
      secret: expect.stringMatching(/^whsec_/),
    });
    secret = hook.body.secret;
    const byCli = await cli([
      'targets',
      'add',
      'manual',
      'paper-archive',
      '--instructions',
      'Remove the folder from the paper archive, room 2',
      '--subject-types',
      'user',
      '--json',
    ]);
    expect(byCli.code, byCli.stderr).toBe(0);
    expect(JSON.parse(byCli.stdout)).toMatchObject({ service: 'paper-archive', kind: 'manual' });
    expect(
      (await platform.api('POST', '/v1/targets', { body: { name: 'sessions', kind: 'manual', instructions: 'xyz', subjectTypes: ['user'] } })).status,
    ).toBe(409);
    expect(
      (await platform.api('POST', '/v1/targets', { token: TOKENS.requester, body: { name: 'x', kind: 'manual', instructions: 'xyz', subjectTypes: ['user'] } }))
        .status,
    ).toBe(403);

    const services = (await platform.api('GET', '/v1/services')).body.items;
    expect(services.find((s: { service: string }) => s.service === 'billing-legacy')).toMatchObject({ kind: 'webhook', url: receiverUrl });
    expect(JSON.stringify(services)).not.toContain(secret);
    // The secret is sealed at rest: not in the database as text.
    const [{ stored }] = (await platform.coordinator.dataSource.query(
      `SELECT webhook_secret AS stored FROM registered_services WHERE service = 'billing-legacy'`,
    )) as [{ stored: string }];
    expect(stored).toMatch(/^sealed:v1:/);
    const sweep = await platform.api('POST', '/v1/sweeps', { body: { dryRun: true } });
    expect(sweep.status).toBe(202);
    expect(sweep.body.targets.map((t: { service: string } | string) => (typeof t === 'string' ? t : t.service))).toEqual(['sessions']);
  });

  it('an erasure completes only when the Kafka service, the webhook (retried after a 503, answered by callback) and the confirmed manual task have all answered', async () => {
    await platform.services.get('sessions')!.dataSource.query(`INSERT INTO sessions (user_id, started_at) VALUES ('ext-ann', now())`);
    plan.push('503');
    const created = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: 'ext-ann' } } });
    expect(created.status).toBe(202);
    const id = created.body.id as string;
    expect(created.body.targets).toEqual(['billing-legacy', 'paper-archive', 'sessions']);

    // The first delivery fails (503): retried with backoff, the reason visible.
    await waitFor('a failed delivery', async () =>
      (await view(id)).targets.find((t: any) => t.service === 'billing-legacy')?.lastError === 'http 503' ? true : undefined,
    );
    const hook = await waitFor('the webhook to answer by callback', async () => {
      const t = (await view(id)).targets.find((x: any) => x.service === 'billing-legacy');
      return t.status === 'completed' ? t : undefined;
    });
    expect(hook).toMatchObject({ kind: 'webhook', attempts: 2, tables: [expect.objectContaining({ deleted: 2 })] });
    const mine = deliveries.filter((d) => d.body.requestId === id);
    expect(mine).toHaveLength(2);
    for (const d of mine) {
      expect(d.signatureValid).toBe(true);
      expect(d.body).toMatchObject({ type: 'erasure.requested', target: 'billing-legacy', subject: { type: 'user', id: 'ext-ann' }, dryRun: false });
      expect(d.body.callbackUrl).toBe(`${platform.coordinator.url}/v1/targets/billing-legacy/callback`);
    }
    expect(mine[0]!.body.deliveryId).not.toBe(mine[1]!.body.deliveryId);

    // Sessions (Kafka) and the webhook are done; the manual task keeps the request open.
    await waitFor('sessions to ack', async () =>
      (await view(id)).targets.find((t: any) => t.service === 'sessions')?.status === 'completed' ? true : undefined,
    );
    expect((await view(id)).status).toBe('pending');
    const tasks = (await platform.api('GET', '/v1/tasks?status=open')).body.items;
    expect(tasks).toEqual([expect.objectContaining({ requestId: id, target: 'paper-archive', subjectType: 'user', subjectId: 'ext-ann', status: 'open' })]);
    const auditorTasks = (await platform.api('GET', '/v1/tasks?status=open', { token: TOKENS.auditor })).body.items;
    expect(auditorTasks[0]).not.toHaveProperty('subjectId');
    const listed = await cli(['tasks', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.stringify(JSON.parse(listed.stdout))).toContain(id);

    const confirmed = await cli(['tasks', 'confirm', id, 'paper-archive', '--note', 'Folder shredded by J. Doe on 2 Dec', '--count', '1', '--json']);
    expect(confirmed.code, confirmed.stderr).toBe(0);
    const done = await platform.waitForRequest(id);
    expect(done).toMatchObject({ status: 'completed' });
    completedId = id;
    expect(done.targets.find((t: any) => t.service === 'paper-archive')).toMatchObject({
      kind: 'manual',
      status: 'completed',
      tables: [expect.objectContaining({ deleted: 1 })],
    });
    // Confirming again: the task is not open.
    expect((await platform.api('POST', `/v1/erasure-requests/${id}/targets/paper-archive/confirm`, { body: { note: 'again' } })).status).toBe(409);

    const entries = await ledger(id);
    const confirmation = entries.find((e) => e.entry_type === 'task.confirmed');
    expect(confirmation).toMatchObject({
      service: 'paper-archive',
      body: { outcome: 'completed', count: 1, noteRef: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
    // The note is free text (it names a person): never in the append-only ledger.
    expect(JSON.stringify(entries)).not.toContain('J. Doe');
    expect(JSON.stringify(entries)).not.toContain('ext-ann');
    expect(entries.filter((e) => e.entry_type === 'command.sent' && e.body.via === 'webhook').map((e) => e.body.outcome)).toEqual(['failed', 'accepted']);
  });

  it('refuses a callback that is unsigned, signed with another secret, too old, for another target, malformed, or contradicting the first answer', async () => {
    const id = completedId;
    expect(id).not.toBe('');
    const url = `${platform.coordinator.url}/v1/targets/billing-legacy/callback`;
    const post = (raw: string, signature?: string, to = url) =>
      fetch(to, { method: 'POST', headers: { 'content-type': 'application/json', ...(signature ? { 'retention-signature': signature } : {}) }, body: raw });
    const failed = JSON.stringify({ requestId: id, status: 'failed', error: { code: 'x', message: 'y', retriable: false } });
    expect((await post(failed)).status).toBe(401);
    expect((await post(failed, sign('whsec_not-the-secret', failed))).status).toBe(401);
    expect((await post(failed, sign(secret, failed, Date.now() - 600_000))).status).toBe(401);
    // Signed correctly, but the body was changed after signing.
    expect((await post(failed.replace('failed', 'completed'), sign(secret, failed))).status).toBe(401);
    expect((await post(failed, sign(secret, failed), `${platform.coordinator.url}/v1/targets/paper-archive/callback`)).status).toBe(404);
    const bad = JSON.stringify({ requestId: id, status: 'done' });
    const malformed = await post(bad, sign(secret, bad));
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as any).error.issues[0].path).toBe('status');
    // The answer it already gave, sent again (a retried callback): harmless.
    const same = JSON.stringify({ requestId: id, status: 'completed', deleted: 2 });
    const again = await post(same, sign(secret, same));
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ outcome: 'duplicate' });
    // It completed: a later "failed" contradicts it and changes nothing.
    const contradiction = await post(failed, sign(secret, failed));
    expect(contradiction.status).toBe(409);
    expect((await view(id)).status).toBe('completed');
  });

  it('under a legal hold neither the webhook is called nor the task opened; both resume when it is released', async () => {
    const hold = await platform.api('POST', '/v1/legal-holds', { body: { scope: 'subject', subject: { type: 'user', id: 'ext-ben' }, reason: 'litigation' } });
    expect(hold.status).toBe(201);
    const before = deliveries.length;
    const id = (await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: 'ext-ben' } } })).body
      .id as string;
    const held = await platform.waitForRequest(id);
    expect(held.status).toBe('held');
    for (const name of ['billing-legacy', 'paper-archive']) {
      expect(held.targets.find((t: any) => t.service === name)).toMatchObject({ status: 'held', holdIds: [hold.body.id] });
    }
    expect(deliveries.length).toBe(before);
    expect((await platform.api('GET', '/v1/tasks?status=open')).body.items.filter((t: { requestId: string }) => t.requestId === id)).toEqual([]);

    plan.push('sync');
    expect((await platform.api('DELETE', `/v1/legal-holds/${hold.body.id}`, { body: { reason: 'case closed' } })).status).toBe(200);
    // The webhook answers in its response this time; the task opens again.
    await waitFor('the webhook to be called again', async () => (deliveries.some((d) => d.body.requestId === id) ? true : undefined));
    await waitFor('the task to reopen', async () =>
      (await platform.api('GET', '/v1/tasks?status=open')).body.items.some((t: { requestId: string }) => t.requestId === id) ? true : undefined,
    );
    const confirmed = await platform.api('POST', `/v1/erasure-requests/${id}/targets/paper-archive/confirm`, {
      body: { note: 'nothing on paper', outcome: 'not_applicable' },
    });
    expect(confirmed.status).toBe(200);
    const done = await platform.waitForRequest(id);
    expect(done.status).toBe('completed');
    expect(done.targets.find((t: any) => t.service === 'billing-legacy')).toMatchObject({
      status: 'completed',
      tables: [expect.objectContaining({ deleted: 1 })],
    });
    expect(done.targets.find((t: any) => t.service === 'paper-archive')).toMatchObject({ status: 'not_applicable' });
  });

  it('a hold placed on the manual target after its task opened takes the task away at once; it reopens when the hold ends', async () => {
    const id = (await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: 'ext-cat' } } })).body
      .id as string;
    const openTasks = async (): Promise<string[]> =>
      (await platform.api('GET', '/v1/tasks?status=open')).body.items.map((t: { requestId: string }) => t.requestId) as string[];
    await waitFor('the task to open', async () => ((await openTasks()).includes(id) ? true : undefined));
    // Scoped to the manual target alone (a name only the API registered).
    const hold = await platform.api('POST', '/v1/legal-holds', {
      body: { scope: 'subject', subject: { type: 'user', id: 'ext-cat' }, service: 'paper-archive', reason: 'archive review' },
    });
    expect(hold.status).toBe(201);
    expect(await openTasks()).not.toContain(id);
    await waitFor('the task to be held', async () =>
      (await view(id)).targets.find((t: any) => t.service === 'paper-archive')?.status === 'held' ? true : undefined,
    );
    expect((await platform.api('POST', `/v1/erasure-requests/${id}/targets/paper-archive/confirm`, { body: { note: 'done anyway' } })).status).toBe(409);
    expect((await platform.api('DELETE', `/v1/legal-holds/${hold.body.id}`, { body: { reason: 'review over' } })).status).toBe(200);
    await waitFor('the task to reopen', async () => ((await openTasks()).includes(id) ? true : undefined));
    expect((await platform.api('POST', `/v1/erasure-requests/${id}/targets/paper-archive/confirm`, { body: { note: 'file removed' } })).status).toBe(200);
    expect((await platform.waitForRequest(id)).status).toBe('completed');
  });

  it('a captured callback replayed within its 5 minutes applies nothing (after a retry, the old "failed" does not fail the target again)', async () => {
    plan.push('accept', 'accept');
    const id = (await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: 'ext-dan' } } })).body
      .id as string;
    await waitFor('the delivery', async () => (deliveries.some((d) => d.body.requestId === id) ? true : undefined));
    // Its acceptance recorded first (the answer to a delivery the coordinator is still writing down is not what this tests).
    await waitFor(
      'the delivery to be accepted',
      async () => (await ledger(id)).some((e) => e.body.via === 'webhook' && e.body.outcome === 'accepted') || undefined,
    );
    const url = `${platform.coordinator.url}/v1/targets/billing-legacy/callback`;
    const failed = JSON.stringify({ requestId: id, status: 'failed', error: { code: 'vendor_down', message: 'vendor API unavailable', retriable: false } });
    const header = sign(secret, failed);
    const send = () => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'retention-signature': header }, body: failed });
    expect(await (await send()).json()).toMatchObject({ outcome: 'applied' });
    const target = async () => (await view(id)).targets.find((t: any) => t.service === 'billing-legacy');
    expect(await target()).toMatchObject({ status: 'failed', error: { code: 'vendor_down' } });
    expect((await platform.api('POST', `/v1/erasure-requests/${id}/retry`)).status).toBe(202);
    await waitFor('the retried delivery', async () => (deliveries.filter((d) => d.body.requestId === id).length === 2 ? true : undefined));
    // The same bytes and header again: a duplicate, the retried target stays pending.
    const replayed = await send();
    expect(replayed.status).toBe(200);
    expect(await replayed.json()).toMatchObject({ outcome: 'duplicate' });
    expect(await target()).toMatchObject({ status: 'pending' });
    const completed = JSON.stringify({ requestId: id, status: 'completed', deleted: 1 });
    const answer = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'retention-signature': sign(secret, completed) },
      body: completed,
    });
    expect(answer.status).toBe(200);
    await waitFor('the target to complete', async () => ((await target()).status === 'completed' ? true : undefined));
  });

  it('rotates the secret: for the grace period deliveries carry both signatures and callbacks under either count; after it only the new one does', async () => {
    const old = secret;
    const rotated = await platform.api('POST', '/v1/targets/billing-legacy/rotate-secret', { body: { graceSeconds: 600 } });
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ service: 'billing-legacy', secret: expect.stringMatching(/^whsec_/) });
    const fresh = rotated.body.secret as string;
    expect(fresh).not.toBe(old);
    expect((await platform.api('POST', '/v1/targets/paper-archive/rotate-secret', { body: {} })).status).toBe(409);

    plan.push('accept');
    secret = fresh;
    const id = (await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: 'ext-eve' } } })).body
      .id as string;
    const delivery = await waitFor('the delivery', async () => deliveries.find((d) => d.body.requestId === id));
    const header = String(delivery.headers['retention-signature']);
    const t = /t=(\d+)/.exec(header)![1]!;
    const v1s = [...header.matchAll(/v1=([0-9a-f]{64})/g)].map((m) => m[1]);
    const mac = (key: string) => createHmac('sha256', key).update(`${t}.${delivery.raw}`).digest('hex');
    expect(v1s).toEqual([mac(fresh), mac(old)]);

    // A receiver still on the old secret answers: accepted during the grace period.
    const url = `${platform.coordinator.url}/v1/targets/billing-legacy/callback`;
    const answer = JSON.stringify({ requestId: id, status: 'completed', deleted: 1 });
    expect(
      (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'retention-signature': sign(old, answer) }, body: answer })).status,
    ).toBe(200);
    await waitFor('the task to open', async () =>
      (await platform.api('GET', '/v1/tasks?status=open')).body.items.some((x: { requestId: string }) => x.requestId === id) ? true : undefined,
    );
    expect((await platform.api('POST', `/v1/erasure-requests/${id}/targets/paper-archive/confirm`, { body: { note: 'no folder' } })).status).toBe(200);
    expect((await platform.waitForRequest(id)).status).toBe('completed');

    // Rotated again with no grace (a leaked secret): the one before no longer counts, the newest does.
    const again = await platform.api('POST', '/v1/targets/billing-legacy/rotate-secret', { body: { graceSeconds: 0 } });
    expect(again.status).toBe(200);
    const probe = JSON.stringify({ requestId: id, status: 'completed', deleted: 1 });
    expect(
      (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'retention-signature': sign(fresh, probe) }, body: probe })).status,
    ).toBe(401);
    const newest = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'retention-signature': sign(again.body.secret, probe) },
      body: probe,
    });
    expect(newest.status).toBe(200);
    expect(await newest.json()).toMatchObject({ outcome: 'duplicate' });
    const ledgerText = JSON.stringify(
      await platform.coordinator.dataSource.query(`SELECT body FROM ledger_entries WHERE entry_type = 'target.secret_rotated'`),
    );
    expect(ledgerText).not.toContain(fresh);
    expect(ledgerText).not.toContain(again.body.secret);
    secret = again.body.secret;
  });

  it('a hold placed after the webhook accepted an erasure is notified to it (signed); it answers held naming the hold, and is sent the erasure again when the hold ends', async () => {
    plan.push('accept');
    const id = (await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: 'ext-fay' } } })).body
      .id as string;
    await waitFor('the delivery', async () => (deliveries.some((d) => d.body.requestId === id && d.body.type === 'erasure.requested') ? true : undefined));
    await waitFor(
      'the delivery to be accepted',
      async () => (await ledger(id)).some((e) => e.body.via === 'webhook' && e.body.outcome === 'accepted') || undefined,
    );
    const hold = await platform.api('POST', '/v1/legal-holds', { body: { scope: 'subject', subject: { type: 'user', id: 'ext-fay' }, reason: 'new claim' } });
    expect(hold.status).toBe(201);
    const notice = await waitFor('the hold notice', async () => deliveries.find((d) => d.body.requestId === id && d.body.type === 'erasure.hold_placed'));
    expect(notice.signatureValid).toBe(true);
    expect(notice.body.holdIds).toEqual([hold.body.id]);
    expect(JSON.stringify(notice.body)).not.toContain('ext-fay');

    const url = `${platform.coordinator.url}/v1/targets/billing-legacy/callback`;
    const callback = (answer: Record<string, unknown>) => {
      const raw = JSON.stringify({ requestId: id, ...answer });
      return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'retention-signature': sign(secret, raw) }, body: raw });
    };
    expect((await callback({ status: 'held' })).status).toBe(400);
    expect((await callback({ status: 'held', holdIds: ['not-a-hold'] })).status).toBe(409);
    expect((await callback({ status: 'held', holdIds: [hold.body.id] })).status).toBe(200);
    // The manual task was taken away by the hold too; the request is held.
    const held = await platform.waitForRequest(id);
    expect(held.status).toBe('held');
    expect(held.targets.find((t: any) => t.service === 'billing-legacy')).toMatchObject({ status: 'held', holdIds: [hold.body.id] });

    const before = deliveries.filter((d) => d.body.requestId === id && d.body.type === 'erasure.requested').length;
    expect((await platform.api('DELETE', `/v1/legal-holds/${hold.body.id}`, { body: { reason: 'claim dropped' } })).status).toBe(200);
    await waitFor('the erasure to be sent again', async () =>
      deliveries.filter((d) => d.body.requestId === id && d.body.type === 'erasure.requested').length > before ? true : undefined,
    );
    await waitFor('the task to reopen', async () =>
      (await platform.api('GET', '/v1/tasks?status=open')).body.items.some((x: { requestId: string }) => x.requestId === id) ? true : undefined,
    );
    expect((await platform.api('POST', `/v1/erasure-requests/${id}/targets/paper-archive/confirm`, { body: { note: 'removed' } })).status).toBe(200);
    expect((await platform.waitForRequest(id)).status).toBe('completed');
  });
});
