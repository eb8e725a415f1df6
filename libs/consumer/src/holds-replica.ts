import { EventTypes, type TopicNames } from '@retention/contracts';
import { type ConsumerOptions, createCatchUpTracker, type DeadLetterCounter, type Publisher, runConsumer } from '@retention/kafka';
import type { Logger } from '@retention/observability';
import { releaseHold, upsertHold } from '@retention/policy';
import type { Kafka } from 'kafkajs';
import type { DataSource } from 'typeorm';

export interface HoldsReplica {
  /** Resolves once every hold published before this call is in the local table. */
  caughtUp(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Replicates the compacted holds topic into the service's `retention_holds` table. Each process
 * reads the whole topic with a group of its own, so every instance can tell when its database
 * has every hold published so far, and a command is executed only after that: a hold placed
 * before an erasure always wins over it.
 */
export async function startHoldsReplica(options: {
  kafka: Kafka;
  dataSource: DataSource;
  topics: TopicNames;
  service: string;
  instanceId: string;
  publisher: Publisher;
  logger: Logger;
  /** Namespace of consumer group ids (the topic prefix). */
  groupPrefix: string;
  /** Counts refused hold events (`retention_dead_letters_total`). */
  deadLetterCounter?: DeadLetterCounter;
  /** Authenticates each hold event and release (tombstone) before it is applied. */
  verify?: ConsumerOptions<typeof EventTypes.holdPlaced>['verify'];
}): Promise<HoldsReplica> {
  const { kafka, dataSource, topics, service } = options;
  const tracker = await createCatchUpTracker(kafka, topics.holds);
  const consumer = await runConsumer({
    kafka,
    groupId: `${options.groupPrefix}retention.${service}.holds.${options.instanceId}`,
    topics: [topics.holds],
    accept: [EventTypes.holdPlaced],
    name: `${service}.holds`,
    logger: options.logger,
    deadLetters: { topic: topics.dlq, publisher: options.publisher, counter: options.deadLetterCounter },
    verify: options.verify,
    handle: async (event) => {
      const hold = event.data;
      if (hold.service && hold.service !== service) await releaseHold(dataSource.manager, hold.holdId);
      else await upsertHold(dataSource.manager, hold);
    },
    onTombstone: async (ctx) => {
      if (ctx.key) await releaseHold(dataSource.manager, ctx.key);
    },
    onProcessed: (ctx) => tracker.markApplied(ctx.partition, ctx.offset),
  });
  return {
    caughtUp: (timeoutMs) => tracker.caughtUp(timeoutMs),
    async stop() {
      await consumer.stop();
      await tracker.close();
    },
  };
}
