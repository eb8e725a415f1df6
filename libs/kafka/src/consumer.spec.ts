import { encodeEvent, EventTypes, TransientError, ValidationError } from '@retention/contracts';
import { createLogger } from '@retention/observability';
import type { EachMessagePayload, Kafka } from 'kafkajs';
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
    const letter = JSON.parse(dlq.sent[0]!.value!) as { data: { reason: { code: string }; offset: string; payload: string; consumer: string } };
    expect(letter.data).toMatchObject({ reason: { code: 'validation_failed' }, offset: '7', payload: '{nope', consumer: 'test' });
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
