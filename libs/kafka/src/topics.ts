import { type TopicKey, TopicKeys, type TopicNames, TopicSpecs } from '@retention/contracts';
import type { Kafka } from 'kafkajs';

/**
 * Creates the platform's topics that do not exist yet, with their partition counts and configs
 * (compaction for holds and the registry, short retention for commands). Safe to call from every
 * process at start: creation is idempotent.
 */
export async function ensureTopics(kafka: Kafka, names: TopicNames, keys: readonly TopicKey[] = TopicKeys): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = keys.filter((k) => !existing.has(names[k]));
    if (missing.length === 0) return;
    await admin.createTopics({
      waitForLeaders: true,
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
  } finally {
    await admin.disconnect();
  }
}
