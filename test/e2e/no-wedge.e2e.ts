import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { subjectRef } from '@retention/service-coordinator';
import { mlDataService } from '@retention/service-ml-data';
import { sessionsService } from '@retention/service-sessions';
import { testStack, uniqueSuffix, waitFor } from '@retention/testing';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform, TOKENS } from './support';

const DAY = 86_400_000;
const HMAC_KEY = 'test-hmac-key-0123456789'; // the coordinator's RETENTION_SUBJECT_HMAC_KEY in support.ts
const COMMAND_PARTITIONS = 6;

/** The partition kafkajs's default (Java-compatible) partitioner gives `key` on the command topic. */
function partitionOf(key: string): number {
  const partitionMetadata = Array.from({ length: COMMAND_PARTITIONS }, (_, partitionId) => ({
    partitionId,
    leader: 1,
    replicas: [1],
    isr: [1],
    partitionErrorCode: 0,
  }));
  return Partitioners.DefaultPartitioner()({ topic: 'commands', partitionMetadata, message: { key, value: null } });
}

/** Where each of `keys` landed on `topic`, read back from the broker. */
async function partitionsOnBroker(topic: string, keys: readonly string[]): Promise<Map<string, number>> {
  const kafka = new Kafka({ clientId: `e2e-${uniqueSuffix()}`, brokers: testStack().kafkaBrokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `e2e-reader-${uniqueSuffix()}` });
  const found = new Map<string, number>();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const key = message.key?.toString();
        if (key && keys.includes(key)) found.set(key, partition);
      },
    });
    return await waitFor('the commands on the broker', async () => (found.size === keys.length ? found : undefined));
  } finally {
    await consumer.disconnect();
  }
}

/**
 * Errors never wedge a partition, on the real stack: a command that fails with an error that will
 * not pass by itself acks `failed` with its code and the next command of the same partition is
 * applied; rows locked by another transaction are waited for with a backoff, not in a busy loop.
 */
