import { createHash } from 'node:crypto';
import { encodeEvent, EventTypes, TransientError, ValidationError } from '@retention/contracts';
import { createLogger } from '@retention/observability';
import type { EachBatchPayload, EachMessagePayload, Kafka } from 'kafkajs';
import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { runConsumer } from './consumer';
import type { OutgoingMessage, Publisher } from './producer';

/** A fake kafkajs client that hands us the `eachMessage` the consumer registers. */
function fakeKafka() {
  let eachMessage: ((p: EachMessagePayload) => Promise<void>) | undefined;
  const consumer = {
    connect: vi.fn(async () => {}),
    subscribe: vi.fn(async () => {}),
    run: vi.fn(async (config: { eachMessage: (p: EachMessagePayload) => Promise<void> }) => {
      eachMessage = config.eachMessage;
    }),
    disconnect: vi.fn(async () => {}),
  };
  const kafka = { consumer: () => consumer } as unknown as Kafka;
  return {
    kafka,
    deliver: (value: string | null, offset = '0') =>
      eachMessage!({
        topic: 'data.retention',
        partition: 0,
        message: { key: Buffer.from('k'), value: value === null ? null : Buffer.from(value), offset, headers: {}, timestamp: '0', attributes: 0, size: 0 },
        heartbeat: async () => {},
        pause: () => () => {},
      } as unknown as EachMessagePayload),
  };
}

function fakePublisher(): Publisher & { sent: OutgoingMessage[] } {
  const sent: OutgoingMessage[] = [];
  return { sent, publish: async (m) => void sent.push(...m), disconnect: async () => {} };
}

