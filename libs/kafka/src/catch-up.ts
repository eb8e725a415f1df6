import { isRetriable, TransientError } from '@retention/contracts';
import type { Kafka } from 'kafkajs';

export interface CatchUpTracker {
  /** Record that the message at `offset` of `partition` has been applied. */
  markApplied(partition: number, offset: string): void;
  /** Resolves once every message published to the topic before this call has been applied. */
  caughtUp(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Tells when a local replica of a compacted topic (legal holds, the service registry) holds
 * everything published so far: the applied position of every partition has reached the high
 * watermark read at the time of the call.
 */
export async function createCatchUpTracker(kafka: Kafka, topic: string): Promise<CatchUpTracker> {
  const applied = new Map<number, bigint>();
  const admin = kafka.admin();
  await admin.connect();
  return {
    markApplied(partition, offset) {
      const next = BigInt(offset) + 1n;
      if ((applied.get(partition) ?? -1n) < next) applied.set(partition, next);
    },
    async caughtUp(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      // Right after a topic is created a broker may still answer NOT_LEADER for its offsets.
      let targets: Awaited<ReturnType<typeof admin.fetchTopicOffsets>> | undefined;
      while (!targets) {
        try {
          targets = await admin.fetchTopicOffsets(topic);
        } catch (error) {
          if (!isRetriable(error) || Date.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      for (;;) {
        const behind = targets.filter((t) => BigInt(t.high) > BigInt(t.low) && (applied.get(t.partition) ?? BigInt(t.low)) < BigInt(t.high));
        if (behind.length === 0) return;
        if (Date.now() > deadline) throw new TransientError(`local replica of ${topic} is still behind after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    close: () => admin.disconnect(),
  };
}
