import { type SigningKey, signMessage } from '@retention/contracts';
import { testStack, uniqueSuffix, waitFor } from '@retention/testing';
import { Kafka, logLevel } from 'kafkajs';

/** `via`: a client of the caller's choice (on the secured broker: `SecuredPlatform.client(principal)`); default: the plain stack. */
function client(via?: Kafka): Kafka {
  return via ?? new Kafka({ clientId: `e2e-${uniqueSuffix()}`, brokers: testStack().kafkaBrokers, logLevel: logLevel.NOTHING });
}

/** Produces messages as any other Kafka client would (kcat, another language): raw bytes. */
export async function produceRaw(
  topic: string,
  messages: Array<{ key: string | null; value: string | null; headers?: Record<string, string> }>,
  via?: Kafka,
): Promise<void> {
  const producer = client(via).producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.send({ topic, messages });
  } finally {
    await producer.disconnect();
  }
}

/** Produces messages signed with `signer`'s key, as the process that owns the key would. */
export async function produceSigned(
  signer: SigningKey,
  topic: string,
  messages: Array<{ key: string | null; value: string | null }>,
  via?: Kafka,
): Promise<void> {
  await produceRaw(
    topic,
    messages.map((m) => ({ ...m, headers: signMessage(signer, { topic, key: m.key, value: m.value }) })),
    via,
  );
}

/** Reads `topic` from the beginning until `count` messages arrived (or times out). */
export async function readTopic(
  topic: string,
  count: number,
  timeoutMs = 30_000,
  via?: Kafka,
): Promise<Array<{ key: string | null; value: string | null; headers: Record<string, string> }>> {
  const consumer = client(via).consumer({ groupId: `e2e-reader-${uniqueSuffix()}` });
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

/** Reads `topic` from the beginning until a message satisfies `match` (or times out); returns it. */
export async function waitForMessage(
  topic: string,
  match: (message: { key: string | null; value: string | null; headers: Record<string, string> }) => boolean,
  timeoutMs = 30_000,
  via?: Kafka,
): Promise<{ key: string | null; value: string | null; headers: Record<string, string> }> {
  const consumer = client(via).consumer({ groupId: `e2e-reader-${uniqueSuffix()}` });
  let found: { key: string | null; value: string | null; headers: Record<string, string> } | undefined;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const m = {
          key: message.key?.toString() ?? null,
          value: message.value?.toString() ?? null,
          headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])),
        };
        if (!found && match(m)) found = m;
      },
    });
    return await waitFor(`a matching message on ${topic}`, async () => found, { timeoutMs });
  } finally {
    await consumer.disconnect();
  }
}