describe('errors never wedge a partition', () => {
  let platform: Platform;
  let filesRoot: string;

  beforeAll(async () => {
    filesRoot = await mkdtemp(join(tmpdir(), 'retention-e2e-no-wedge-'));
    platform = await startPlatform([sessionsService, mlDataService], { serviceEnv: { 'ml-data': { RETENTION_FILES_ROOT: filesRoot } } });
  });

  afterAll(async () => {
    await platform?.stop();
    await rm(filesRoot, { recursive: true, force: true });
  });

  const sessions = () => platform.services.get('sessions')!.dataSource;
  const ml = () => platform.services.get('ml-data')!.dataSource;
  const auditRows = async (requestId: string): Promise<number> =>
    ((await sessions().query(`SELECT count(*)::int AS n FROM retention_audit WHERE request_id = $1`, [requestId])) as Array<{ n: number }>)[0]!.n;
  const waitForSweep = (id: string): Promise<any> =>
    waitFor(`sweep ${id} to finish`, async () => {
      const { body } = await platform.api('GET', `/v1/sweeps/${id}`);
      return ['completed', 'failed'].includes(body.status) ? body : undefined;
    });

  it('a directory sweep failing with a real file system error (ENOTDIR) acks failed with the code, and the next command on its partition is applied', async () => {
    // A regular file where the policy's directory should be: readdir fails with ENOTDIR (we run as root, so EACCES would not).
    await writeFile(join(filesRoot, 'models'), 'not a directory');
    const sweepKey = 'sweep:ml-data:model_artifacts';
    // A subject whose erasure command lands on the same partition as the sweep.
    let subject = '';
    for (let i = 0; !subject; i++) if (partitionOf(subjectRef(HMAC_KEY, { type: 'user', id: `wedge-${i}` })) === partitionOf(sweepKey)) subject = `wedge-${i}`;
    await ml().query(`INSERT INTO inference_logs (user_id, model_version, prediction, created_at) VALUES ($1, 'v1', '{}', now()), ($1, 'v1', '{}', now())`, [
      subject,
    ]);

    const sweep = await platform.api('POST', '/v1/sweeps', { body: { service: 'ml-data', policy: 'model_artifacts' } });
    expect(sweep.status).toBe(202);
    const erasure = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: subject } } });
    expect(erasure.status).toBe(202);
    const onBroker = await partitionsOnBroker(`${platform.prefix}data.retention`, [sweepKey, subjectRef(HMAC_KEY, { type: 'user', id: subject })]);
    expect(new Set(onBroker.values()).size).toBe(1);

    const failed = await waitForSweep(sweep.body.id);
    expect(failed).toMatchObject({ status: 'failed', targets: [{ service: 'ml-data', status: 'failed', error: { code: 'ENOTDIR', retriable: false } }] });
    expect(JSON.stringify(failed)).not.toContain(filesRoot);
    const erased = await platform.waitForRequest(erasure.body.id);
    expect(erased.status).toBe('completed');
    expect(erased.targets.find((t: any) => t.service === 'ml-data')).toMatchObject({
      status: 'completed',
      tables: [expect.objectContaining({ table: 'training_records', deleted: 0 }), expect.objectContaining({ table: 'inference_logs', deleted: 2 })],
    });

    // Once the cause is fixed, the same sweep (same key, same partition) runs.
    await rm(join(filesRoot, 'models'));
    await mkdir(join(filesRoot, 'models'));
    await writeFile(join(filesRoot, 'models', 'old.pt'), 'weights');
    const old = new Date(Date.now() - 200 * DAY);
    await utimes(join(filesRoot, 'models', 'old.pt'), old, old);
    const again = await platform.api('POST', '/v1/sweeps', { body: { service: 'ml-data', policy: 'model_artifacts' } });
    expect(await waitForSweep(again.body.id)).toMatchObject({ status: 'completed', targets: [{ tables: [expect.objectContaining({ deleted: 1 })] }] });
    expect(existsSync(join(filesRoot, 'models', 'old.pt'))).toBe(false);
  });

  it('a row locked by another transaction is waited for with a backoff: no audit rows for passes that changed nothing, and the erasure completes once the lock goes', async () => {
    await sessions().query(`INSERT INTO sessions (user_id, started_at) VALUES ('lena', now()), ('lena', now()), ('lena', now())`);
    const locker = sessions().createQueryRunner();
    await locker.connect();
    await locker.startTransaction();
    try {
      await locker.query(`SELECT id FROM sessions WHERE user_id = 'lena' ORDER BY id LIMIT 1 FOR UPDATE`);
      const created = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: 'lena' } } });
      expect(created.status).toBe(202);
      // The two free rows go at once (one audit row); the locked one is waited for.
      await waitFor('the free rows to go', async () => ((await auditRows(created.body.id)) === 1 ? true : undefined));
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(await auditRows(created.body.id)).toBe(1);
      const retries = /retention_command_retries_total\{reason="rows_locked"[^}]*\} (\d+)/.exec(await platform.services.get('sessions')!.registry.metrics());
      // A growing pause (50 ms doubling to 5 s): a handful of passes in 3 s, where a busy loop made thousands.
      expect(Number(retries?.[1])).toBeGreaterThan(0);
      expect(Number(retries?.[1])).toBeLessThan(20);
      await locker.commitTransaction();
      const done = await platform.waitForRequest(created.body.id);
      expect(done.targets.find((t: any) => t.service === 'sessions')).toMatchObject({
        status: 'completed',
        tables: [{ table: 'sessions', action: 'delete', matched: 3, deleted: 3, anonymized: 0, archived: 0, held: 0 }],
      });
      expect(await auditRows(created.body.id)).toBe(2);
    } finally {
      if (locker.isTransactionActive) await locker.rollbackTransaction();
      await locker.release();
    }
  });
});
