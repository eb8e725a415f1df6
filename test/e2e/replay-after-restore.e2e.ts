import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { sessionsService } from '@retention/service-sessions';
import { uniqueSuffix, waitFor } from '@retention/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform, TOKENS } from './support';

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The machine's PostgreSQL client binaries, found as deploy/local/lib.sh finds the server's. */
function pgBin(): string {
  if (process.env.RETENTION_PG_BIN) return process.env.RETENTION_PG_BIN;
  if (existsSync('/usr/lib/postgresql/15/bin/pg_dump')) return '/usr/lib/postgresql/15/bin';
  const majors = existsSync('/usr/lib/postgresql')
    ? readdirSync('/usr/lib/postgresql')
        .filter((d) => /^\d+$/.test(d))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const found = majors.map((m) => `/usr/lib/postgresql/${m}/bin`).find((d) => existsSync(join(d, 'pg_dump')));
  if (!found) throw new Error('no pg_dump/pg_restore under /usr/lib/postgresql/*/bin (set RETENTION_PG_BIN)');
  return found;
}

/**
 * Replay after restore, on the real broker and database with the machine's own pg_dump and
 * pg_restore: an erasure completes after a backup was taken; the service's database is restored
 * from that backup (the subject's rows come back and the journal loses the entry); `retention
 * replay --service sessions --since <backup time>` has the coordinator send the erasures acked since
 * then, by request id and the keyed hash from the ack, and the service erases the rows again
 * without any raw id, journals them again, and skips what its restored journal still has.
 */
