import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { mlDataService } from '@retention/service-ml-data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform, TOKENS } from './support';

/**
 * Complete means done, files included: an erasure acks `completed` only once the files of its
 * deleted rows are gone; a file that cannot be deleted makes the target `failed` with the error
 * code, and the coordinator's retry finishes the job once the cause is fixed.
 */
describe('erasure files are gone before the ack', () => {
  let platform: Platform;
  let filesRoot: string;

  beforeAll(async () => {
    filesRoot = await mkdtemp(join(tmpdir(), 'retention-e2e-erasure-files-'));
    platform = await startPlatform([mlDataService], { serviceEnv: { 'ml-data': { RETENTION_FILES_ROOT: filesRoot } } });
  });

  afterAll(async () => {
    await platform?.stop();
    await rm(filesRoot, { recursive: true, force: true });
  });

  const ml = () => platform.services.get('ml-data')!.dataSource;

  async function addTrainingRecord(userId: string): Promise<string> {
    const path = `training/${userId}-${randomUUID()}.json`;
    await mkdir(join(filesRoot, 'training'), { recursive: true });
    await writeFile(join(filesRoot, path), '{"text":"x"}');
    await ml().query(`INSERT INTO training_records (user_id, artifact_path, label, created_at) VALUES ($1, $2, 'ham', now())`, [userId, path]);
    return path;
  }

  const queued = async (): Promise<number> => ((await ml().query(`SELECT count(*)::int AS n FROM retention_file_deletions`)) as Array<{ n: number }>)[0]!.n;
  const gauge = async (name: string): Promise<number> => {
    const text = await platform.services.get('ml-data')!.registry.metrics();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
    return Number(line?.split(' ').at(-1));
  };

  it('a file that cannot be deleted fails the target with its code; after the fix, the retry deletes it and completes', async () => {
    const ok = await addTrainingRecord('femke');
    const stuck = await addTrainingRecord('femke');
    // A real error that root cannot override: the artifact's path is now a non-empty directory.
    await rm(join(filesRoot, stuck));
    await mkdir(join(filesRoot, stuck));
    await writeFile(join(filesRoot, stuck, 'inside'), 'x');

    const created = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: 'femke' } } });
    const id = created.body.id as string;
    const failed = await platform.waitForRequest(id);
    expect(failed.status).toBe('failed');
    const target = failed.targets[0];
    expect(target).toMatchObject({ service: 'ml-data', status: 'failed', error: { code: 'EISDIR', retriable: false } });
    // The message names no path (paths can name a person).
    expect(target.error.message).not.toContain('femke');
    // The rows are gone (their batch committed), the other file too; the stuck one stays queued for the retry.
    expect(target.tables).toEqual([
      { table: 'training_records', action: 'delete', matched: 2, deleted: 2, anonymized: 0, archived: 0, held: 0 },
      { table: 'inference_logs', action: 'delete', matched: 0, deleted: 0, anonymized: 0, archived: 0, held: 0 },
    ]);
    expect(await ml().query(`SELECT count(*)::int AS n FROM training_records WHERE user_id = 'femke'`)).toEqual([{ n: 0 }]);
    expect(existsSync(join(filesRoot, ok))).toBe(false);
    expect((await stat(join(filesRoot, stuck))).isDirectory()).toBe(true);
    expect(await queued()).toBe(1);
    expect(await gauge('retention_file_deletions_pending')).toBe(1);
    expect(await gauge('retention_file_deletion_oldest_seconds')).toBeGreaterThan(0);
    const [ack] = (await platform.coordinator.dataSource.query(
      `SELECT body FROM ledger_entries WHERE request_id = $1 AND entry_type = 'ack.received' ORDER BY seq`,
      [id],
    )) as Array<{ body: any }>;
    expect(ack!.body).toMatchObject({ status: 'failed', error: { code: 'EISDIR', retriable: false } });
    const types = (await platform.coordinator.dataSource.query(`SELECT entry_type FROM ledger_entries WHERE request_id = $1 ORDER BY seq`, [id])) as Array<{
      entry_type: string;
    }>;
    expect(types.map((t) => t.entry_type)).toContain('request.failed');

    // The cause fixed (a file where the directory was), the retry deletes it and the request completes.
    await rm(join(filesRoot, stuck), { recursive: true });
    await writeFile(join(filesRoot, stuck), '{"text":"x"}');
    expect((await platform.api('POST', `/v1/erasure-requests/${id}/retry`)).status).toBe(202);
    const done = await platform.waitForRequest(id, ['completed']);
    expect(done.targets[0]).toMatchObject({ status: 'completed', attempts: 2 });
    expect(done.targets[0].tables[0]).toMatchObject({ table: 'training_records', deleted: 2 });
    expect(existsSync(join(filesRoot, stuck))).toBe(false);
    expect(await queued()).toBe(0);
    expect(await gauge('retention_file_deletions_pending')).toBe(0);
    expect(await gauge('retention_file_deletion_oldest_seconds')).toBe(0);
  });

  it('a completed erasure has no file left at the moment it is complete', async () => {
    const paths = [await addTrainingRecord('gerrit'), await addTrainingRecord('gerrit')];
    const created = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: 'gerrit' } } });
    const done = await platform.waitForRequest(created.body.id);
    expect(done.status).toBe('completed');
    for (const path of paths) expect(existsSync(join(filesRoot, path))).toBe(false);
    expect(await queued()).toBe(0);
  });
});
