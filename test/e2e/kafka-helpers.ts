import { testStack, uniqueSuffix, waitFor } from '@retention/testing';
import { Kafka, logLevel } from 'kafkajs';

function client(): Kafka {
  return new Kafka({ clientId: `e2e-${uniqueSuffix()}`, brokers: testStack().kafkaBrokers, logLevel: logLevel.NOTHING });
}

/** Produces messages as any other Kafka client would (kcat, another language): raw bytes. */
export async function produceRaw(topic: string, messages: Array<{ key: string | null; value: string | null }>): Promise<void> {
  const producer = client().producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.send({ topic, messages });
  } finally {
    await producer.disconnect();
  }
}

/** Reads `topic` from the beginning until `count` messages arrived (or times out). */
export async function readTopic(
  topic: string,
  count: number,
  timeoutMs = 30_000,
): Promise<Array<{ key: string | null; value: string | null; headers: Record<string, string> }>> {
  const consumer = client().consumer({ groupId: `e2e-reader-${uniqueSuffix()}` });
  const received: Array<{ key: string | null; value: string | null; headers: Record<string, string> }> = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        received.push({
          key: message.key?.toString() ?? null,
          value: message.value?.toString() ?? null,
          headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])),
        });
      },
    });
    await waitFor(`${count} message(s) on ${topic}`, async () => (received.length >= count ? true : undefined), { timeoutMs });
    return received;
  } finally {
    await consumer.disconnect();
  }
}
