import { createPublicKey } from 'node:crypto';
import { type Checkpoint, encodeEvent, type ErasureReceipt, EventTypes, keyLookup, type SigningKey, type TrustedKey } from '@retention/contracts';
import type { DeadLetterCounter, Publisher } from '@retention/kafka';
import type { Logger, MetricsCache, Registry } from '@retention/observability';
import type { Kafka } from 'kafkajs';
import type { DataSource } from 'typeorm';
import { type CheckpointOutcome, createCheckpointPublisher } from './checkpoint-publisher';
import { startCheckpointReader } from './checkpoint-reader';
import { buildErasureReceipt } from './erasure-receipt';
import { createLedgerMetrics, recordVerifyProblems } from './ledger-metrics';
import { trustedCheckpoints } from './trusted-checkpoints';
import { verifyLedger, type VerifyResult } from './verify-ledger';

export interface LedgerService {
  /** Checks the ledger against the signed checkpoints (Kafka first): incremental, or `full`. */
  verify(options?: { full?: boolean }): Promise<VerifyResult>;
  /** The signed receipt of a completed erasure. */
  receipt(requestId: string): Promise<ErasureReceipt>;
  /** Signs and publishes a checkpoint now if the ledger grew (the leader does it on a schedule). */
  checkpointNow(): Promise<CheckpointOutcome>;
  /** The latest trusted checkpoint (reports carry it), null before the first. */
  latestCheckpoint(): Promise<Checkpoint | null>;
  stop(): Promise<void>;
}

export interface LedgerServiceOptions {
  dataSource: DataSource;
  kafka: Kafka;
  /** The checkpoint topic and its reader's consumer group. */
  topic: string;
  groupId: string;
  /** The coordinator's key: it signs checkpoints and receipts as it signs commands. */
  key: SigningKey;
  /** Earlier keys of this coordinator whose checkpoints stay trusted. */
  previousKeys: readonly TrustedKey[];
  publisher: Publisher;
  deadLetters: { topic: string; counter?: DeadLetterCounter };
  maxSkewMs: number;
  logger: Logger;
  registry: Registry;
  /** Where the ledger's database gauges are computed (on an interval, not per scrape). */
  metricsCache: MetricsCache;
  now: () => Date;
}

/** The ledger's proofs: the checkpoint reader, the publisher of checkpoints, verification and receipts. */
export async function startLedgerService(options: LedgerServiceOptions): Promise<LedgerService> {
  const { dataSource, logger, now } = options;
  const own: TrustedKey = { keyId: options.key.keyId, publicKey: createPublicKey(options.key.privateKey), owner: 'coordinator' };
  const lookup = keyLookup([own, ...options.previousKeys]);
  const reader = await startCheckpointReader({
    kafka: options.kafka,
    topic: options.topic,
    groupId: options.groupId,
    lookup,
    deadLetters: { ...options.deadLetters, publisher: options.publisher },
    maxSkewMs: options.maxSkewMs,
    logger,
  });
  const metrics = createLedgerMetrics(options.registry, dataSource, () => reader.latest()?.treeSize ?? 0, options.metricsCache);
  const anchors = (): Promise<Checkpoint[]> => trustedCheckpoints(reader, dataSource, lookup);
  const publisher = createCheckpointPublisher({
    dataSource,
    key: options.key,
    anchors,
    now,
    publish: async (c) => {
      const { value } = encodeEvent(EventTypes.ledgerCheckpoint, c, { source: '/retention/coordinator', time: now() });
      // Keyed by day: compaction keeps the last checkpoint of every day, and all of the current one.
      await options.publisher.publish([{ topic: options.topic, key: c.timestamp.slice(0, 10), value }]);
    },
    onPublished: (c) => reader.remember(c),
  });

  const checkpointNow = async (): Promise<CheckpointOutcome> => {
    const started = Date.now();
    const outcome = await publisher.publishNow();
    metrics.checkpoints.inc({ outcome: outcome.outcome });
    if (outcome.outcome === 'refused') {
      metrics.refusals.inc({ reason: outcome.reason });
      logger.error({ reason: outcome.reason, seq: outcome.seq, detail: outcome.message }, 'ledger checkpoint refused: the ledger does not check out');
    } else if (outcome.outcome === 'published') {
      const { treeSize, rootHash } = outcome.checkpoint;
      logger.info(
        { treeSize, rootHash, added: outcome.entriesAdded, frontierRebuilt: outcome.frontierRebuilt, ms: Date.now() - started },
        'ledger checkpoint published',
      );
    }
    return outcome;
  };

  return {
    async verify(opts = {}) {
      const result = await verifyLedger(dataSource, await anchors(), opts);
      recordVerifyProblems(metrics, result.problems);
      if (!result.ok) logger.error({ mode: result.mode, problems: result.problems.map((p) => p.kind) }, 'ledger verification found problems');
      return result;
    },
    receipt: (requestId) => buildErasureReceipt({ dataSource, key: options.key, anchors, checkpointNow, now }, requestId),
    checkpointNow,
    async latestCheckpoint() {
      return (await anchors()).at(-1) ?? null;
    },
    stop: () => reader.stop(),
  };
}
