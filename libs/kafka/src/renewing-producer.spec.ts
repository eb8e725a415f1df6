import { KafkaJSConnectionError, KafkaJSProtocolError, type Producer } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { renewingProducer } from './renewing-producer';

const tooLarge = () => new KafkaJSProtocolError({ message: 'too large', type: 'MESSAGE_TOO_LARGE', code: 10, retriable: false } as unknown as Error);

/** Fake kafkajs producers: each fails its sends with `fail()` while `failing` is set. */
function fakes(fail: () => Error) {
  const made: Array<{ connected: boolean; sends: number }> = [];
  let failing = true;
  const create = (): Producer => {
    const state = { connected: false, sends: 0 };
    made.push(state);
    return {
      connect: async () => void (state.connected = true),
      disconnect: async () => void (state.connected = false),
      sendBatch: async () => {
        state.sends++;
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (failing) throw fail();
        return [];
      },
    } as unknown as Producer;
  };
  return { made, create, stopFailing: () => void (failing = false) };
}

describe('renewingProducer', () => {
  it('replaces the producer once after refused sends, even when several fail at the same time', async () => {
    const f = fakes(tooLarge);
    const producer = await renewingProducer(f.create);
    const results = await Promise.allSettled([producer.sendBatch({ topicMessages: [] }), producer.sendBatch({ topicMessages: [] })]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(f.made).toHaveLength(2);
    expect(f.made.map((m) => m.connected)).toEqual([false, true]);
    f.stopFailing();
    await expect(producer.sendBatch({ topicMessages: [] })).resolves.toEqual([]);
    expect(f.made[1]!.sends).toBe(1);
  });

  it('keeps the producer when the broker could not be reached (nothing was accepted, the sequence state is sound)', async () => {
    const f = fakes(() => new KafkaJSConnectionError('Connection error: connect ECONNREFUSED', { broker: 'b:9092', code: 'ECONNREFUSED' } as never));
    const producer = await renewingProducer(f.create);
    await expect(producer.sendBatch({ topicMessages: [] })).rejects.toBeInstanceOf(KafkaJSConnectionError);
    expect(f.made).toHaveLength(1);
  });
});
