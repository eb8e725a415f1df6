import { EventTypes, TransientError, type TopicNames } from '@retention/contracts';
import { type Publisher, type RunningConsumer, runConsumer } from '@retention/kafka';
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
}): Promise<HoldsReplica> {
  const { kafka, dataSource, topics, service } = options;
  const applied = new Map<number, bigint>();
  const markApplied = (partition: number, offset: string): void => {
    applied.set(partition, BigInt(offset) + 1n);
  };

  const consumer: RunningConsumer = await runConsumer({
    kafka,
    groupId: `${service}.holds.${options.instanceId}`,
    topics: [topics.holds],
    accept: [EventTypes.holdPlaced],
    name: `${service}.holds`,
    logger: options.logger,
    deadLetters: { topic: topics.dlq, publisher: options.publisher },
    handle: async (event, ctx) => {
      const hold = event.data;
      if (hold.service && hold.service !== service) await releaseHold(dataSource.manager, hold.holdId);
      else await upsertHold(dataSource.manager, hold);
      markApplied(ctx.partition, ctx.offset);
    },
    onTombstone: async (ctx) => {
      if (ctx.key) await releaseHold(dataSource.manager, ctx.key);
      markApplied(ctx.partition, ctx.offset);
    },
    onProcessed: (ctx) => markApplied(ctx.partition, ctx.offset),
  });

  const admin = kafka.admin();
  await admin.connect();

  return {
    async caughtUp(timeoutMs = 30_000) {
      const targets = await admin.fetchTopicOffsets(topics.holds);
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const behind = targets.filter((t) => BigInt(t.high) > BigInt(t.low) && (applied.get(t.partition) ?? BigInt(t.low)) < BigInt(t.high));
        if (behind.length === 0) return;
        if (Date.now() > deadline) throw new TransientError(`legal holds replica is behind the holds topic after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      await consumer.stop();
      await admin.disconnect();
    },
  };
}
