import { sessionsService } from '@retention/service-sessions';
import { uniqueSuffix, waitFor } from '@retention/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform, TOKENS } from './support';

interface ProbeEntry {
  service: string;
  body: {
    probeId: string;
    trigger: string;
    status: string;
    remaining: number;
    held: number;
    tables: Array<{ table: string; remaining: number; held: number }>;
  };
}

/**
 * Proof that data stays gone, on the real broker and database: a completed erasure leaves a
 * deletion-journal entry (keyed hash, no id) in the service's database, written with its ack; the
 * coordinator probes the target right after completion (ledger `probe.result`: clean), and a
 * scheduled sample probe after a deliberate under-deletion (a row for the erased subject put back)
 * finds it, records `found` with the count in the ledger and raises retention_probe_found_total.
 */
describe('deletion probes', () => {
  let platform: Platform;
  const alice = `probe-alice-${uniqueSuffix()}`;
  const bob = `probe-bob-${uniqueSuffix()}`;

  beforeAll(async () => {
    platform = await startPlatform([sessionsService], {
      coordinatorEnv: {
        MAINTENANCE_INTERVAL_MS: '300',
        RETENTION_PROBE_AFTER_COMPLETION: 'true',
        // Sampled probes every 2 s over every completed erasure (the test's database has few).
        RETENTION_PROBE_SAMPLE: '1000',
        RETENTION_PROBE_INTERVAL_SECONDS: '2',
      },
    });
    await platform.services
      .get('sessions')!
      .dataSource.query(
        `INSERT INTO sessions (user_id, started_at, ip_address) VALUES ($1, now() - interval '1 day', '198.51.100.1'), ($1, now() - interval '2 days', NULL), ($2, now(), NULL)`,
        [alice, bob],
      );
  });

  afterAll(async () => {
    await platform?.stop();
  });

  const probeEntries = async (requestId: string): Promise<ProbeEntry[]> =>
    (await platform.coordinator.dataSource.query(
      `SELECT service, body FROM ledger_entries WHERE request_id = $1 AND entry_type = 'probe.result' ORDER BY seq`,
      [requestId],
    )) as ProbeEntry[];

  it('journals a completed erasure by keyed hash, probes it after completion (clean), and finds a row put back', async () => {
    const created = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: alice } } });
    expect(created.status).toBe(202);
    const requestId = created.body.id as string;
    expect((await platform.waitForRequest(requestId)).status).toBe('completed');

    // The journal: one row, the keyed hash the ack carried, never the id.
    const sessions = platform.services.get('sessions')!.dataSource;
    const journal = (await sessions.query(
      `SELECT request_id, subject_type, subject_hash, tables, row_to_json(j)::text AS raw FROM retention_deletion_journal j`,
    )) as Array<{
      request_id: string;
      subject_type: string;
      subject_hash: string;
      tables: unknown;
      raw: string;
    }>;
    expect(journal).toHaveLength(1);
    expect(journal[0]).toMatchObject({ request_id: requestId, subject_type: 'user', tables: [{ table: 'sessions', action: 'delete' }] });
    expect(journal[0]!.subject_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(journal[0]!.raw).not.toContain(alice);
    const [target] = (await platform.coordinator.dataSource.query(`SELECT ack->>'subjectHash' AS hash FROM request_targets WHERE request_id = $1`, [
      requestId,
    ])) as Array<{ hash: string }>;
    expect(target!.hash).toBe(journal[0]!.subject_hash);

    // The probe right after completion: nothing left.
    const first = await waitFor('the completion probe result', async () => {
      const entries = await probeEntries(requestId);
      return entries.find((e) => e.body.trigger === 'completion');
    });
    expect(first).toMatchObject({
      service: 'sessions',
      body: { status: 'clean', remaining: 0, held: 0, tables: [{ table: 'sessions', remaining: 0, held: 0 }] },
    });

    // A dry run leaves no journal entry (nothing was erased).
    const dry = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: bob }, dryRun: true } });
    await platform.waitForRequest(dry.body.id);
    expect(await sessions.query(`SELECT 1 FROM retention_deletion_journal WHERE request_id = $1`, [dry.body.id])).toEqual([]);

    // Under-deletion: a row for the erased subject comes back (a late write, a bad restore).
    await sessions.query(`INSERT INTO sessions (user_id, started_at, ip_address) VALUES ($1, now(), '198.51.100.9')`, [alice]);
    const found = await waitFor(
      'a sampled probe to find the row put back',
      async () => (await probeEntries(requestId)).find((e) => e.body.trigger === 'sample' && e.body.status === 'found'),
      { timeoutMs: 60_000 },
    );
    expect(found.body).toMatchObject({ remaining: 1, held: 0, tables: [{ table: 'sessions', remaining: 1, held: 0 }] });

    const metrics = await fetch(`${platform.coordinator.url}/metrics`).then((r) => r.text());
    const series = /^retention_probe_found_total\{[^}]*target="sessions"[^}]*\} (\d+)/m.exec(metrics);
    expect(Number(series?.[1])).toBeGreaterThanOrEqual(1);
    expect(metrics).toMatch(
      /retention_probe_results_total\{[^}]*status="found"[^}]*target="sessions"|retention_probe_results_total\{[^}]*target="sessions"[^}]*status="found"/,
    );

    // The probe table keeps the answers; the ledger still verifies.
    const rows = (await platform.coordinator.dataSource.query(
      `SELECT trigger, status FROM erasure_probes WHERE request_id = $1 AND status <> 'pending' ORDER BY answered_at`,
      [requestId],
    )) as Array<{ trigger: string; status: string }>;
    expect(rows[0]).toEqual({ trigger: 'completion', status: 'clean' });
    expect(rows.some((r) => r.trigger === 'sample' && r.status === 'found')).toBe(true);
    expect((await platform.api('GET', '/v1/ledger/verify', { token: TOKENS.auditor })).body).toMatchObject({ ok: true });
  });

  it('writes no subject id to any log line or ledger entry', async () => {
    expect(platform.logs.filter((l) => l.includes(alice) || l.includes(bob))).toEqual([]);
    const [ledger] = (await platform.coordinator.dataSource.query(`SELECT string_agg(body::text, '') AS all FROM ledger_entries`)) as Array<{ all: string }>;
    expect(ledger!.all).not.toContain(alice);
  });
});
