import { type TopicKey, TopicKeys, type TopicNames, TopicSpecs, TransientError } from '@retention/contracts';
import type { Admin, Kafka } from 'kafkajs';

/**
 * Creates the platform's topics that do not exist yet, with their partition counts and configs
 * (compaction for holds and the registry, short retention for commands), and waits until every
 * partition has a leader. Safe to call from every process at start: creation is idempotent.
 */
export async function ensureTopics(kafka: Kafka, names: TopicNames, keys: readonly TopicKey[] = TopicKeys, timeoutMs = 60_000): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = keys.filter((k) => !existing.has(names[k]));
    if (missing.length > 0) {
      try {
        await admin.createTopics({
          // kafkajs' own wait gives up on UNKNOWN_TOPIC_OR_PARTITION, which a KRaft broker answers
          // for a moment after creation; we wait below instead.
          waitForLeaders: false,
          topics: missing.map((k) => ({
            topic: names[k],
            numPartitions: TopicSpecs[k].partitions,
            replicationFactor: -1,
            configEntries: Object.entries(TopicSpecs[k].config).map(([name, value]) => ({ name, value })),
          })),
        });
      } catch (error) {
        // Another process may have created the same topics between listTopics and createTopics.
        if ((error as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw error;
      }
    }
    await waitForLeaders(
      admin,
      keys.map((k) => names[k]),
      timeoutMs,
    );
  } finally {
    await admin.disconnect();
  }
}

async function waitForLeaders(admin: Admin, topics: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const { topics: metadata } = await admin.fetchTopicMetadata({ topics });
      if (metadata.length === topics.length && metadata.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new TransientError(`topics ${topics.join(', ')} have no leader after ${timeoutMs} ms (${String(last ?? 'no metadata')})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