describe('replay after restore', () => {
  let platform: Platform;
  const dir = mkdtempSync(join(tmpdir(), 'retention-replay-'));
  const dave = `replay-dave-${uniqueSuffix()}`;
  const alice = `replay-alice-${uniqueSuffix()}`;
  const bob = `replay-bob-${uniqueSuffix()}`;

  beforeAll(async () => {
    platform = await startPlatform([sessionsService], { coordinatorEnv: { MAINTENANCE_INTERVAL_MS: '300' } });
    await platform.services
      .get('sessions')!
      .dataSource.query(
        `INSERT INTO sessions (user_id, started_at, ip_address) VALUES ($1, now() - interval '1 day', '198.51.100.1'), ($1, now() - interval '2 days', NULL), ($2, now(), NULL), ($3, now(), NULL)`,
        [alice, bob, dave],
      );
  });

  afterAll(async () => {
    await platform?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const erase = async (id: string): Promise<string> => {
    const created = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id } } });
    expect(created.status).toBe(202);
    expect((await platform.waitForRequest(created.body.id)).status).toBe('completed');
    return created.body.id as string;
  };
  const dumpFile = join(dir, 'sessions.dump');
  const restore = async (): Promise<void> => {
    const url = platform.serviceConfigs.get('sessions')!.DATABASE_URL;
    await run(join(pgBin(), 'pg_restore'), ['--clean', '--if-exists', '--no-owner', '--single-transaction', `--dbname=${url}`, dumpFile]);
  };
  const rowsOf = async (id: string): Promise<number> =>
    (
      (await platform.services.get('sessions')!.dataSource.query(`SELECT count(*)::int AS n FROM sessions WHERE user_id = $1`, [id])) as Array<{ n: number }>
    )[0]!.n;

  it('erases again from the keyed hashes what a restored backup brought back', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const daveRequest = await erase(dave);

    // The backup: after dave's erasure, before alice's.
    const url = platform.serviceConfigs.get('sessions')!.DATABASE_URL;
    await run(join(pgBin(), 'pg_dump'), ['--format=custom', '--no-owner', `--file=${dumpFile}`, url]);

    const aliceRequest = await erase(alice);
    expect(await rowsOf(alice)).toBe(0);

    // The restore, under the running service (it does not restart, so nothing detects it: an
    // operator replays by hand).
    await restore();
    const sessions = platform.services.get('sessions')!.dataSource;
    expect(await rowsOf(alice)).toBe(2);
    const journal = async (): Promise<string[]> =>
      ((await sessions.query(`SELECT request_id FROM retention_deletion_journal ORDER BY position`)) as Array<{ request_id: string }>).map((r) => r.request_id);
    expect(await journal()).toEqual([daveRequest]);

    // The replay, from the command line as an operator would run it.
    const { stdout } = await run(
      process.execPath,
      [resolve(root, 'services/cli/bin/retention.mjs'), 'replay', '--service', 'sessions', '--since', since, '--json'],
      {
        env: { ...process.env, RETENTION_API_URL: platform.coordinator.url, RETENTION_API_TOKEN: TOKENS.admin },
      },
    );
    const issued = JSON.parse(stdout) as { requests: number; withoutHash: number; replays: Array<{ id: string }> };
    expect(issued).toMatchObject({ requests: 2, withoutHash: 0 });
    expect(issued.replays).toHaveLength(1);

    const coordinator = platform.coordinator.dataSource;
    await waitFor('the replay result', async () => {
      const [row] = (await coordinator.query(`SELECT status FROM erasure_replays WHERE replay_id = $1`, [issued.replays[0]!.id])) as Array<{ status: string }>;
      return row?.status === 'answered' ? row : undefined;
    });
    expect(await rowsOf(alice)).toBe(0);
    expect(await rowsOf(bob)).toBe(1);
    expect((await journal()).sort()).toEqual([daveRequest, aliceRequest].sort());

    const entries = (await coordinator.query(
      `SELECT request_id, entry_type, body FROM ledger_entries WHERE entry_type IN ('replay.requested', 'replay.result') ORDER BY seq`,
    )) as Array<{ request_id: string | null; entry_type: string; body: { status?: string; tables?: Array<{ deleted: number }>; requests?: number } }>;
    expect(entries[0]).toMatchObject({ request_id: null, entry_type: 'replay.requested', body: { requests: 2 } });
    const byRequest = new Map(entries.filter((e) => e.entry_type === 'replay.result').map((e) => [e.request_id, e.body]));
    expect(byRequest.get(aliceRequest)).toMatchObject({ status: 'reapplied', tables: [expect.objectContaining({ table: 'sessions', deleted: 2 })] });
    expect(byRequest.get(daveRequest)).toMatchObject({ status: 'already_journaled' });
    expect((await platform.api('GET', '/v1/ledger/verify', { token: TOKENS.auditor })).body).toMatchObject({ ok: true });

    // A second replay finds everything journaled: nothing changes.
    const again = await platform.api('POST', '/v1/services/sessions/replay', { body: { since } });
    expect(again.status).toBe(202);
    await waitFor('the second replay result', async () => {
      const [row] = (await coordinator.query(`SELECT status, result FROM erasure_replays WHERE replay_id = $1`, [again.body.replays[0].id])) as Array<{
        status: string;
        result: { counts: Record<string, number> };
      }>;
      return row?.status === 'answered' ? row : undefined;
    }).then((row) => expect(row.result.counts).toEqual({ already_journaled: 2 }));
  });

  it('detects a restore when the service starts (its journal is shorter than what it acked) and replays by itself', async () => {
    // The same backup restored again, this time with the service stopped, as a restore is usually done.
    await platform.stopService('sessions');
    await restore();
    const started = new Date();
    await platform.startService('sessions');
    const coordinator = platform.coordinator.dataSource;
    const replay = await waitFor('a replay the coordinator started on its own', async () => {
      const [row] = (await coordinator.query(
        `SELECT replay_id, requests, requested_by, status, result FROM erasure_replays WHERE trigger = 'restore_detected' AND created_at >= $1`,
        [started],
      )) as Array<{ replay_id: string; requests: number; requested_by: string; status: string; result: { counts: Record<string, number> } | null }>;
      return row?.status === 'answered' ? row : undefined;
    });
    expect(replay).toMatchObject({ requested_by: 'coordinator:restore-detection', requests: 2, result: { counts: { reapplied: 1, already_journaled: 1 } } });
    expect(await rowsOf(alice)).toBe(0);
    expect(await rowsOf(bob)).toBe(1);
    expect(platform.logs.some((l) => l.includes('restore detected'))).toBe(true);

    // Started again with its journal complete: nothing is detected, nothing replayed.
    await platform.stopService('sessions');
    const restarted = new Date();
    await platform.startService('sessions');
    await waitFor('the registration to be read', async () => {
      const [row] = (await coordinator.query(
        `SELECT (manifest->>'publishedAt')::timestamptz >= $1 AS fresh FROM registered_services WHERE service = 'sessions'`,
        [restarted],
      )) as Array<{ fresh: boolean }>;
      return row?.fresh ? row : undefined;
    });
    expect(await coordinator.query(`SELECT 1 FROM erasure_replays WHERE created_at >= $1`, [restarted])).toEqual([]);
  });

  it('refuses a bad replay request with the field named, and unknown services', async () => {
    const future = await platform.api('POST', '/v1/services/sessions/replay', { body: { since: '2999-01-01T00:00:00Z' } });
    expect(future.status).toBe(400);
    expect(future.body.error.issues[0].path).toBe('since');
    expect((await platform.api('POST', '/v1/services/sessions/replay', { body: {} })).status).toBe(400);
    expect((await platform.api('POST', '/v1/services/nobody/replay', { body: { since: '2026-01-01T00:00:00Z' } })).status).toBe(404);
    expect((await platform.api('POST', '/v1/services/sessions/replay', { body: { since: '2026-01-01T00:00:00Z' }, token: TOKENS.requester })).status).toBe(403);
  });

  it('writes no subject id to any log line or ledger entry', async () => {
    expect(platform.logs.filter((l) => l.includes(alice) || l.includes(dave) || l.includes(bob))).toEqual([]);
    const [ledger] = (await platform.coordinator.dataSource.query(`SELECT string_agg(body::text, '') AS all FROM ledger_entries`)) as Array<{ all: string }>;
    expect(ledger!.all).not.toContain(alice);
  });
});
