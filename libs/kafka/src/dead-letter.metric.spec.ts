import { encodeEvent, EventTypes, ValidationError } from '@retention/contracts';
import { createLogger, Registry } from '@retention/observability';
import type { EachBatchPayload, EachMessagePayload, Kafka } from 'kafkajs';
import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { type MessageContext, runConsumer } from './consumer';
import { createDeadLetterCounter, deadLetterReasonLabel } from './dead-letter.metric';
import type { OutgoingMessage, Publisher } from './producer';

const silent = createLogger({ service: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

function fakePublisher(): Publisher & { sent: OutgoingMessage[] } {
  const sent: OutgoingMessage[] = [];
  return { sent, publish: async (m) => void sent.push(...m), disconnect: async () => {} };
}

const command = (n = 1) =>
  encodeEvent(
    EventTypes.sweepRequested,
    { requestId: `0b6d3c1e-8c1c-4b7e-9d55-2f0c6f1a9e1${n}`, requestedAt: '2026-01-01T00:00:00Z', asOf: '2026-01-01T00:00:00Z' },
    { source: 'test' },
  ).value;

const kafkaMessage = (value: string | null, offset: string) => ({
  key: Buffer.from('k'),
  value: value === null ? null : Buffer.from(value),
  offset,
  headers: {},
  timestamp: '0',
  attributes: 0,
  size: 0,
});

/** A consumer on a fake kafkajs client: `deliver` feeds one message, `deliverBatch` one fetched batch. */
async function start(options: {
  handle?: (requestId: string, ctx: MessageContext) => Promise<void>;
  handleBatch?: (items: Array<{ requestId: string; ctx: MessageContext }>) => Promise<void>;
}) {
  let eachMessage: ((p: EachMessagePayload) => Promise<void>) | undefined;
  let eachBatch: ((p: EachBatchPayload) => Promise<void>) | undefined;
  const consumer = {
    connect: vi.fn(async () => {}),
    subscribe: vi.fn(async () => {}),
    run: vi.fn(async (config: { eachMessage?: typeof eachMessage; eachBatch?: typeof eachBatch }) => {
      eachMessage = config.eachMessage;
      eachBatch = config.eachBatch;
    }),
    disconnect: vi.fn(async () => {}),
  };
  const registry = new Registry();
  const counter = createDeadLetterCounter(registry);
  const dlq = fakePublisher();
  const processed: Array<[string, string]> = [];
  const handleBatch = options.handleBatch;
  await runConsumer<typeof EventTypes.sweepRequested>({
    kafka: { consumer: () => consumer } as unknown as Kafka,
    groupId: 'g',
    topics: ['data.retention'],
    accept: [EventTypes.sweepRequested],
    name: 'sessions',
    logger: silent,
    deadLetters: { topic: 'data.retention.dlq', publisher: dlq, counter },
    retry: { initialMs: 1, maxMs: 2 },
    handle: async (event, ctx) => options.handle?.(event.data.requestId, ctx),
    ...(handleBatch ? { handleBatch: (items) => handleBatch(items.map((i) => ({ requestId: i.event.data.requestId, ctx: i.ctx }))) } : {}),
    onProcessed: (ctx, outcome) => void processed.push([ctx.offset, outcome]),
  });
  const resolved: string[] = [];
  return {
    dlq,
    processed,
    resolved,
    deliver: (value: string | null, offset = '0') =>
      eachMessage!({
        topic: 'data.retention',
        partition: 0,
        message: kafkaMessage(value, offset),
        heartbeat: async () => {},
        pause: () => () => {},
      } as unknown as EachMessagePayload),
    deliverBatch: (values: Array<string | null>) =>
      eachBatch!({
        batch: { topic: 'data.retention', partition: 0, messages: values.map((v, i) => kafkaMessage(v, String(i))) },
        resolveOffset: (offset: string) => void resolved.push(offset),
        heartbeat: async () => {},
        isRunning: () => true,
        isStale: () => false,
      } as unknown as EachBatchPayload),
    counts: async () =>
      Object.fromEntries(
        (await registry.getSingleMetric('retention_dead_letters_total')!.get()).values.map((v) => [`${v.labels.consumer}/${v.labels.reason}`, v.value]),
      ),
  };
}

describe('retention_dead_letters_total', () => {
  it('counts every dead letter by consumer and reason code: unparsable, refused by the handler, tombstone', async () => {
    const consumer = await start({
      handle: async () => {
        throw new ValidationError('bad');
      },
    });
    await consumer.deliver('{nope', '1');
    await consumer.deliver(command(), '2');
    await consumer.deliver(command(), '3');
    await consumer.deliver(null, '4');
    expect(await consumer.counts()).toEqual({ 'sessions/validation_failed': 4 });
    expect(consumer.dlq.sent).toHaveLength(4);
  });

  it('keeps the reason label bounded: a code that is not a stable code is counted as other', () => {
    expect(deadLetterReasonLabel('cutoff_in_future')).toBe('cutoff_in_future');
    expect(deadLetterReasonLabel('user-42@example.com')).toBe('other');
    expect(deadLetterReasonLabel('Unknown_Request')).toBe('other');
    expect(deadLetterReasonLabel('x'.repeat(65))).toBe('other');
    expect(deadLetterReasonLabel('')).toBe('other');
  });
});

describe('ctx.deadLetter', () => {
  it('lets a handler dead-letter a message it processed: the letter carries the reason, the offset counts as handled', async () => {
    const consumer = await start({ handle: (_id, ctx) => ctx.deadLetter({ code: 'unknown_request', message: 'no such request' }) });
    const value = command();
    await consumer.deliver(value, '5');
    expect(consumer.dlq.sent).toHaveLength(1);
    const letter = JSON.parse(consumer.dlq.sent[0]!.value!) as {
      data: { consumer: string; reason: unknown; offset: string; payload: string | null; refs: { eventId?: string } };
    };
    expect(letter.data).toMatchObject({ consumer: 'sessions', reason: { code: 'unknown_request', message: 'no such request' }, offset: '5' });
    expect(letter.data.payload).toBeNull();
    expect(letter.data.refs.eventId).toBe((JSON.parse(value) as { id: string }).id);
    expect(consumer.dlq.sent[0]!.headers).toMatchObject({ 'x-retention-dlq-reason': 'unknown_request' });
    expect(consumer.processed).toEqual([['5', 'handled']]);
    expect(await consumer.counts()).toEqual({ 'sessions/unknown_request': 1 });
  });

  it('works from handleBatch: each message of the run can be dead-lettered by itself', async () => {
    const consumer = await start({
      handleBatch: async (items) => {
        for (const { requestId, ctx } of items) if (!requestId.endsWith('2')) await ctx.deadLetter({ code: 'mismatch', message: 'dry-run differs' });
      },
    });
    await consumer.deliverBatch([command(1), command(2), command(3)]);
    expect(consumer.dlq.sent.map((m) => (JSON.parse(m.value!) as { data: { offset: string } }).data.offset)).toEqual(['0', '2']);
    expect(consumer.resolved).toEqual(['0', '1', '2']);
    expect(await consumer.counts()).toEqual({ 'sessions/mismatch': 2 });
  });
});
