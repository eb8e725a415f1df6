import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ApiClient, createApiClient, main } from '@retention/cli';
import { sessionsService } from '@retention/service-sessions';
import { waitFor } from '@retention/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform, TOKENS } from './support';

/**
 * `retention erase --csv` against the real coordinator and a real service: the file goes in chunks
 * through `POST /v1/erasure-requests/bulk`; a run that dies after the server accepted a chunk but
 * before the CLI heard of it is resumed from the state file, and that chunk creates nothing twice
 * (each line is idempotent under the run's key and its line number). Every subject is erased once.
 */
describe('bulk erasure from a CSV file', () => {
  let platform: Platform;
  const users = Array.from({ length: 30 }, (_, i) => `csv-user-${i + 1}`);

  beforeAll(async () => {
    platform = await startPlatform([sessionsService]);
    await platform.services.get('sessions')!.dataSource.query(`INSERT INTO sessions (user_id, started_at) SELECT unnest($1::text[]), now()`, [users]);
  });

  const dirs: string[] = [];
  afterAll(async () => {
    await platform?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const run = async (file: string, client: ApiClient) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['node', 'retention', '--json', 'erase', '--csv', file, '--chunk-size', '10', '--reason', 'csv e2e'], {
      out: (t) => out.push(t),
      err: (t) => err.push(t),
      env: {},
      sleep: async () => {},
      client,
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };

  it('resumes after a run died with a chunk accepted but not acknowledged, and erases every subject once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'csv-e2e-'));
    dirs.push(dir);
    const file = join(dir, 'subjects.csv');
    writeFileSync(file, ['type,id', ...users.map((u) => `user,${u}`)].join('\n') + '\n');
    const real = createApiClient(platform.coordinator.url, TOKENS.requester);
    let calls = 0;
    // The second chunk reaches the server and is accepted; the answer is lost (the CLI dies).
    const dying: ApiClient = {
      async call(method, path, options) {
        calls += 1;
        const reply = await real.call(method, path, options);
        if (calls === 2) throw new Error('socket hang up');
        return reply;
      },
    };
    const first = await run(file, dying);
    expect(first.code).toBe(1);
    const state = JSON.parse(readFileSync(`${file}.retention-state.json`, 'utf8'));
    expect(state).toMatchObject({ acknowledgedThroughLine: 11, created: 10 });

    const second = await run(file, real);
    expect(second.code).toBe(0);
    // Lines 12–21 were accepted by the dead run: sent again, they are the same requests.
    expect(JSON.parse(second.out)).toMatchObject({ acknowledgedThroughLine: 31, created: 20, existing: 10, sentThisRun: 20 });
    expect(second.err).toContain('100% line 31: 30 accepted (20 new)');

    const db = platform.coordinator.dataSource;
    const requests = (await db.query(`SELECT id, idempotency_key FROM retention_requests WHERE kind = 'erasure' ORDER BY idempotency_key`)) as Array<{
      id: string;
      idempotency_key: string;
    }>;
    expect(requests).toHaveLength(30);
    expect(new Set(requests.map((r) => r.idempotency_key))).toEqual(new Set(Array.from({ length: 30 }, (_, i) => `${state.key}#${i + 2}`)));
    for (const r of requests) expect((await platform.waitForRequest(r.id)).status).toBe('completed');
    await waitFor('the sessions rows to be gone', async () => {
      const [row] = (await platform.services
        .get('sessions')!
        .dataSource.query(`SELECT count(*)::int AS n FROM sessions WHERE user_id = ANY($1)`, [users])) as Array<{
        n: number;
      }>;
      return row!.n === 0 ? true : undefined;
    });
    // Each request its own two entries at creation (and its ack and completion after).
    const created = (await db.query(`SELECT count(*)::int AS n FROM ledger_entries WHERE entry_type = 'request.created'`)) as Array<{ n: number }>;
    expect(created[0]!.n).toBe(30);
  });
});
