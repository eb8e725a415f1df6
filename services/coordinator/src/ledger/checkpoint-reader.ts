import { type Checkpoint, checkpointSignatureFailure, EventTypes, SignatureError, type TrustedKey, verifyMessage } from '@retention/contracts';
import { type CatchUpTracker, createCatchUpTracker, type DeadLetterCounter, type Publisher, runConsumer } from '@retention/kafka';
import type { Logger } from '@retention/observability';
import type { Kafka } from 'kafkajs';

/**
 * The checkpoints on the Kafka topic, outside the coordinator's database: what verification and
 * the next checkpoint are anchored on. Only checkpoints whose message and checkpoint signatures
 * verify with the coordinator's keys are kept; anything else is dead-lettered.
 */
export interface CheckpointReader {
  /** Verified checkpoints read from the topic, smallest first (two of one size only if a key signed both). */
  all(): Checkpoint[];
  latest(): Checkpoint | undefined;
  /** Resolves once every checkpoint published before the call has been read. */
  caughtUp(timeoutMs?: number): Promise<void>;
  /** A checkpoint this process has just published (the broker acknowledged it). */
  remember(c: Checkpoint): void;
  stop(): Promise<void>;
}

export interface CheckpointReaderOptions {
  kafka: Kafka;
  topic: string;
  groupId: string;
  lookup: (keyId: string) => readonly TrustedKey[];
  deadLetters: { topic: string; publisher: Publisher; counter?: DeadLetterCounter };
  maxSkewMs: number;
  logger: Logger;
}

export async function startCheckpointReader(options: CheckpointReaderOptions): Promise<CheckpointReader> {
  const bySize = new Map<number, Checkpoint[]>();
  const remember = (c: Checkpoint): void => {
    const known = bySize.get(c.treeSize) ?? [];
    if (known.some((k) => k.rootHash === c.rootHash && k.signature === c.signature)) return;
    bySize.set(c.treeSize, [...known, c]);
  };
  const tracker: CatchUpTracker = await createCatchUpTracker(options.kafka, options.topic);
  const consumer = await runConsumer({
    kafka: options.kafka,
    groupId: options.groupId,
    topics: [options.topic],
    accept: [EventTypes.ledgerCheckpoint],
    name: 'coordinator.checkpoints',
    logger: options.logger,
    deadLetters: options.deadLetters,
    // Checkpoints are kept state (no age limit); only the coordinator's keys may have written them.
    verify: (message, headers) => verifyMessage(options.lookup, message, headers, { maxSkewMs: options.maxSkewMs }),
    handle: async (event) => {
      const failure = checkpointSignatureFailure(options.lookup, event.data);
      if (failure) throw new SignatureError(failure, `checkpoint of ${event.data.treeSize} entries: its own signature does not verify (${failure})`);
      remember(event.data);
    },
    onProcessed: (ctx) => tracker.markApplied(ctx.partition, ctx.offset),
  });
  const all = (): Checkpoint[] => [...bySize.entries()].sort(([a], [b]) => a - b).flatMap(([, list]) => list);
  return {
    all,
    latest: () => all().at(-1),
    caughtUp: (timeoutMs) => tracker.caughtUp(timeoutMs),
    remember,
    async stop() {
      await consumer.stop();
      await tracker.close();
    },
  };
}
