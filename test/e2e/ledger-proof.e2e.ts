import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main as cli } from '@retention/cli';
import {
  type Checkpoint,
  checkpointSignatureFailure,
  decodeEvent,
  encodeEvent,
  EventTypes,
  keyLookup,
  ledgerLeafHash,
  MerkleTree,
  parsePublicKey,
  signCheckpoint,
  verifyMessage,
  verifyReceipt,
} from '@retention/contracts';
import { openCoordinatorDatabase } from '@retention/service-coordinator';
import { sessionsService } from '@retention/service-sessions';
import { createTestLogger, testStack } from '@retention/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { produceSigned, waitForMessage } from './kafka-helpers';
import { type Platform, startPlatform, TOKENS } from './support';

/**
 * Issue 9, items 4 and 5: a ledger its writer cannot rewrite, and erasure receipts. The coordinator
 * runs as a role that may only append to and read the ledger (every way out is tried as that role);
 * the leader signs checkpoints of the ledger's Merkle tree to a Kafka topic; an insider with a
 * PostgreSQL superuser does each tampering for real and `verify` names it against the checkpoints
 * on Kafka (the database's copies removed too); a completed erasure gets a receipt that the CLI
 * checks offline.
 */
describe('a ledger its writer cannot rewrite, with signed checkpoints and receipts', () => {
  let platform: Platform;
  let superuser: pg.Client;
  let coordinatorDb: string;
  const requests: string[] = [];

  const auditor = { token: TOKENS.auditor };
  const verify = async (full = false) => {
    const response = await platform.api('GET', `/v1/ledger/verify${full ? '?full=true' : ''}`, auditor);
    expect(response.status).toBe(200);
    return response.body;
  };
  const publicKey = () => parsePublicKey(platform.keys.coordinator.publicKey, 'test');
  const lookup = () => keyLookup([{ keyId: platform.keys.coordinator.keyId, publicKey: publicKey(), owner: 'coordinator' }]);
  const erase = async (id: string): Promise<string> => {
    const created = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id }, reason: 'case' } });
    expect(created.status).toBe(202);
    await platform.waitForRequest(created.body.id);
    return created.body.id as string;
  };
  /** As the insider: a superuser session on the coordinator's database, triggers off (`session_replication_role`). */
  const asInsider = async (sql: string | string[], params: unknown[] = []): Promise<void> => {
    await superuser.query('BEGIN');
    try {
      await superuser.query(`SET LOCAL session_replication_role = replica`);
      for (const statement of Array.isArray(sql) ? sql : [sql]) await superuser.query(statement, statement.includes('$1') ? params : []);
      await superuser.query('COMMIT');
    } catch (error) {
      await superuser.query('ROLLBACK');
      throw error;
    }
  };
  /** The ledger as it is now, to put back after a tampering (the next one starts from the real ledger). */
  const snapshot = async () => (await superuser.query(`SELECT to_jsonb(l) AS row FROM ledger_entries l ORDER BY seq`)).rows.map((r) => r.row);
  const restore = (rows: unknown[]) =>
    asInsider(
      [`DELETE FROM ledger_entries`, `INSERT INTO ledger_entries SELECT * FROM jsonb_populate_recordset(NULL::ledger_entries, $1::jsonb)`],
      [JSON.stringify(rows)],
    );

  beforeAll(async () => {
    platform = await startPlatform([sessionsService], { coordinatorEnv: { LEDGER_CHECKPOINT_INTERVAL_SECONDS: '3600' } });
    await platform.services
      .get('sessions')!
      .dataSource.query(
        `INSERT INTO sessions (user_id, started_at) SELECT 'u' || (i % 4), now() - interval '1 day' * (i % 5) FROM generate_series(1, 20) AS i`,
      );
    coordinatorDb = new URL((platform.coordinator.dataSource.options as { url: string }).url).pathname.slice(1);
    const url = new URL(testStack().superuserUrl);
    url.pathname = `/${coordinatorDb}`;
    superuser = new pg.Client({ connectionString: url.toString() });
    await superuser.connect();
    expect((await superuser.query(`SELECT rolsuper FROM pg_roles WHERE rolname = current_user`)).rows[0].rolsuper).toBe(true);
    for (const id of ['u0', 'u1', 'u2']) requests.push(await erase(id));
  });

  afterAll(async () => {
    await superuser?.end();
    await platform?.stop();
  });

  it('runs as a role that can only append to and read the ledger: every way to rewrite it fails as that role', async () => {
    const db = platform.coordinator.dataSource;
    const [{ role }] = await db.query('SELECT current_user AS role');
    expect(role).toBe('retention_e2e_coordinator');
    expect(await db.query('SELECT count(*)::int AS n FROM ledger_entries')).toEqual([{ n: expect.any(Number) }]);
    const refused = async (sql: string, message: RegExp) => {
      await expect(db.query(sql), sql).rejects.toThrow(message);
    };
    await refused(`UPDATE ledger_entries SET body = '{}' WHERE seq = 2`, /permission denied for table ledger_entries/);
    await refused(`DELETE FROM ledger_entries WHERE seq = 2`, /permission denied for table ledger_entries/);
    await refused(`TRUNCATE ledger_entries`, /permission denied for table ledger_entries/);
    await refused(`DROP TRIGGER ledger_entries_append_only ON ledger_entries`, /must be owner of (table|relation) ledger_entries/);
    await refused(`ALTER TABLE ledger_entries DISABLE TRIGGER ALL`, /must be owner of (table|relation) ledger_entries/);
    await refused(`DROP TABLE ledger_entries`, /must be owner of (table|relation) ledger_entries/);
    await refused(
      `CREATE OR REPLACE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`,
      /must be owner of function|permission denied for schema public/,
    );
    await refused(`SET session_replication_role = replica`, /permission denied to set parameter/);
    await refused(`UPDATE ledger_checkpoints SET root_hash = 'x'`, /permission denied for table ledger_checkpoints/);
    await refused(`DELETE FROM ledger_checkpoints`, /permission denied for table ledger_checkpoints/);
    await refused(`TRUNCATE ledger_checkpoints`, /permission denied for table ledger_checkpoints/);
    // The old bypass: PostgreSQL lets any role set a placeholder setting, but nothing honours it any more.
    await db.transaction(async (m) => {
      await m.query(`SET LOCAL retention.ledger_maintenance = 'on'`);
      await expect(m.query(`UPDATE ledger_entries SET body = '{}' WHERE seq = 2`)).rejects.toThrow(/permission denied for table ledger_entries/);
    });
    const [fn] = (await superuser.query(`SELECT prosrc FROM pg_proc WHERE proname = 'ledger_entries_append_only'`)).rows;
    expect(fn.prosrc).not.toContain('ledger_maintenance');
    // Even the owner (the migrations role) is stopped by the trigger, setting or not: no accident rewrites it.
    const owner = new pg.Client({ connectionString: new URL(`/${coordinatorDb}`, testStack().databaseUrl).toString() });
    await owner.connect();
    try {
      await owner.query(`SET retention.ledger_maintenance = 'on'`);
      await expect(owner.query(`UPDATE ledger_entries SET body = '{}' WHERE seq = 2`)).rejects.toThrow(/ledger_entries is append-only/);
      await expect(owner.query(`TRUNCATE ledger_entries`)).rejects.toThrow(/ledger_entries is append-only/);
    } finally {
      await owner.end();
    }
  });

  it('refuses to start as a role that could rewrite the ledger, and warns when one role does everything', async () => {
    const ownerUrl = new URL(`/${coordinatorDb}`, testStack().databaseUrl).toString();
    const superuserUrl = new URL(testStack().superuserUrl);
    superuserUrl.pathname = `/${coordinatorDb}`;
    const { logger, lines } = createTestLogger('coordinator-database');
    const open = (urls: { DATABASE_URL: string; DATABASE_MIGRATIONS_URL?: string }) =>
      openCoordinatorDatabase({ DATABASE_AUTO_CREATE: false, ...urls }, logger);
    await expect(open({ DATABASE_URL: ownerUrl, DATABASE_MIGRATIONS_URL: ownerUrl })).rejects.toThrow(
      /DATABASE_URL: logs in as "retention", the same role as DATABASE_MIGRATIONS_URL/,
    );
    await expect(open({ DATABASE_URL: superuserUrl.toString(), DATABASE_MIGRATIONS_URL: ownerUrl })).rejects.toThrow(
      /DATABASE_URL: its role "postgres" could rewrite the ledger \(is a superuser/,
    );
    const single = await open({ DATABASE_URL: ownerUrl });
    try {
      expect(lines.join('\n')).toContain('the ledger is tamper-evident (verify names changes against signed checkpoints) but not tamper-resistant');
    } finally {
      await single.destroy();
    }
  });

  it('signs checkpoints of the Merkle tree to a Kafka topic (and a copy in the database); reports carry the latest', async () => {
    const outcome = await platform.coordinator.checkpoint();
    expect(outcome.outcome).toBe('published');
    const checkpoint = (outcome as { checkpoint: Checkpoint }).checkpoint;
    const [{ n }] = await platform.coordinator.dataSource.query('SELECT max(seq)::int AS n FROM ledger_entries');
    expect(checkpoint.treeSize).toBe(n);
    expect((await platform.coordinator.checkpoint()).outcome).toBe('unchanged');

    // On the topic: a CloudEvent signed in its headers, whose checkpoint is signed too, keyed by its day.
    const topic = `${platform.prefix}data.retention.ledger.checkpoints`;
    const message = await waitForMessage(topic, (m) => {
      const event = decodeEvent(m.value, [EventTypes.ledgerCheckpoint]);
      return event.ok && event.event.type === EventTypes.ledgerCheckpoint && event.event.data.treeSize === checkpoint.treeSize;
    });
    const verified = verifyMessage(lookup(), { topic, key: message!.key, value: message!.value }, message!.headers);
    expect(verified.owner).toBe('coordinator');
    const decoded = decodeEvent(message!.value, [EventTypes.ledgerCheckpoint]);
    if (!decoded.ok) throw decoded.error;
    expect(decoded.event.data).toEqual(checkpoint);
    expect(message!.key).toBe(checkpoint.timestamp.slice(0, 10));
    expect(checkpointSignatureFailure(lookup(), checkpoint)).toBeNull();

    // The root is RFC 6962's over the entries' leaves, recomputed here from the database.
    const hashes = (await superuser.query(`SELECT hash FROM ledger_entries ORDER BY seq`)).rows.map((r) => r.hash as string);
    expect(new MerkleTree(Buffer.concat(hashes.map(ledgerLeafHash))).root().toString('hex')).toBe(checkpoint.rootHash);
    expect(checkpoint.lastEntryHash).toBe(hashes.at(-1));
    const [copy] = (await superuser.query(`SELECT tree_size::int, root_hash, signature FROM ledger_checkpoints ORDER BY tree_size DESC LIMIT 1`)).rows;
    expect(copy).toEqual({ tree_size: checkpoint.treeSize, root_hash: checkpoint.rootHash, signature: checkpoint.signature });

    const report = await platform.api('GET', '/v1/ledger/report?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z', auditor);
    expect(report.body.checkpoint).toEqual(checkpoint);
    const csv = await fetch(`${platform.coordinator.url}/v1/ledger/report?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z&format=csv`, {
      headers: { authorization: `Bearer ${TOKENS.auditor}` },
    });
    expect(JSON.parse(csv.headers.get('x-retention-checkpoint')!)).toEqual(checkpoint);

    const incremental = await verify();
    expect(incremental).toMatchObject({ ok: true, mode: 'incremental', entries: n, problems: [], verifiedFrom: n + 1, checkpoint });
    // The leader may have signed one of its own before this one (at start, under load): at least this one is checked.
    const full = await verify(true);
    expect(full).toMatchObject({ ok: true, mode: 'full', entries: n, problems: [], verifiedFrom: 1 });
    expect(full.checkpointsChecked).toBeGreaterThanOrEqual(1);
  });

  it('gives a completed erasure a signed receipt that the CLI checks offline; refuses the others', async () => {
    // A request after the last checkpoint: the receipt endpoint signs a checkpoint that covers it.
    const fresh = await erase('u3');
    const before = (await verify()).checkpoint.treeSize as number;
    const response = await platform.api('GET', `/v1/erasure-requests/${fresh}/receipt`, { token: TOKENS.requester });
    expect(response.status).toBe(200);
    const receipt = response.body;
    expect(receipt.checkpoint.treeSize).toBeGreaterThan(before);
    expect(receipt).toMatchObject({ format: 'retention-erasure-receipt/1', request: { id: fresh, kind: 'erasure', dryRun: false, subjectType: 'user' } });
    expect(receipt.targets).toEqual([
      expect.objectContaining({ service: 'sessions', status: 'completed', tables: [expect.objectContaining({ table: 'sessions', deleted: 5 })] }),
    ]);
    expect(receipt.entries.map((e: { type: string }) => e.type)).toEqual(['request.created', 'command.sent', 'ack.received', 'request.completed']);
    expect(JSON.stringify(receipt)).not.toContain('"u3"');
    expect(verifyReceipt(receipt, lookup())).toMatchObject({ ok: true, problems: [] });
    expect((await platform.api('GET', `/v1/erasure-requests/${requests[0]}/receipt`, auditor)).status).toBe(200);

    // Offline, as a regulator would: the file and the coordinator's public key, no network.
    const dir = mkdtempSync(join(tmpdir(), 'receipt-'));
    const file = join(dir, 'receipt.json');
    writeFileSync(file, JSON.stringify(receipt));
    const io = (out: string[]) => ({
      out: (t: string) => out.push(t),
      err: (t: string) => out.push(t),
      env: {},
      sleep: async () => {},
      client: { call: () => Promise.reject(new Error('offline')) },
    });
    const okOut: string[] = [];
    expect(await cli(['node', 'retention', 'verify-receipt', file, '--public-key', platform.keys.coordinator.publicKey], io(okOut))).toBe(0);
    writeFileSync(file, JSON.stringify({ ...receipt, targets: [{ ...receipt.targets[0], status: 'not_applicable' }] }));
    const badOut: string[] = [];
    expect(await cli(['node', 'retention', 'verify-receipt', file, '--public-key', platform.keys.coordinator.publicKey], io(badOut))).toBe(3);
    expect(badOut.join('\n')).toContain('receipt: receipt_signature');

    expect((await platform.api('GET', `/v1/erasure-requests/${fresh}/receipt`, { token: TOKENS.admin })).status).toBe(403);
    expect((await platform.api('GET', '/v1/erasure-requests/00000000-0000-4000-8000-000000000000/receipt', auditor)).status).toBe(404);
    const dry = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: 'u1' }, dryRun: true } });
    await platform.waitForRequest(dry.body.id);
    const dryReceipt = await platform.api('GET', `/v1/erasure-requests/${dry.body.id}/receipt`, auditor);
    expect(dryReceipt.status).toBe(409);
    expect(dryReceipt.body.error.message).toContain('dry run');
  });

  it('names a changed entry: inside the signed range with full, after the last checkpoint incrementally', async () => {
    expect(await platform.coordinator.checkpoint()).toMatchObject({ outcome: expect.stringMatching(/published|unchanged/) });
    const real = await snapshot();
    const [{ seq: middle }] = (await superuser.query(`SELECT seq::int FROM ledger_entries WHERE entry_type = 'ack.received' ORDER BY seq LIMIT 1`)).rows;
    await asInsider(`UPDATE ledger_entries SET body = jsonb_set(body, '{tables,0,deleted}', '0') WHERE seq = $1`, [middle]);
    expect((await verify(true)).problems).toEqual([expect.objectContaining({ kind: 'changed', seq: middle })]);
    expect((await verify(true)).firstBrokenEntry).toEqual({ seq: middle, reason: `entry ${middle}'s content does not match its hash` });
    // Its receipt is refused rather than signed over an altered entry.
    const altered = (await superuser.query(`SELECT request_id FROM ledger_entries WHERE seq = $1`, [middle])).rows[0].request_id;
    expect((await platform.api('GET', `/v1/erasure-requests/${altered}/receipt`, auditor)).status).toBe(409);
    await restore(real);

    // An entry no checkpoint covers yet: the incremental check recomputes those, and the next checkpoint is refused.
    const late = await erase('u0');
    const [{ seq: last }] = (await superuser.query(`SELECT max(seq)::int AS seq FROM ledger_entries WHERE request_id = $1`, [late])).rows;
    const beforeLate = await snapshot();
    await asInsider(`UPDATE ledger_entries SET body = '{"targets": 9}' WHERE seq = $1`, [last]);
    const found = await verify();
    expect(found).toMatchObject({ ok: false, mode: 'incremental' });
    expect(found.problems).toEqual([expect.objectContaining({ kind: 'changed', seq: last })]);
    expect(await platform.coordinator.checkpoint()).toMatchObject({ outcome: 'refused', reason: 'changed', seq: last });
    await restore(beforeLate);
    expect(await verify()).toMatchObject({ ok: true });
  });

  it('names a deleted entry and a truncated tail, incrementally', async () => {
    expect(await platform.coordinator.checkpoint()).toMatchObject({ outcome: expect.stringMatching(/published|unchanged/) });
    const real = await snapshot();
    const size = real.length;
    expect((await verify()).checkpoint.treeSize).toBe(size);
    await asInsider(`DELETE FROM ledger_entries WHERE seq = 4`);
    const deleted = await verify();
    expect(deleted).toMatchObject({ ok: false, mode: 'incremental' });
    expect(deleted.problems).toEqual([expect.objectContaining({ kind: 'deleted', seq: 4, count: 1 })]);
    await restore(real);

    await asInsider(`DELETE FROM ledger_entries WHERE seq > $1`, [size - 3]);
    const truncated = await verify();
    expect(truncated.problems).toEqual([expect.objectContaining({ kind: 'truncated', checkpoint: size, seq: size - 2 })]);
    expect(await platform.coordinator.checkpoint()).toMatchObject({ outcome: 'refused', reason: 'truncated' });
    await restore(real);
    expect(await verify()).toMatchObject({ ok: true });
  });

  it('names a truncated and rebuilt ledger with a consistent recomputed chain and tree, from the checkpoints on Kafka alone', async () => {
    const real = await snapshot();
    const checkpoints = (await superuser.query(`SELECT count(*)::int AS n FROM ledger_checkpoints`)).rows[0].n as number;
    expect(checkpoints).toBeGreaterThanOrEqual(2);
    // The insider rebuilds the whole ledger with one ack's counts changed, every hash recomputed the
    // way the coordinator computes them (so the chain is consistent), and removes the database's
    // copies of the checkpoints.
    const { ledgerEntryHash, LEDGER_GENESIS_HASH } = await import('@retention/contracts');
    let prev = LEDGER_GENESIS_HASH;
    const forged = real.map((row: any) => {
      const body = row.entry_type === 'ack.received' && row.request_id === requests[0] ? { ...row.body, tables: [] } : row.body;
      const content = {
        seq: Number(row.seq),
        requestId: row.request_id,
        type: row.entry_type,
        service: row.service,
        createdAt: new Date(row.created_at).toISOString(),
        body,
      };
      const hash = ledgerEntryHash(prev, content);
      const out = { ...row, body, prev_hash: prev, hash };
      prev = hash;
      return out;
    });
    await asInsider(`TRUNCATE ledger_entries`);
    await asInsider(`INSERT INTO ledger_entries SELECT * FROM jsonb_populate_recordset(NULL::ledger_entries, $1::jsonb)`, [JSON.stringify(forged)]);
    await asInsider(`TRUNCATE ledger_checkpoints`);
    expect((await superuser.query(`SELECT count(*)::int AS n FROM ledger_checkpoints`)).rows[0].n).toBe(0);

    const changed = Number(forged.find((row: any) => row.entry_type === 'ack.received' && row.request_id === requests[0]).seq);
    for (const full of [false, true]) {
      const found = await verify(full);
      expect(found.ok).toBe(false);
      // Every entry matches its (recomputed) hash and link: only the signed checkpoints from Kafka tell,
      // naming the first checkpoint whose range holds the change.
      expect(found.problems).toEqual([expect.objectContaining({ kind: 'rewritten' })]);
      expect(found.problems[0].seq).toBeLessThanOrEqual(changed);
      expect(found.problems[0].checkpoint).toBeGreaterThanOrEqual(changed);
    }
    expect(await platform.coordinator.checkpoint()).toMatchObject({ outcome: 'refused', reason: 'rewritten' });
    expect((await platform.api('GET', `/v1/erasure-requests/${requests[0]}/receipt`, auditor)).status).toBe(409);
    await restore(real);
    expect(await verify(true)).toMatchObject({ ok: true });
  });

  it('trusts only checkpoints the coordinator signed: forged ones on the topic are dead-lettered and change nothing', async () => {
    const topic = `${platform.prefix}data.retention.ledger.checkpoints`;
    const claim = { treeSize: 1_000_000, rootHash: '11'.repeat(32), lastEntryHash: '22'.repeat(32), timestamp: new Date().toISOString() };
    const value = (c: Checkpoint) => encodeEvent(EventTypes.ledgerCheckpoint, c, { source: '/retention/coordinator' }).value;
    const sessionsKey = platform.keys.service('sessions');
    // Signed by another key than the coordinator's (in the headers and in the checkpoint).
    const foreign = value(signCheckpoint(sessionsKey, claim));
    // Sent as the coordinator (headers signed with its key), but the checkpoint's own signature is not its.
    const relabelled = value({ ...signCheckpoint(sessionsKey, claim), keyId: platform.keys.coordinator.keyId });
    await produceSigned(sessionsKey, topic, [{ key: 'forged', value: foreign }]);
    await produceSigned(platform.keys.coordinator, topic, [{ key: 'forged', value: relabelled }]);
    // Had either been believed, the ledger would be 'truncated' (a checkpoint of a million entries).
    const result = await verify();
    expect(result).toMatchObject({ ok: true, problems: [] });
    expect(result.checkpoint.treeSize).toBeLessThan(1_000_000);
    const text = await (await fetch(`${platform.coordinator.url}/metrics`)).text();
    expect(text).toMatch(/retention_dead_letters_total\{consumer="coordinator.checkpoints",reason="unknown_signing_key"[^}]*\} 1/);
    expect(text).toMatch(/retention_dead_letters_total\{consumer="coordinator.checkpoints",reason="signature_invalid"[^}]*\} 1/);
  });

  it('exposes the ledger proof metrics', async () => {
    const text = await (await fetch(`${platform.coordinator.url}/metrics`)).text();
    expect(text).toMatch(/retention_ledger_checkpoints_total\{outcome="published"[^}]*\} [1-9]/);
    expect(text).toMatch(/retention_ledger_checkpoint_refusals_total\{reason="rewritten"[^}]*\} [1-9]/);
    expect(text).toMatch(/retention_ledger_checkpoint_entries\{[^}]*\} [1-9]/);
    expect(text).toMatch(/retention_ledger_unanchored_entries\{[^}]*\} \d/);
    expect(text).toMatch(/retention_ledger_verify_problems\{kind="rewritten"[^}]*\} 0/);
  });
});
