import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { ScenarioFailure } from './options';

/** One message as read from a topic. */
export interface Observed {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

export interface TopicWatch {
  readonly messages: readonly Observed[];
  /** Polls what was read until `pick` returns a value; fails the scenario with `description` after `timeoutMs`. */
  waitFor<T>(description: string, pick: (messages: readonly Observed[]) => T | undefined, timeoutMs: number): Promise<T>;
  stop(): Promise<void>;
}

/**
 * Reads a topic for as long as the kit runs: from its start (`fromStart`, for compacted state such
 * as the registry) or from the offsets it had when the watch began. The group is the kit's own and
 * is deleted at stop.
 */
export async function watchTopic(kafka: Kafka, topic: string, options: { fromStart: boolean; groupPrefix: string }): Promise<TopicWatch> {
  try {
    return await startWatch(kafka, topic, options);
  } catch (error) {
    throw new Error(`cannot read ${topic} (${(error as Error).message}): are the brokers and the topic prefix right?`, { cause: error });
  }
}

async function startWatch(kafka: Kafka, topic: string, options: { fromStart: boolean; groupPrefix: string }): Promise<TopicWatch> {
  const admin = kafka.admin();
  await admin.connect();
  // Offsets before anything the kit publishes: read from the start and skip below them, so no
  // message is missed while the group is still joining.
  const start = new Map<number, bigint>();
  try {
    if (!options.fromStart) for (const p of await admin.fetchTopicOffsets(topic)) start.set(p.partition, BigInt(p.high));
  } finally {
    await admin.disconnect();
  }
  const groupId = `${options.groupPrefix}${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
  const messages: Observed[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
  } catch (error) {
    await consumer.disconnect();
    throw error;
  }
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      if (BigInt(message.offset) < (start.get(partition) ?? 0n)) return;
      messages.push({
        topic,
        partition,
        offset: message.offset,
        key: message.key ? message.key.toString('utf8') : null,
        value: message.value,
        headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, Array.isArray(v) ? String(v[0]) : String(v ?? '')])),
      });
    },
  });
  return {
    messages,
    async waitFor(description, pick, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = pick(messages);
        if (found !== undefined) return found;
        if (Date.now() > deadline) throw new ScenarioFailure(`${description}: nothing within ${Math.round(timeoutMs / 1000)} s`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
    async stop() {
      await consumer.disconnect();
      const cleanup = kafka.admin();
      await cleanup
        .connect()
        .then(() => cleanup.deleteGroups([groupId]))
        .catch(() => undefined)
        .finally(() => cleanup.disconnect());
    },
  };
}