const silent = createLogger({ service: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

const command = () =>
  encodeEvent(
    EventTypes.sweepRequested,
    { requestId: '0b6d3c1e-8c1c-4b7e-9d55-2f0c6f1a9e11', requestedAt: '2026-01-01T00:00:00Z', asOf: '2026-01-01T00:00:00Z' },
    { source: 'test' },
  ).value;

async function start(handle: (event: unknown) => Promise<void>) {
  const { kafka, deliver } = fakeKafka();
  const dlq = fakePublisher();
  const running = await runConsumer({
    kafka,
    groupId: 'g',
    topics: ['data.retention'],
    accept: [EventTypes.sweepRequested],
    name: 'test',
    logger: silent,
    deadLetters: { topic: 'data.retention.dlq', publisher: dlq },
    retry: { initialMs: 1, maxMs: 2 },
    handle,
  });
  return { deliver, dlq, running };
}

describe('runConsumer', () => {
  it('hands a valid command to the handler and dead-letters nothing', async () => {
    const handle = vi.fn(async () => {});
    const { deliver, dlq } = await start(handle);
    await deliver(command());
    expect(handle).toHaveBeenCalledTimes(1);
    expect(dlq.sent).toEqual([]);
  });

  it('dead-letters a message that does not parse, with the reason, without calling the handler', async () => {
    const handle = vi.fn(async () => {});
    const { deliver, dlq } = await start(handle);
    await deliver('{nope', '7');
    expect(handle).not.toHaveBeenCalled();
    expect(dlq.sent).toHaveLength(1);
    const letter = JSON.parse(dlq.sent[0]!.value!) as { data: { reason: { code: string }; offset: string; payload: string | null; consumer: string } };
    // Metadata and the payload's digest, never its bytes.
    expect(letter.data).toMatchObject({ reason: { code: 'validation_failed' }, offset: '7', payload: null, consumer: 'test', refs: {}, payloadBytes: 5 });
    expect(letter.data).toHaveProperty('payloadSha256', createHash('sha256').update('{nope').digest('hex'));
    expect(dlq.sent[0]!.headers).toMatchObject({ 'x-retention-dlq-reason': 'validation_failed' });
  });

  it('retries a retriable failure in place until it passes', async () => {
    let calls = 0;
    const { deliver, dlq } = await start(async () => {
      if (++calls < 3) throw new TransientError('database restarting');
    });
    await deliver(command());
    expect(calls).toBe(3);
    expect(dlq.sent).toEqual([]);
  });

  it('dead-letters a non-retriable handler failure and never retries a programming error', async () => {
    let calls = 0;
    const { deliver, dlq } = await start(async () => {
      calls++;
      throw new TypeError('x is undefined');
    });
    await deliver(command());
    expect(calls).toBe(1);
    expect(JSON.parse(dlq.sent[0]!.value!).data.reason).toEqual({ code: 'handler_failed', message: 'TypeError: x is undefined' });

    const second = await start(async () => {
      throw new ValidationError('bad', [{ path: 'data.x', message: 'nope' }]);
    });
    await second.deliver(command());
    expect(JSON.parse(second.dlq.sent[0]!.value!).data.reason.code).toBe('validation_failed');
  });

  it('stops retrying when the consumer stops, so the offset is not committed', async () => {
    const { deliver, running } = await start(async () => {
      throw new TransientError('down');
    });
    const delivery = deliver(command());
    await new Promise((r) => setTimeout(r, 20));
    await running.stop();
    await expect(delivery).rejects.toThrow(/stopping/);
  });
});

describe('runConsumer with handleBatch', () => {
  async function startBatch(handleBatch: (ids: string[]) => Promise<void>, handle: (id: string) => Promise<void>, maxBatchSize = 200) {
    let eachBatch: ((p: EachBatchPayload) => Promise<void>) | undefined;
    const consumer = {
      connect: vi.fn(async () => {}),
      subscribe: vi.fn(async () => {}),
      run: vi.fn(async (config: { eachBatch: (p: EachBatchPayload) => Promise<void>; eachBatchAutoResolve: boolean }) => {
        expect(config.eachBatchAutoResolve).toBe(false);
        eachBatch = config.eachBatch;
      }),
      disconnect: vi.fn(async () => {}),
    };
    const dlq = fakePublisher();
    await runConsumer({
      kafka: { consumer: () => consumer } as unknown as Kafka,
      groupId: 'g',
      topics: ['data.retention'],
      accept: [EventTypes.sweepRequested],
      name: 'test',
      logger: silent,
      deadLetters: { topic: 'data.retention.dlq', publisher: dlq },
      retry: { initialMs: 1, maxMs: 2 },
      maxBatchSize,
      handle: async (event) => handle(event.data.requestId),
      handleBatch: async (items) => handleBatch(items.map((i) => i.event.data.requestId)),
    });
    const resolved: string[] = [];
    const deliver = (values: Array<string | null>) =>
      eachBatch!({
        batch: {
          topic: 'data.retention',
          partition: 0,
          messages: values.map((value, i) => ({
            key: null,
            value: value === null ? null : Buffer.from(value),
            offset: String(i),
            headers: {},
            timestamp: '0',
            attributes: 0,
            size: 0,
          })),
        },
        resolveOffset: (offset: string) => void resolved.push(offset),
        heartbeat: async () => {},
        isRunning: () => true,
        isStale: () => false,
      } as unknown as EachBatchPayload);
    return { deliver, dlq, resolved };
  }
  const cmd = (n: number) =>
    encodeEvent(
      EventTypes.sweepRequested,
      { requestId: `0b6d3c1e-8c1c-4b7e-9d55-2f0c6f1a9e1${n}`, requestedAt: '2026-01-01T00:00:00Z', asOf: '2026-01-01T00:00:00Z' },
      { source: 'test' },
    ).value;

  it('hands runs of valid messages to handleBatch, settles an invalid one in between, and resolves offsets in order', async () => {
    const runs: string[][] = [];
    const { deliver, dlq, resolved } = await startBatch(
      async (ids) => void runs.push(ids.map((id) => id.slice(-1))),
      async () => {},
      2,
    );
    await deliver([cmd(1), cmd(2), cmd(3), '{nope', cmd(4)]);
    expect(runs).toEqual([['1', '2'], ['3'], ['4']]);
    expect(dlq.sent).toHaveLength(1);
    expect(JSON.parse(dlq.sent[0]!.value!).data.offset).toBe('3');
    expect(resolved).toEqual(['0', '1', '2', '3', '4']);
  });

  it('retries a retriable batch failure, then falls back to one by one so only the bad message is dead-lettered', async () => {
    let batchCalls = 0;
    const single: string[] = [];
    const { deliver, dlq, resolved } = await startBatch(
      async () => {
        if (++batchCalls === 1) throw new TransientError('database restarting');
        throw new TypeError('one ack is broken');
      },
      async (id) => {
        if (id.endsWith('2')) throw new TypeError('this one');
        single.push(id.slice(-1));
      },
    );
    await deliver([cmd(1), cmd(2), cmd(3)]);
    expect(batchCalls).toBe(2);
    expect(single).toEqual(['1', '3']);
    expect(dlq.sent).toHaveLength(1);
    expect(JSON.parse(dlq.sent[0]!.value!).data).toMatchObject({ offset: '1', reason: { code: 'handler_failed', message: 'TypeError: this one' } });
    expect(resolved).toEqual(['0', '1', '2']);
  });
});
