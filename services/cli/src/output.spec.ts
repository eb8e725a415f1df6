import { describe, expect, it } from 'vitest';
import { ApiError, type ApiClient } from './api-client';
import { main } from './main';
import { renderTables } from './output';
import { progressLine } from './progress';

/** Answers each call from `replies` in order and records it. */
function client(replies: unknown[]): ApiClient & { calls: Array<{ method: string; path: string; body?: unknown }> } {
  const calls: Array<{ method: string; path: string; body?: unknown }> = [];
  return {
    calls,
    async call(method, path, options = {}) {
      calls.push({ method, path, body: options.body });
      const reply = replies.shift();
      if (reply instanceof Error) throw reply;
      return reply;
    },
  };
}

const run = async (argv: string[], api: ApiClient, tty = false, env: NodeJS.ProcessEnv = {}) => {
  const out: string[] = [];
  const err: string[] = [];
  const progress: string[] = [];
  const code = await main(['node', 'retention', ...argv], {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    env,
    sleep: async () => {},
    client: api,
    progress: { write: (t) => progress.push(t), tty },
  });
  return { code, out: out.join('\n'), err: err.join('\n'), progress: progress.join('') };
};

const request = (status: string, targetStatus = status) => ({
  id: 'r1',
  kind: 'erasure',
  status,
  dryRun: false,
  createdAt: '2026-07-01T00:00:00.000Z',
  dueAt: '2026-07-31T00:00:00.000Z',
  notBefore: null,
  targets: [
    {
      service: 'sessions',
      status: targetStatus,
      attempts: 1,
      lastSentAt: '2026-07-01T00:00:00.000Z',
      ackedAt: null,
      tables: [{ table: 'sessions', matched: 2, deleted: 2, anonymized: 0, archived: 0, held: 0 }],
      holdIds: [],
    },
  ],
});

describe('CLI output: tables by default, JSON with --json', () => {
  it('shows a request as fields and a table of its targets with their counts', async () => {
    const result = await run(['status', 'r1'], client([request('completed')]));
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/│ status\s+│ completed\s+│/);
    expect(result.out).toContain('targets:');
    expect(result.out).toMatch(/│ sessions\s+│ completed\s+│ 1\s+│/);
    expect(result.out).toContain('matched 2, deleted 2');
    expect(() => JSON.parse(result.out)).toThrow();
  });

  it('prints the API answer itself with --json, before or after the command', async () => {
    expect(JSON.parse((await run(['--json', 'status', 'r1'], client([request('completed')]))).out)).toEqual(request('completed'));
    expect(JSON.parse((await run(['status', 'r1', '--json'], client([request('completed')]))).out)).toEqual(request('completed'));
  });

  it('shows a page of requests one line each, with how to get the next page', async () => {
    const out = renderTables({ items: [request('pending'), { ...request('scheduled'), id: 'r2', notBefore: '2026-07-02T00:00:00.000Z' }], nextCursor: 'abc' });
    expect(out).toMatch(/│ r1\s+│ erasure\s+│ pending/);
    expect(out).toMatch(/│ r2\s+│ erasure\s+│ scheduled .*2026-07-02T00:00:00.000Z/);
    expect(out).toContain('0/1');
    expect(out.endsWith('more: --cursor abc')).toBe(true);
    expect(renderTables({ items: [], nextCursor: null })).toBe('(none)');
  });
});

describe('CLI --wait progress', () => {
  it('rewrites one line on a terminal, then ends it', async () => {
    const api = client([{ id: 'r1' }, request('pending'), request('pending'), request('completed')]);
    const result = await run(['erase', 'user', 'u1', '--wait'], api, true);
    expect(result.code).toBe(0);
    expect(result.progress.split('\r\u001b[2K')).toHaveLength(3);
    expect(result.progress).toContain('waiting for r1: pending, 0/1 targets answered');
    expect(result.progress.endsWith('\n')).toBe(true);
    expect(result.out).not.toContain('waiting');
  });

  it('writes a line per change of state when stderr is not a terminal', () => {
    const written: string[] = [];
    const p = progressLine((t) => written.push(t), false);
    p.update('pending 0/2', 'a (1 s)');
    p.update('pending 0/2', 'a (2 s)');
    p.update('pending 1/2', 'b (3 s)');
    p.done();
    expect(written).toEqual(['a (1 s)\n', 'b (3 s)\n']);
  });
});

describe('CLI grace period', () => {
  it('erases with --not-before and cancels', async () => {
    const api = client([
      { id: 'r1', status: 'scheduled', notBefore: '2026-07-02T00:00:00.000Z' },
      { id: 'r1', status: 'cancelled', cancelledAt: '2026-07-01T01:00:00.000Z' },
    ]);
    const erase = await run(['erase', 'user', 'u1', '--not-before', '2026-07-02T00:00:00Z'], api);
    expect(erase.code).toBe(0);
    expect(api.calls[0]).toMatchObject({ method: 'POST', path: '/v1/erasure-requests', body: { notBefore: '2026-07-02T00:00:00Z' } });
    expect(erase.out).toMatch(/│ status\s+│ scheduled/);
    const cancel = await run(['cancel', 'r1'], api);
    expect(cancel.code).toBe(0);
    expect(api.calls[1]).toMatchObject({ method: 'POST', path: '/v1/erasure-requests/r1/cancel' });
    expect(cancel.out).toMatch(/│ status\s+│ cancelled/);
  });

  it('names why a cancel came too late, and exits 1', async () => {
    const api = client([new ApiError(409, { error: { code: 'conflict', message: 'its command was already sent to its targets (status pending)' } })]);
    const result = await run(['cancel', 'r1'], api);
    expect(result.code).toBe(1);
    expect(result.err).toContain('409 conflict: its command was already sent');
  });
});

describe('CLI connection errors', () => {
  it('name the URL it tried and the network error', async () => {
    const refused = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    const result = await run(['status', 'r1'], client([refused]), false, { RETENTION_API_URL: 'http://127.0.0.1:9' });
    expect(result.code).toBe(1);
    expect(result.err).toBe('error: cannot reach the coordinator at http://127.0.0.1:9 (fetch failed: ECONNREFUSED); set RETENTION_API_URL to its address');
  });
});
