import { randomUUID } from 'node:crypto';
import {
  commandSubjectAad,
  errorSummary,
  type ErasureRequested,
  EventTypes,
  type HoldPlaced,
  holdSubjectAad,
  openWith,
  type SealedErasureRequested,
  type SealedHoldPlaced,
  type SealedValue,
  type TopicNames,
  unwrapCommandKey,
} from '@retention/contracts';
import { type ConsumerOptions, createCatchUpTracker, type DeadLetterCounter, type Publisher, runConsumer } from '@retention/kafka';
import type { Logger } from '@retention/observability';
import type { Kafka } from 'kafkajs';

export interface CommandKeys {
  /** The erasure command with its subject id opened (1.x commands carry it in clear). */
  openErasure(data: SealedErasureRequested): Promise<ErasureRequested>;
  /** The hold with its subject id opened. */
  openHold(data: SealedHoldPlaced): Promise<HoldPlaced>;
  /** Key ids held in memory now (for tests and the operations page). */
  held(): string[];
  stop(): Promise<void>;
}

/**
 * Holds the live command keys in memory only (never on disk, never in the database): every start
 * replays the keys topic (the coordinator re-publishes every live key each rotation, so the topic's
 * short retention holds them all), unwraps each key with the key-encryption key, and forgets it at
 * its `destroyAt` or on its tombstone. A sealed id whose key is not known yet waits for the replica
 * to catch up; a key still unknown then was destroyed: the message is dead-lettered
 * (`command_key_unknown`, not retriable) and the coordinator's redelivery, which seals the id again
 * under the current key, brings the command back.
 */
export async function startCommandKeysReplica(options: {
  kafka: Kafka;
  kek: Buffer;
  topics: TopicNames;
  service: string;
  instanceId: string;
  publisher: Publisher;
  logger: Logger;
  groupPrefix: string;
  deadLetterCounter?: DeadLetterCounter;
  verify?: ConsumerOptions<typeof EventTypes.commandKey>['verify'];
  now?: () => Date;
}): Promise<CommandKeys> {
  const now = options.now ?? (() => new Date());
  const keys = new Map<string, { key: Buffer; destroyAt: number }>();
  const tracker = await createCatchUpTracker(options.kafka, options.topics.keys);
  const groupId = `${options.groupPrefix}retention.${options.service}.keys.${options.instanceId}.${randomUUID().slice(0, 8)}`;
  const forget = (keyId: string): void => {
    const entry = keys.get(keyId);
    if (entry) entry.key.fill(0);
    keys.delete(keyId);
  };
  const sweep = (): void => {
    for (const [keyId, entry] of keys) if (entry.destroyAt <= now().getTime()) forget(keyId);
  };
  const timer = setInterval(sweep, 1000);
  timer.unref();
  const consumer = await runConsumer({
    kafka: options.kafka,
    groupId,
    topics: [options.topics.keys],
    accept: [EventTypes.commandKey],
    name: `${options.service}.keys`,
    logger: options.logger,
    deadLetters: { topic: options.topics.dlq, publisher: options.publisher, counter: options.deadLetterCounter },
    verify: options.verify,
    handle: async (event) => {
      const k = event.data;
      const destroyAt = Date.parse(k.destroyAt);
      if (destroyAt <= now().getTime()) return;
      // A key that does not unwrap is a SealError (not retriable): dead-lettered with its reason.
      keys.set(k.keyId, { key: unwrapCommandKey(options.kek, k.keyId, k.wrapped), destroyAt });
    },
    onTombstone: async (ctx) => {
      if (ctx.key) forget(ctx.key);
    },
    onProcessed: (ctx) => tracker.markApplied(ctx.partition, ctx.offset),
  });

  async function open(sealed: SealedValue, aad: string): Promise<string> {
    sweep();
    if (!keys.has(sealed.keyId)) await tracker.caughtUp(30_000);
    sweep();
    return openWith((id) => keys.get(id)?.key, sealed, aad);
  }

  return {
    async openErasure(data) {
      const { subject } = data;
      if ('id' in subject) return { ...data, subject: { type: subject.type, id: subject.id } };
      return { ...data, subject: { type: subject.type, id: await open(subject.sealedId, commandSubjectAad(data.requestId, subject.type)) } };
    },
    async openHold(data) {
      const { subject, ...rest } = data;
      if (!subject) return rest;
      if ('id' in subject) return { ...rest, subject: { type: subject.type, id: subject.id } };
      return { ...rest, subject: { type: subject.type, id: await open(subject.sealedId, holdSubjectAad(data.holdId, subject.type)) } };
    },
    held: () => {
      sweep();
      return [...keys.keys()];
    },
    async stop() {
      clearInterval(timer);
      await consumer.stop();
      await tracker.close();
      for (const keyId of [...keys.keys()]) forget(keyId);
      const admin = options.kafka.admin();
      await admin
        .connect()
        .then(() => admin.deleteGroups([groupId]))
        .catch((error: unknown) => options.logger.debug({ err: errorSummary(error) }, 'could not delete the command keys consumer group'))
        .finally(() => admin.disconnect());
    },
  };
}
