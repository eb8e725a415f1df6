import { parsePrivateKey, publicKeyOf } from '@retention/contracts';
import { describe, expect, it } from 'vitest';
import { ApiError, type ApiClient } from './api-client';
import { main } from './main';

/** A strict fake: every call is recorded; an unexpected one fails the test. */
function fakeClient(
  responses: Array<{ method: string; path: string; reply: unknown }>,
): ApiClient & { calls: Array<{ method: string; path: string; body?: unknown; headers?: Record<string, string> }> } {
  const calls: Array<{ method: string; path: string; body?: unknown; headers?: Record<string, string> }> = [];
  return {
    calls,
    async call(method, path, options = {}) {
      calls.push({ method, path, ...options });
      const next = responses.shift();
      if (!next || next.method !== method || next.path !== path) throw new Error(`unexpected call ${method} ${path}`);
      if (next.reply instanceof ApiError) throw next.reply;
      return next.reply;
    },
  };
}

const run = async (argv: string[], client: ApiClient, env: NodeJS.ProcessEnv = {}) => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['node', 'retention', ...argv], { out: (t) => out.push(t), err: (t) => err.push(t), env, sleep: async () => {}, client });
  return { code, out: out.join('\n'), err: err.join('\n') };
};

describe('retention CLI', () => {
  it('requests an erasure and waits for it', async () => {
    const client = fakeClient([
      { method: 'POST', path: '/v1/erasure-requests', reply: { id: 'r1', status: 'pending' } },
      { method: 'GET', path: '/v1/erasure-requests/r1', reply: { id: 'r1', status: 'pending' } },
      { method: 'GET', path: '/v1/erasure-requests/r1', reply: { id: 'r1', status: 'completed' } },
    ]);
    const result = await run(['erase', 'user', 'demo-1', '--dry-run', '--reason', 'case 1', '--idempotency-key', 'k1', '--wait', '--json'], client);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.out)).toEqual({ id: 'r1', status: 'completed' });
    expect(client.calls[0]).toMatchObject({
      body: { subject: { type: 'user', id: 'demo-1' }, reason: 'case 1', dryRun: true },
      headers: { 'idempotency-key': 'k1' },
    });
  });

  it("looks a subject's requests up with the id in a POST body, never in the URL", async () => {
    const client = fakeClient([{ method: 'POST', path: '/v1/erasure-requests/search', reply: { items: [], nextCursor: null } }]);
    const result = await run(['list', '--subject', 'user:jane@example.com', '--status', 'failed'], client);
    expect(result.code).toBe(0);
    expect(client.calls[0]!.path).not.toContain('jane');
    expect(client.calls[0]).toMatchObject({ body: { subject: { type: 'user', id: 'jane@example.com' }, status: 'failed', limit: 50 } });
  });

  it('approves and retires services', async () => {
    const client = fakeClient([
      { method: 'POST', path: '/v1/services/legacy-crm/approve', reply: { service: 'legacy-crm', status: 'active' } },
      { method: 'DELETE', path: '/v1/services/legacy-crm', reply: { service: 'legacy-crm', status: 'retired', closedTargets: 2 } },
    ]);
    expect((await run(['services', 'approve', 'legacy-crm', '--public-key', 'k'.repeat(43)], client)).code).toBe(0);
    expect(client.calls[0]).toMatchObject({ body: { publicKey: 'k'.repeat(43) } });
    const retired = await run(['--json', 'services', 'retire', 'legacy-crm', '--reason', 'decommissioned'], client);
    expect(JSON.parse(retired.out)).toMatchObject({ status: 'retired', closedTargets: 2 });
    expect(client.calls[1]).toMatchObject({ body: { reason: 'decommissioned' } });
    expect((await run(['services', 'retire', 'legacy-crm'], client)).code).toBe(2);
  });

  it('generates a signing key pair whose halves match, without calling the API', async () => {
    const result = await run(['keys', 'generate', '--id', 'orders-2'], fakeClient([]));
    expect(result.code).toBe(0);
    const lines = Object.fromEntries(
      result.out
        .split('\n')
        .filter((l) => !l.startsWith('#'))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(lines.RETENTION_SIGNING_KEY_ID).toBe('orders-2');
    expect(publicKeyOf(parsePrivateKey(lines.RETENTION_SIGNING_KEY!, 'key'))).toBe(lines['orders-2']);
    expect((await run(['keys', 'generate', '--id', 'bad id'], fakeClient([]))).code).toBe(2);
  });

  it("prints the API's error with the offending fields and exits 1", async () => {
    const client = fakeClient([
      {
        method: 'POST',
        path: '/v1/erasure-requests',
        reply: new ApiError(400, {
          error: {
            code: 'validation_failed',
            message: 'invalid',
            issues: [{ path: 'subject.type', message: 'no registered service stores subjects of type "vendor"' }],
          },
        }),
      },
    ]);
    const result = await run(['erase', 'vendor', 'v1'], client);
    expect(result.code).toBe(1);
    expect(result.err).toContain('subject.type: no registered service stores subjects of type "vendor"');
  });

  it('exits 3 when the ledger is broken, 2 on bad usage', async () => {
    expect(
      (await run(['verify'], fakeClient([{ method: 'GET', path: '/v1/ledger/verify', reply: { ok: false, entries: 4, firstBrokenEntry: { seq: 5 } } }]))).code,
    ).toBe(3);
    expect((await run(['holds', 'place', '--reason', 'x'], fakeClient([]))).code).toBe(2);
    expect((await run(['list', '--limit', 'zero'], fakeClient([]))).code).toBe(2);
    expect((await run(['nonsense'], fakeClient([]))).code).toBe(2);
  });

  it('places a record hold with the fields the API expects', async () => {
    const client = fakeClient([{ method: 'POST', path: '/v1/legal-holds', reply: { id: 'h1' } }]);
    expect((await run(['holds', 'place', '--service', 'orders', '--table', 'orders', '--record', '42', '--reason', 'evidence'], client)).code).toBe(0);
    expect(client.calls[0]!.body).toEqual({ scope: 'record', service: 'orders', table: 'orders', recordKey: '42', reason: 'evidence' });
  });
});
