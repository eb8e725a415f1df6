import { isUnreachable } from '@retention/contracts';
import { createDataSource, openDatabase } from '@retention/database';
import { createKafka, createPublisher, type OutgoingMessage, type Publisher } from '@retention/kafka';
import { Registry } from '@retention/observability';
import { createTestDatabase, createTestLogger, type TestDatabase, testStack, uniqueSuffix, uniqueTopicPrefix, waitFor } from '@retention/testing';
import type { Kafka } from 'kafkajs';
import { createServer } from 'node:net';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OutboxMessage } from './outbox-message.entity';
import { outboxMigrations } from './outbox.migration';
import { enqueueOutbox } from './outbox.repository';
import { OutboxRelay } from './outbox-relay';

/** What a kafkajs producer throws when no broker answers (produced for real against a closed port). */
async function unreachableBrokerError(): Promise<unknown> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  const kafka = createKafka({
    brokers: [`127.0.0.1:${port}`],
    clientId: 'unreachable',
    logger: createTestLogger('kafka').logger,
    overrides: { retry: { retries: 0 } },
  });
  return kafka
    .producer()
    .connect()
    .then(
      () => {
        throw new Error('expected the connection to fail');
      },
      (error: unknown) => error,
    );
}

/** The relay against a real PostgreSQL and a real broker. */
describe('outbox relay on PostgreSQL and Kafka', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let kafka: Kafka;
  let real: Publisher;
  let brokerDown: unknown;
  let sent: OutgoingMessage[];
  let failing: boolean;
  let registry: Registry;
  const prefix = uniqueTopicPrefix();
  const topics = { ok: `${prefix}ok`, small: `${prefix}small`, missing: `${prefix}missing`, plain: `${prefix}plain` };
  /** The real publisher, or the real "no broker" error while `failing`. */
  const publisher: Publisher = {
    publish: async (messages) => {
      if (failing) throw brokerDown;
      await real.publish(messages);
      sent.push(...messages);
    },
    disconnect: async () => {},
  };
  const relay = (batchSize = 500) =>
    new OutboxRelay({ dataSource: ds, publisher, logger: createTestLogger('outbox').logger, batchSize, idleMs: 10_000, parkAfterAttempts: 3, registry });
  const queued = async (): Promise<number> => ((await ds.query('SELECT count(*)::int AS n FROM retention_outbox')) as Array<{ n: number }>)[0]!.n;
  const enqueue = (messages: Array<Omit<OutgoingMessage, 'headers'>>) => ds.transaction((m) => enqueueOutbox(m, messages));
  const enqueueN = (n: number, from = 0) => enqueue(Array.from({ length: n }, (_, i) => ({ topic: topics.plain, key: `k${from + i}`, value: `v${from + i}` })));
  const metric = async (name: string, labels: Record<string, string> = {}): Promise<number> => {
    const values = (await registry.getSingleMetric(name)!.get()).values;
    return values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((n, v) => n + v.value, 0);
  };
  async function readAll(topic: string, count: number): Promise<Array<{ key: string | null; value: string | null }>> {
    const consumer = kafka.consumer({ groupId: `int-outbox-reader-${uniqueSuffix()}` });
    const received: Array<{ key: string | null; value: string | null }> = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => void received.push({ key: message.key?.toString() ?? null, value: message.value?.toString() ?? null }),
      });
      await waitFor(`${count} message(s) on ${topic}`, async () => (received.length >= count ? true : undefined), { timeoutMs: 30_000 });
      // Anything beyond `count` that was published would arrive with them (one partition, read from the start).
      await new Promise((resolve) => setTimeout(resolve, 500));
      return received;
    } finally {
      await consumer.disconnect();
    }
  }

  beforeAll(async () => {
    db = await createTestDatabase(testStack().databaseUrl, 'int_outbox');
    ds = createDataSource({ url: db.url, entities: [OutboxMessage], migrations: outboxMigrations });
    await openDatabase(ds);
    // kafkajs retries an unknown topic (a retriable error to it) 8 times in production, about 50 s; 1 here.
    kafka = createKafka({
      brokers: testStack().kafkaBrokers,
      clientId: 'int-outbox',
      logger: createTestLogger('kafka').logger,
      overrides: { retry: { retries: 1 } },
    });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: topics.ok, numPartitions: 1 },
        { topic: topics.plain, numPartitions: 1 },
        // The broker refuses anything above 1 KiB on this topic.
        { topic: topics.small, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '1024' }] },
      ],
    });
    await admin.disconnect();
    real = await createPublisher(kafka);
    brokerDown = await unreachableBrokerError();
  });
  afterAll(async () => {
    await real?.disconnect();
    await ds?.destroy();
    await db?.drop();
  });
  beforeEach(async () => {
    sent = [];
    failing = false;
    registry = new Registry();
    await ds.query('TRUNCATE retention_outbox');
  });

  it('keeps the rows when the broker cannot be reached, counts no attempt against them, and publishes them in order once it can', async () => {
    expect(isUnreachable(brokerDown)).toBe(true);
    await enqueueN(3);
    failing = true;
    const r = relay();
    for (let i = 0; i < 6; i++) await expect(r.relayOnce()).rejects.toBe(brokerDown);
    expect(await queued()).toBe(3);
    expect(await ds.query('SELECT attempts, parked_at FROM retention_outbox ORDER BY id')).toEqual(Array(3).fill({ attempts: 0, parked_at: null }));
    expect(await metric('retention_outbox_publish_failures_total', { code: 'ECONNREFUSED' })).toBe(6);
    // The stuck-outbox gauges (RetentionOutboxStuck), in every process that runs a relay.
    await ds.query(`UPDATE retention_outbox SET created_at = now() - interval '10 minutes'`);
    expect(await metric('retention_outbox_pending')).toBe(3);
    expect(await metric('retention_outbox_oldest_seconds')).toBeGreaterThanOrEqual(600);
    failing = false;
    expect(await relay(2).relayOnce()).toBe(2);
    expect(await relay(2).relayOnce()).toBe(1);
    expect(await metric('retention_outbox_pending')).toBe(0);
    expect(await metric('retention_outbox_oldest_seconds')).toBe(0);
    expect(sent.map((m) => m.key)).toEqual(['k0', 'k1', 'k2']);
    expect(await queued()).toBe(0);
  });

  it('publishes at once when woken after a commit, without waiting for the poll', async () => {
    const r = relay(500);
    r.start();
    try {
      await enqueueN(1);
      r.wake();
      await waitFor('the first message', async () => (sent.length === 1 ? true : undefined), { timeoutMs: 5_000 });
      await enqueueN(2, 1);
      r.wake();
      // The poll interval is 10 s: only the wake can have published these within the wait.
      await waitFor('the next two', async () => (sent.length === 3 ? true : undefined), { timeoutMs: 5_000 });
      expect(await queued()).toBe(0);
    } finally {
      await r.stop();
    }
  });

  it('parks a message the broker keeps refusing (too large, unknown topic) after N attempts; other keys flow, later rows of its key wait', async () => {
    const big = 'x'.repeat(5_000);
    await enqueue([
      { topic: topics.ok, key: 'a', value: 'a1' },
      { topic: topics.small, key: 'k', value: big },
      { topic: topics.small, key: 'k', value: 'k2' },
      { topic: topics.small, key: 'j', value: 'j1' },
      { topic: topics.missing, key: 'm', value: 'm1' },
      { topic: topics.missing, key: 'n', value: 'n1' },
      { topic: topics.ok, key: 'a', value: 'a2' },
    ]);
    const r = relay();
    // Pass 1 publishes what the broker takes; passes 1-3 count an attempt on each refused message.
    expect(await r.relayPass()).toEqual({ published: 3, failed: 3 });
    expect(await r.relayPass()).toEqual({ published: 0, failed: 3 });
    expect(await r.relayPass()).toEqual({ published: 0, failed: 3 });
    // Parked now: the next pass has nothing it may publish (k2 waits behind the parked big message).
    expect(await r.relayPass()).toEqual({ published: 0, failed: 0 });

    const rows = (await ds.query(`SELECT topic, key, attempts, last_error, parked_at IS NOT NULL AS parked FROM retention_outbox ORDER BY id`)) as unknown[];
    expect(rows).toEqual([
      { topic: topics.small, key: 'k', attempts: 3, last_error: 'MESSAGE_TOO_LARGE', parked: true },
      { topic: topics.small, key: 'k', attempts: 0, last_error: null, parked: false },
      { topic: topics.missing, key: 'm', attempts: 3, last_error: 'UNKNOWN_TOPIC_OR_PARTITION', parked: true },
      { topic: topics.missing, key: 'n', attempts: 3, last_error: 'UNKNOWN_TOPIC_OR_PARTITION', parked: true },
    ]);
    expect(await readAll(topics.ok, 2)).toEqual([
      { key: 'a', value: 'a1' },
      { key: 'a', value: 'a2' },
    ]);
    expect(await readAll(topics.small, 1)).toEqual([{ key: 'j', value: 'j1' }]);
    expect(await metric('retention_outbox_parked')).toBe(3);
    expect(await metric('retention_outbox_publish_failures_total', { code: 'MESSAGE_TOO_LARGE' })).toBeGreaterThanOrEqual(3);
    expect(await metric('retention_outbox_publish_failures_total', { code: 'UNKNOWN_TOPIC_OR_PARTITION' })).toBeGreaterThanOrEqual(3);

    // The runbook: fix the cause (create the topic), release the parked rows; drop the one that can never go.
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: topics.missing, numPartitions: 1 }] });
    await admin.disconnect();
    await ds.query(`UPDATE retention_outbox SET parked_at = NULL, attempts = 0 WHERE topic = $1`, [topics.missing]);
    await ds.query(`DELETE FROM retention_outbox WHERE parked_at IS NOT NULL AND topic = $1 AND last_error = 'MESSAGE_TOO_LARGE'`, [topics.small]);
    expect(await r.relayPass()).toEqual({ published: 3, failed: 0 });
    expect(await queued()).toBe(0);
    expect(await readAll(topics.small, 2)).toEqual([
      { key: 'j', value: 'j1' },
      { key: 'k', value: 'k2' },
    ]);
    expect((await readAll(topics.missing, 2)).map((m) => m.value).sort()).toEqual(['m1', 'n1']);
    expect(await metric('retention_outbox_parked')).toBe(0);
  });

  it('the running relay backs off while a message is refused and parks it; everything else is published meanwhile', async () => {
    await enqueue([
      { topic: topics.small, key: 'big', value: 'y'.repeat(5_000) },
      ...Array.from({ length: 20 }, (_, i) => ({ topic: topics.plain, key: `p${i}`, value: `p${i}` })),
    ]);
    const r = new OutboxRelay({ dataSource: ds, publisher, logger: createTestLogger('outbox').logger, idleMs: 20, parkAfterAttempts: 3, registry });
    r.start();
    try {
      await waitFor('the refused message to be parked', async () => ((await metric('retention_outbox_parked')) === 1 ? true : undefined), {
        timeoutMs: 20_000,
      });
      expect(sent.map((m) => m.key)).toEqual(Array.from({ length: 20 }, (_, i) => `p${i}`));
      expect(await queued()).toBe(1);
    } finally {
      await r.stop();
    }
  });
});
