import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { ConfigError, decodeEvent, encodeEventVersion, EventTypes } from '@retention/contracts';
import { startRetentionService } from '@retention/consumer';
import { definePolicies } from '@retention/policy';
import { mlDataService } from '@retention/service-ml-data';
import { Session, sessionsService } from '@retention/service-sessions';
import { waitFor } from '@retention/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { produceSigned, readTopic } from './kafka-helpers';
import { type Platform, startPlatform, TOKENS } from './support';

const DAY = 86_400_000;

/**
 * The consumer SDK's guarantees against the real broker and database: files go only after their
 * rows, holds win, dry runs change nothing, a command is applied once, a bad message is
 * dead-lettered without stopping the consumer, and a bad policy stops the service at start.
 */
describe('consumer SDK guarantees', () => {
  let platform: Platform;
  let filesRoot: string;

  beforeAll(async () => {
    filesRoot = await mkdtemp(join(tmpdir(), 'retention-e2e-files-'));
    platform = await startPlatform([sessionsService, mlDataService], { serviceEnv: { 'ml-data': { RETENTION_FILES_ROOT: filesRoot } } });
  });

  afterAll(async () => {
    await platform?.stop();
    await rm(filesRoot, { recursive: true, force: true });
  });

  const ml = () => platform.services.get('ml-data')!.dataSource;
  const sessions = () => platform.services.get('sessions')!.dataSource;

  async function addTrainingRecord(userId: string, ageDays: number): Promise<string> {
    const path = `training/${userId}-${randomUUID()}.json`;
    await mkdir(join(filesRoot, 'training'), { recursive: true });
    await writeFile(join(filesRoot, path), '{"text":"x"}');
    await ml().query(`INSERT INTO training_records (user_id, artifact_path, label, created_at) VALUES ($1, $2, 'ham', now() - make_interval(days => $3))`, [
      userId,
      path,
      ageDays,
    ]);
    return path;
  }

  async function erase(id: string, dryRun = false): Promise<any> {
    const created = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id }, dryRun } });
    expect(created.status).toBe(202);
    return platform.waitForRequest(created.body.id);
  }

  it("erasure deletes the subject's rows and then their files; other subjects keep theirs", async () => {
    const gone = [await addTrainingRecord('mia', 1), await addTrainingRecord('mia', 200)];
    const kept = await addTrainingRecord('noah', 1);
    await ml().query(
      `INSERT INTO inference_logs (user_id, model_version, prediction, created_at) VALUES ('mia', 'v1', '{}', now()), ('noah', 'v1', '{}', now())`,
    );

    const done = await erase('mia');
    const target = done.targets.find((t: any) => t.service === 'ml-data');
    expect(target.status).toBe('completed');
    expect(target.tables).toEqual([
      { table: 'training_records', action: 'delete', matched: 2, deleted: 2, anonymized: 0, archived: 0, held: 0 },
      { table: 'inference_logs', action: 'delete', matched: 1, deleted: 1, anonymized: 0, archived: 0, held: 0 },
    ]);
    for (const path of gone) expect(existsSync(join(filesRoot, path))).toBe(false);
    expect(existsSync(join(filesRoot, kept))).toBe(true);
    expect(await ml().query(`SELECT count(*)::int AS n FROM training_records WHERE user_id = 'noah'`)).toEqual([{ n: 1 }]);
    expect(await ml().query(`SELECT count(*)::int AS n FROM retention_file_deletions`)).toEqual([{ n: 0 }]);
  });

  it('a rolled-back batch leaves rows and files; a committed one queues the files it removes', async () => {
    const path = await addTrainingRecord('olga', 1);
    const runner = ml().createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    await runner.query(
      `WITH gone AS (DELETE FROM training_records WHERE user_id = 'olga' RETURNING artifact_path) INSERT INTO retention_file_deletions (path) SELECT artifact_path FROM gone`,
    );
    await runner.rollbackTransaction();
    await runner.release();
    expect(await ml().query(`SELECT count(*)::int AS n FROM retention_file_deletions`)).toEqual([{ n: 0 }]);
    expect(existsSync(join(filesRoot, path))).toBe(true);
    await erase('olga');
    expect(existsSync(join(filesRoot, path))).toBe(false);
  });

  it('a sweep removes expired rows, their files and old model artifacts of allowed suffixes only; its dry run counts the same and changes nothing', async () => {
    await ml().query('DELETE FROM training_records');
    await ml().query('DELETE FROM inference_logs');
    const expired = await addTrainingRecord('pia', 91);
    const fresh = await addTrainingRecord('pia', 89);
    await ml().query(
      `INSERT INTO inference_logs (user_id, model_version, prediction, created_at) VALUES ('pia', 'v1', '{}', now() - interval '31 days'), ('pia', 'v1', '{}', now() - interval '29 days')`,
    );
    await mkdir(join(filesRoot, 'models', 'nested'), { recursive: true });
    const models: Array<[string, number]> = [
      ['old.pt', 100],
      ['nested/old.safetensors', 365],
      ['new.onnx', 10],
      ['old-notes.txt', 365],
      ['README.md', 365],
    ];
    for (const [name, age] of models) {
      await writeFile(join(filesRoot, 'models', name), name);
      const at = new Date(Date.now() - age * DAY);
      await utimes(join(filesRoot, 'models', name), at, at);
    }

    const sweep = async (dryRun: boolean): Promise<any> => {
      const created = await platform.api('POST', '/v1/sweeps', { body: { service: 'ml-data', dryRun } });
      expect(created.status).toBe(202);
      return waitFor('sweep to complete', async () => {
        const { body } = await platform.api('GET', `/v1/sweeps/${created.body.id}`);
        return body.status === 'completed' ? body : undefined;
      });
    };
    const dry = await sweep(true);
    expect(existsSync(join(filesRoot, expired))).toBe(true);
    expect(await readdir(join(filesRoot, 'models'))).toHaveLength(5);
    expect(await ml().query(`SELECT count(*)::int AS n FROM training_records`)).toEqual([{ n: 2 }]);

    const real = await sweep(false);
    const counts = (s: any) => s.targets[0].tables.map((t: any) => ({ policy: t.policy, matched: t.matched, deleted: t.deleted, held: t.held }));
    expect(counts(real)).toEqual([
      { policy: 'training_records', matched: 1, deleted: 1, held: 0 },
      { policy: 'inference_logs', matched: 1, deleted: 1, held: 0 },
      { policy: 'model_artifacts', matched: 2, deleted: 2, held: 0 },
    ]);
    expect(counts(dry)).toEqual(counts(real));
    expect(dry.dryRun).toBe(true);
    expect(existsSync(join(filesRoot, expired))).toBe(false);
    expect(existsSync(join(filesRoot, fresh))).toBe(true);
    expect((await readdir(join(filesRoot, 'models'))).sort()).toEqual(['README.md', 'nested', 'new.onnx', 'old-notes.txt']);
    expect(await readdir(join(filesRoot, 'models', 'nested'))).toEqual([]);
    const metrics = await platform.services.get('ml-data')!.registry.metrics();
    expect(metrics).toMatch(/retention_records_processed_total\{policy="model_artifacts",action="delete",service="ml-data"\} 2/);
    expect(metrics).toMatch(/retention_run_duration_seconds_count\{service="ml-data",policy="all"\} 2/);
    expect(metrics).toMatch(/retention_commands_total\{kind="sweep",outcome="completed",service="ml-data"\} 2/);
  });

  it('legal holds win: by subject, by record and by policy', async () => {
    await sessions().query(
      `INSERT INTO sessions (user_id, started_at) VALUES ('quinn', now()), ('quinn', now() - interval '1 day'), ('rosa', now()), ('rosa', now())`,
    );

    // Subject hold: the erasure is held (not complete), with the hold's id, and nothing changes.
    const hold = await platform.api('POST', '/v1/legal-holds', {
      body: { scope: 'subject', subject: { type: 'user', id: 'quinn' }, reason: 'litigation 2026-17' },
    });
    expect(hold.status).toBe(201);
    expect(hold.body).toMatchObject({ scope: 'subject', subjectType: 'user', active: true });
    expect(JSON.stringify(hold.body)).not.toContain('quinn');
    const held = await erase('quinn');
    expect(held.status).toBe('held');
    for (const t of held.targets) {
      expect(t.status).toBe('held');
      expect(t.holdIds).toEqual([hold.body.id]);
    }
    expect(await sessions().query(`SELECT count(*)::int AS n FROM sessions WHERE user_id = 'quinn'`)).toEqual([{ n: 2 }]);

    // Released: the held erasure resumes by itself and now removes the data.
    expect((await platform.api('DELETE', `/v1/legal-holds/${hold.body.id}`)).body).toMatchObject({ active: false });
    const after = await platform.waitForRequest(held.id, ['completed']);
    expect(after.targets.find((t: any) => t.service === 'sessions')).toMatchObject({ status: 'completed', tables: [expect.objectContaining({ deleted: 2 })] });

    // Record hold: that one row stays, the rest of the subject goes; the ack says so.
    const [row] = (await sessions().query(`SELECT id FROM sessions WHERE user_id = 'rosa' LIMIT 1`)) as Array<{ id: string }>;
    const recordHold = await platform.api('POST', '/v1/legal-holds', {
      body: { scope: 'record', service: 'sessions', table: 'sessions', recordKey: row!.id, reason: 'evidence' },
    });
    expect(recordHold.status).toBe(201);
    const partial = await erase('rosa');
    const target = partial.targets.find((t: any) => t.service === 'sessions');
    expect(target.status).toBe('held');
    expect(target.tables).toEqual([{ table: 'sessions', action: 'delete', matched: 2, deleted: 1, anonymized: 0, archived: 0, held: 1 }]);
    expect(await sessions().getRepository(Session).findBy({ userId: 'rosa' })).toEqual([expect.objectContaining({ id: row!.id })]);

    // Policy hold: a sweep of that policy changes nothing and reports the rows as held.
    await sessions().query(`INSERT INTO sessions (user_id, started_at) VALUES ('sam', now() - interval '100 days')`);
    const policyHold = await platform.api('POST', '/v1/legal-holds', { body: { scope: 'policy', policy: 'session_logs', reason: 'regulator inquiry' } });
    const sweep = await platform.api('POST', '/v1/sweeps', { body: { service: 'sessions', policy: 'session_logs' } });
    const swept = await waitFor('sweep', async () => {
      const { body } = await platform.api('GET', `/v1/sweeps/${sweep.body.id}`);
      return body.status === 'completed' ? body : undefined;
    });
    expect(swept.targets[0].tables[0]).toMatchObject({ policy: 'session_logs', deleted: 0, held: 1 });
    expect(swept.targets[0].holdIds).toEqual([policyHold.body.id]);
    expect(await sessions().query(`SELECT count(*)::int AS n FROM sessions WHERE user_id = 'sam'`)).toEqual([{ n: 1 }]);
    await platform.api('DELETE', `/v1/legal-holds/${policyHold.body.id}`);
  });

  it('a command delivered twice is applied once, and its ack is sent again', async () => {
    const requestId = randomUUID();
    await sessions().query(`INSERT INTO sessions (user_id, started_at) VALUES ('tom', now()), ('tom', now())`);
    const { value } = encodeEventVersion(
      EventTypes.erasureRequested,
      1,
      {
        requestId,
        subject: { type: 'user', id: 'tom' },
        requestedAt: new Date().toISOString(),
        dueAt: new Date(Date.now() + 30 * DAY).toISOString(),
        targets: ['sessions'],
      },
      { source: 'e2e' },
    );
    await produceSigned(platform.keys.coordinator, `${platform.prefix}data.retention`, [{ key: 'tom', value }]);
    const readAllAcks = async () => {
      const all = await readTopic(`${platform.prefix}data.retention.ack`, 1);
      return all.map((m) => decodeEvent(m.value)).flatMap((d) => (d.ok && d.event.type === EventTypes.ack ? [d.event.data] : []));
    };
    // Polled: each read is a fresh group from the beginning of the topic.
    const acksFor = async (n: number) => (await readAllAcks()).filter((a) => a.requestId === requestId && a.service === 'sessions').length >= n;
    await waitFor('first ack', async () => ((await acksFor(1)) ? true : undefined), { timeoutMs: 30_000 });

    // A row for the same subject written after the first delivery must survive the second.
    await sessions().query(`INSERT INTO sessions (user_id, started_at) VALUES ('tom', now())`);
    await produceSigned(platform.keys.coordinator, `${platform.prefix}data.retention`, [{ key: 'tom', value }]);
    await waitFor('second ack', async () => ((await acksFor(2)) ? true : undefined), { timeoutMs: 30_000 });

    const acks = (await readAllAcks()).filter((a) => a.requestId === requestId && a.service === 'sessions');
    expect(acks.map((a) => a.tables)).toEqual([acks[0]!.tables, acks[0]!.tables]);
    expect(acks[0]!.tables[0]).toMatchObject({ deleted: 2 });
    expect(await sessions().query(`SELECT count(*)::int AS n FROM sessions WHERE user_id = 'tom'`)).toEqual([{ n: 1 }]);
    expect(await sessions().query(`SELECT count(*)::int AS n FROM retention_audit WHERE request_id = $1`, [requestId])).toEqual([{ n: 1 }]);
    expect(await sessions().query(`SELECT deliveries FROM retention_inbox WHERE request_id = $1`, [requestId])).toEqual([{ deliveries: 2 }]);
  });

  it('a malformed command goes to the dead-letter topic with the reason, and the next command is processed', async () => {
    const requestId = randomUUID();
    await sessions().query(`INSERT INTO sessions (user_id, started_at) VALUES ('uma', now())`);
    const { value } = encodeEventVersion(
      EventTypes.erasureRequested,
      1,
      {
        requestId,
        subject: { type: 'user', id: 'uma' },
        requestedAt: new Date().toISOString(),
        dueAt: new Date(Date.now() + DAY).toISOString(),
        targets: ['sessions'],
      },
      { source: 'e2e' },
    );
    const v2 = value.replace(':1.0"', ':9.0"');
    await produceSigned(platform.keys.coordinator, `${platform.prefix}data.retention`, [
      { key: 'x', value: '{not json' },
      { key: 'x', value: v2 },
      { key: 'uma', value },
    ]);
    await waitFor('the valid command to be applied', async () => {
      const [row] = (await sessions().query(`SELECT status FROM retention_inbox WHERE request_id = $1`, [requestId])) as Array<{ status: string }>;
      return row?.status === 'done' ? true : undefined;
    });
    expect(await sessions().query(`SELECT count(*)::int AS n FROM sessions WHERE user_id = 'uma'`)).toEqual([{ n: 0 }]);
    const letters = (await readTopic(`${platform.prefix}data.retention.dlq`, 2))
      .map((m) => decodeEvent(m.value, [EventTypes.deadLetter]))
      .flatMap((d) => (d.ok ? [d.event.data] : []))
      .filter((d) => d.consumer === 'sessions');
    expect(letters.map((l) => l.reason.code).sort()).toEqual(['unsupported_version', 'validation_failed']);
    expect(letters.find((l) => l.reason.code === 'validation_failed')!.reason.message).toContain('not valid JSON');
    expect(letters.find((l) => l.reason.code === 'unsupported_version')!.reason.message).toContain('major version 9');
  });

  it('a policy naming an unknown column stops the service at start, naming it', async () => {
    const broken = definePolicies({
      service: 'sessions',
      rules: [{ name: 'session_logs', table: 'sessions', timestampColumn: 'startd_at', retention: { days: 90 }, action: 'delete', legalBasis: 'test' }],
    });
    const error = await startRetentionService({ ...sessionsService, policies: broken }, platform.serviceConfigs.get('sessions')!).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain('rules[0].timestampColumn: table "sessions" has no column "startd_at"');
  });
});
