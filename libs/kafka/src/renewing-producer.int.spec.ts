import { createTestLogger, testStack, uniqueTopicPrefix } from '@retention/testing';
import { type Kafka, Partitioners, type Producer, type ProducerBatch } from 'kafkajs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createKafka } from './client';
import { renewingProducer } from './renewing-producer';

/**
 * kafkajs 2.2.4's idempotent producer after a produce request the broker refused in part (one
 * message too large, the rest accepted), against the real broker.
 */
describe('idempotent producer after a partly refused send', () => {
  let kafka: Kafka;
  const prefix = uniqueTopicPrefix();
  const small = `${prefix}small`;
  const create = (): Producer =>
    kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  /** One request to the broker: a message too large for `small`, and `count` messages `plain` accepts. */
  const partlyRefused = (topic: string, count: number): ProducerBatch => ({
    acks: -1,
    topicMessages: [
      { topic: small, messages: [{ key: 'big', value: 'x'.repeat(5_000) }] },
      { topic, messages: Array.from({ length: count }, (_, i) => ({ key: 'a', value: `a${i}` })) },
    ],
  });
  const one = (topic: string): ProducerBatch => ({ acks: -1, topicMessages: [{ topic, messages: [{ key: 'a', value: 'next' }] }] });
  const stored = async (topic: string): Promise<number> => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      return Number((await admin.fetchTopicOffsets(topic))[0]!.high);
    } finally {
      await admin.disconnect();
    }
  };

  beforeAll(async () => {
    kafka = createKafka({ brokers: testStack().kafkaBrokers, clientId: 'int-renewing', logger: createTestLogger('kafka').logger });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: small, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '1024' }] },
        ...[1, 2, 3].map((i) => ({ topic: `${prefix}plain${i}`, numPartitions: 1 })),
      ],
    });
    await admin.disconnect();
  });

  it('a plain kafkajs producer then fails every send to a partition the broker accepted (OUT_OF_ORDER_SEQUENCE_NUMBER)…', async () => {
    const producer = create();
    await producer.connect();
    try {
      await expect(producer.sendBatch(partlyRefused(`${prefix}plain1`, 3))).rejects.toMatchObject({ type: 'MESSAGE_TOO_LARGE' });
      expect(await stored(`${prefix}plain1`)).toBe(3);
      await expect(producer.sendBatch(one(`${prefix}plain1`))).rejects.toMatchObject({ type: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    } finally {
      await producer.disconnect();
    }
  });

  it('…or, when the sizes line up, acknowledges the next message as a duplicate and never stores it', async () => {
    const producer = create();
    await producer.connect();
    try {
      await expect(producer.sendBatch(partlyRefused(`${prefix}plain2`, 1))).rejects.toMatchObject({ type: 'MESSAGE_TOO_LARGE' });
      await expect(producer.sendBatch(one(`${prefix}plain2`))).resolves.toEqual([expect.objectContaining({ errorCode: 0 })]);
      expect(await stored(`${prefix}plain2`)).toBe(1);
    } finally {
      await producer.disconnect();
    }
  });

  it('the renewing producer replaces itself after the refusal: the next send is stored', async () => {
    const producer = await renewingProducer(create);
    try {
      await expect(producer.sendBatch(partlyRefused(`${prefix}plain3`, 1))).rejects.toMatchObject({ type: 'MESSAGE_TOO_LARGE' });
      await expect(producer.sendBatch(one(`${prefix}plain3`))).resolves.toEqual([expect.objectContaining({ errorCode: 0 })]);
      expect(await stored(`${prefix}plain3`)).toBe(2);
    } finally {
      await producer.disconnect();
    }
  });
});
