import { createDataSource, openDatabase } from '@retention/database';
import type { OutgoingMessage, Publisher } from '@retention/kafka';
import { createTestDatabase, createTestLogger, type TestDatabase, testStack, waitFor } from '@retention/testing';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OutboxMessage } from './outbox-message.entity';
import { outboxMigrations } from './outbox.migration';
import { enqueueOutbox } from './outbox.repository';
import { OutboxRelay } from './outbox-relay';

/** The relay against a real PostgreSQL, with a publisher that can be made to fail. */
describe('outbox relay on PostgreSQL', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let sent: OutgoingMessage[];
  let failing: boolean;
  const publisher: Publisher = {
    publish: async (messages) => {
      if (failing) throw new Error('broker unreachable');
      sent.push(...messages);
    },
    disconnect: async () => {},
  };
  const relay = (batchSize = 500) => new OutboxRelay({ dataSource: ds, publisher, logger: createTestLogger('outbox').logger, batchSize, idleMs: 10_000 });
  const queued = async (): Promise<number> => ((await ds.query('SELECT count(*)::int AS n FROM retention_outbox')) as Array<{ n: number }>)[0]!.n;
  const enqueue = (n: number, from = 0) =>
    ds.transaction((m) =>
      enqueueOutbox(
        m,
        Array.from({ length: n }, (_, i) => ({ topic: 't', key: `k${from + i}`, value: `v${from + i}` })),
      ),
    );

  beforeAll(async () => {
    db = await createTestDatabase(testStack().databaseUrl, 'int_outbox');
    ds = createDataSource({ url: db.url, entities: [OutboxMessage], migrations: outboxMigrations });
    await openDatabase(ds);
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });
  beforeEach(async () => {
    sent = [];
    failing = false;
    await ds.query('TRUNCATE retention_outbox');
  });

  it('keeps the rows when publishing fails, and publishes them in order once it works', async () => {
    await enqueue(3);
    failing = true;
    await expect(relay().relayOnce()).rejects.toThrow('broker unreachable');
    expect(await queued()).toBe(3);
    failing = false;
    expect(await relay(2).relayOnce()).toBe(2);
    expect(await relay(2).relayOnce()).toBe(1);
    expect(sent.map((m) => m.key)).toEqual(['k0', 'k1', 'k2']);
    expect(await queued()).toBe(0);
  });

  it('publishes at once when woken after a commit, without waiting for the poll', async () => {
    const r = relay(500);
    r.start();
    try {
      await enqueue(1);
      r.wake();
      await waitFor('the first message', async () => (sent.length === 1 ? true : undefined), { timeoutMs: 5_000 });
      await enqueue(2, 1);
      r.wake();
      // The poll interval is 10 s: only the wake can have published these within the wait.
      await waitFor('the next two', async () => (sent.length === 3 ? true : undefined), { timeoutMs: 5_000 });
      expect(await queued()).toBe(0);
    } finally {
      await r.stop();
    }
  });
});
