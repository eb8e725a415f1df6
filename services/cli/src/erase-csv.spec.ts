import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiError, type ApiClient } from './api-client';
import { main } from './main';

type Call = {
  method: string;
  path: string;
  body?: { items: Array<{ subject: { type: string; id: string }; line: number }> };
  headers?: Record<string, string>;
};

/** Accepts every chunk (each line created once per key and line, as the API does), failing the calls listed in `failOn`. */
function bulkApi(failOn: number[] = [], busyOn: number[] = []): ApiClient & { calls: Call[]; accepted: Map<string, string> } {
  const calls: Call[] = [];
  const accepted = new Map<string, string>();
  return {
    calls,
    accepted,
    async call(method, path, options = {}) {
      calls.push({ method, path, ...(options as Omit<Call, 'method' | 'path'>) });
      if (failOn.includes(calls.length)) throw new Error('connect ECONNREFUSED 127.0.0.1:18080');
      if (busyOn.includes(calls.length)) throw new ApiError(503, { error: { code: 'unavailable', message: '25000 commands wait to be published' } });
      const body = options.body as NonNullable<Call['body']>;
      let created = 0;
      for (const item of body.items) {
        const key = `${options.headers?.['idempotency-key']}#${item.line}`;
        if (!accepted.has(key)) {
          accepted.set(key, item.subject.id);
          created += 1;
        }
      }
      return { status: 'accepted', created, existing: body.items.length - created, items: [] };
    },
  };
}

const run = async (argv: string[], client: ApiClient) => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['node', 'retention', '--json', ...argv], {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    env: {},
    sleep: async () => {},
    client,
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
};

const csv = (rows: number, header = 'type,id'): string => {
  const dir = mkdtempSync(join(tmpdir(), 'erase-csv-'));
  const file = join(dir, 'subjects.csv');
  writeFileSync(file, [header, ...Array.from({ length: rows }, (_, i) => `user,u-${i + 1}`)].join('\n') + '\n');
  return file;
};

describe('retention erase --csv', () => {
  it('sends the file in chunks, each line with its line number, under one key, and prints progress', async () => {
    const file = csv(25);
    const api = bulkApi();
    const result = await run(['erase', '--csv', file, '--chunk-size', '10', '--reason', 'bulk'], api);
    expect(result.code).toBe(0);
    expect(api.calls.map((c) => c.body!.items.length)).toEqual([10, 10, 5]);
    expect(api.calls[0]!.body!.items[0]).toEqual({ subject: { type: 'user', id: 'u-1' }, line: 2 });
    expect(new Set(api.calls.map((c) => c.headers!['idempotency-key'])).size).toBe(1);
    expect(result.err.split('\n')).toHaveLength(3);
    expect(result.err).toContain('[####################] 100% line 26: 25 accepted (25 new)');
    expect(JSON.parse(result.out)).toMatchObject({ acknowledgedThroughLine: 26, created: 25, existing: 0, sentThisRun: 25 });
  });

  it('resumes after an interruption from its state file: nothing is created twice', async () => {
    const file = csv(25);
    const api = bulkApi([2]);
    const first = await run(['erase', '--csv', file, '--chunk-size', '10'], api);
    expect(first.code).toBe(1);
    expect(first.err).toContain('cannot reach the coordinator');
    const state = JSON.parse(readFileSync(`${file}.retention-state.json`, 'utf8'));
    expect(state).toMatchObject({ acknowledgedThroughLine: 11, created: 10 });

    const second = await run(['erase', '--csv', file, '--chunk-size', '10'], api);
    expect(second.code).toBe(0);
    // The failed chunk (lines 12–21) is sent again, under the same key; lines 2–11 are not.
    expect(api.calls.slice(2).map((c) => c.body!.items[0]!.line)).toEqual([12, 22]);
    expect(api.calls.slice(2).every((c) => c.headers!['idempotency-key'] === state.key)).toBe(true);
    expect(api.accepted.size).toBe(25);
    expect(JSON.parse(second.out)).toMatchObject({ acknowledgedThroughLine: 26, created: 25, sentThisRun: 15 });

    // Once more: everything was acknowledged, nothing is sent.
    const third = await run(['erase', '--csv', file, '--chunk-size', '10'], api);
    expect(third.code).toBe(0);
    expect(api.calls).toHaveLength(4);
  });

  it('sends a chunk again after a 503 (the coordinator publishing its backlog), without stopping', async () => {
    const file = csv(15);
    const api = bulkApi([], [2, 3]);
    const result = await run(['erase', '--csv', file, '--chunk-size', '10'], api);
    expect(result.code).toBe(0);
    expect(api.calls.map((c) => c.body!.items[0]!.line)).toEqual([2, 12, 12, 12]);
    expect(result.err).toContain('line 12: the coordinator asks to wait (25000 commands wait to be published); again in 5 s');
    expect(JSON.parse(result.out)).toMatchObject({ created: 15, existing: 0 });
  });

  it('refuses a malformed row naming its line, and a type and id with --csv', async () => {
    const file = csv(3);
    writeFileSync(file, 'type,id\nuser,a\nuser\nuser,c\n');
    const bad = await run(['erase', '--csv', file], bulkApi());
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('line 3: expected two columns: type,id');
    expect((await run(['erase', 'user', 'x', '--csv', file], bulkApi())).code).toBe(2);
  });

  it('takes one id per row with --type', async () => {
    const file = csv(3, 'id');
    writeFileSync(file, 'id\nu-1\nu-2\n');
    const api = bulkApi();
    expect((await run(['erase', '--csv', file, '--type', 'customer'], api)).code).toBe(0);
    expect(api.calls[0]!.body!.items).toEqual([
      { subject: { type: 'customer', id: 'u-1' }, line: 2 },
      { subject: { type: 'customer', id: 'u-2' }, line: 3 },
    ]);
  });
});
