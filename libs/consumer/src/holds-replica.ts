import { randomUUID } from 'node:crypto';
import { EventTypes, type HoldPlaced, type SealedHoldPlaced, type TopicNames, errorSummary } from '@retention/contracts';
import { type ConsumerOptions, createCatchUpTracker, type DeadLetterCounter, type Publisher, runConsumer } from '@retention/kafka';
import type { Logger } from '@retention/observability';
import { dropHold, releaseHold, upsertHold } from '@retention/policy';
import type { Kafka } from 'kafkajs';
import type { DataSource } from 'typeorm';

export interface HoldsReplica {
  /** Resolves once every hold published before this call is in the local table. */
  caughtUp(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Replicates the compacted holds topic into the service's `retention_holds` table. Each process
 * start reads the whole topic with a group of its own, so every instance can tell when its database
 * has every hold published so far, and a command is executed only after that: a hold placed
 * before an erasure always wins over it.
 *
 * Reconciled at start: once the replay reaches the end of the topic, a local hold the topic no
 * longer holds is released. That is a hold whose release (tombstone) was published while this
 * service was down and has since been compacted away; without this step it would stay in force
 * here for ever while the coordinator shows it released.
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
  /** Opens the hold's sealed subject id (see command-keys-replica.ts). */
  openHold: (data: SealedHoldPlaced) => Promise<HoldPlaced>;
}): Promise<HoldsReplica> {
  const { kafka, dataSource, topics, service } = options;
  const tracker = await createCatchUpTracker(kafka, topics.holds);
  // A group per process start (not only per instance id), so the replay always starts at the
  // beginning of the topic, which the reconciliation below relies on. It is deleted at stop.
  const groupId = `${options.groupPrefix}retention.${service}.holds.${options.instanceId}.${randomUUID().slice(0, 8)}`;
  // Hold ids in force according to the topic, as replayed by this process.
  const inTopic = new Set<string>();
  // The consumer's writes and the reconciliation run one at a time: a hold placed while the
  // reconciliation computes what to drop must not be dropped.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const next = queue.then(work);
    queue = next.catch(() => undefined);
    return next;
  };
  const consumer = await runConsumer({
    kafka,
    groupId,
    topics: [topics.holds],
    accept: [EventTypes.holdPlaced],
    name: `${service}.holds`,
    logger: options.logger,
    deadLetters: { topic: topics.dlq, publisher: options.publisher, counter: options.deadLetterCounter },
    verify: options.verify,
    handle: (event) =>
      serial(async () => {
        if (event.data.service && event.data.service !== service) {
          inTopic.delete(event.data.holdId);
          await dropHold(dataSource.manager, event.data.holdId);
          return;
        }
        // Fail closed: the topic holds this hold even if it cannot be opened here (its command key is
        // unknown or gone). Opening fails the message (dead-lettered and counted, so the alert fires)
        // but the local copy, if any, stays in force and the reconciliation keeps it.
        inTopic.add(event.data.holdId);
        await upsertHold(dataSource.manager, await options.openHold(event.data));
      }),
    onTombstone: (ctx) =>
      serial(async () => {
        if (!ctx.key) return;
        inTopic.delete(ctx.key);
        await releaseHold(dataSource.manager, ctx.key);
      }),
    onProcessed: (ctx) => tracker.markApplied(ctx.partition, ctx.offset),
  });
  let reconciled: Promise<void> | undefined;
  const reconcile = (timeoutMs?: number): Promise<void> =>
    (reconciled ??= tracker
      .caughtUp(timeoutMs)
      .then(() =>
        serial(async () => {
          const rows = (await dataSource.query(`SELECT hold_id FROM retention_holds WHERE NOT (hold_id = ANY($1::text[]))`, [[...inTopic]])) as Array<{
            hold_id: string;
          }>;
          // Dropped, not remembered as released: the topic no longer has them, it never said they were released.
          for (const { hold_id } of rows) await dropHold(dataSource.manager, hold_id);
          if (rows.length > 0) options.logger.info({ released: rows.length }, 'holds no longer on the holds topic released (their release was compacted away)');
        }),
      )
      .catch((error: unknown) => {
        reconciled = undefined;
        throw error;
      }));
  // At once, not only when the first command arrives: a stale hold also hides rows from the gauge.
  reconcile(60_000).catch((error: unknown) => options.logger.warn({ err: errorSummary(error) }, 'holds reconciliation postponed to the first command'));
  return {
    // Commands wait for this: the first call also reconciles the local table with the topic.
    caughtUp: async (timeoutMs) => {
      await reconcile(timeoutMs);
      await tracker.caughtUp(timeoutMs);
    },
    async stop() {
      await consumer.stop();
      await tracker.close();
      // Best effort: a group left behind (a crash) expires with the broker's offsets retention.
      const admin = kafka.admin();
      await admin
        .connect()
        .then(() => admin.deleteGroups([groupId]))
        .catch((error: unknown) => options.logger.debug({ err: errorSummary(error) }, 'could not delete the holds replica consumer group'))
        .finally(() => admin.disconnect());
    },
  };
}
