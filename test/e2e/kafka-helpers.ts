import { randomUUID } from 'node:crypto';
import { encodeEvent, EventTypes, type SigningKey, signMessage } from '@retention/contracts';
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

/** One dead letter a test expects: which consumer refused it, why, and a marker of the message (a ref or its key). */
export interface ExpectedDeadLetter {
  consumer?: string;
  marker: string;
  reason: string;
}

/** Reads the dead-letter topic until every expected dead letter is there (one pass; times out and fails otherwise). */
export async function waitForDeadLetters(dlqTopic: string, expected: readonly ExpectedDeadLetter[], via?: Kafka): Promise<void> {
  const missing = new Set(expected);
  await waitForMessage(
    dlqTopic,
    (m) => {
      const data = m.value ? (JSON.parse(m.value) as { data: { consumer: string; refs?: Record<string, string>; reason: { code: string } } }).data : undefined;
      for (const e of missing) {
        const matches = (!e.consumer || data?.consumer === e.consumer) && data?.reason.code === e.reason;
        if (matches && (JSON.stringify(data.refs ?? {}) + (m.key ?? '')).includes(e.marker)) missing.delete(e);
      }
      return missing.size === 0;
    },
    30_000,
    via,
  );
}

/** A `completed` ack for `requestId` as `service` would send it (unsigned: the caller signs or not). */
export function completedAck(requestId: string, service: string): { commandId: string; value: string } {
  const commandId = randomUUID();
  const now = new Date().toISOString();
  const { value } = encodeEvent(
    EventTypes.ack,
    { requestId, commandId, kind: 'erasure', service, status: 'completed', dryRun: false, startedAt: now, finishedAt: now },
    { source: `/retention/services/${service}` },
  );
  return { commandId, value };
}
