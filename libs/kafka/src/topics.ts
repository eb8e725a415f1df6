import { ConfigError, type TopicKey, TopicKeys, type TopicNames, TopicSpecs, TransientError } from '@retention/contracts';
import type { Admin, Kafka } from 'kafkajs';

/**
 * Creates the platform's topics that do not exist yet, with their partition counts and configs
 * (compaction for holds and the registry, short retention for commands), and waits until every
 * partition has a leader. Safe to call from every process at start: creation is idempotent. On a
 * secured cluster the processes only need Describe (implied by Read or Write) on topics that exist;
 * if one is missing and the principal may not create it, the error says so.
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
        const types = errorTypes(error);
        // Another process may have created the same topics between listTopics and createTopics.
        const raced = types.length > 0 && types.every((t) => t === 'TOPIC_ALREADY_EXISTS');
        if (!raced && types.some((t) => t === 'TOPIC_AUTHORIZATION_FAILED' || t === 'CLUSTER_AUTHORIZATION_FAILED')) {
          throw new ConfigError(
            `topics ${missing.map((k) => names[k]).join(', ')} do not exist (or this principal may not describe them), and it may not create them: ` +
              'an administrator creates them and their ACLs first (see docs/security.md)',
          );
        }
        if (!raced) throw error;
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

/** The broker error codes in a kafkajs error (createTopics reports one per topic, in `errors`). */
function errorTypes(error: unknown, depth = 0): string[] {
  if (!error || typeof error !== 'object' || depth > 4) return [];
  const e = error as { type?: unknown; errors?: unknown; originalError?: unknown; cause?: unknown };
  const own = typeof e.type === 'string' ? [e.type] : [];
  const nested = Array.isArray(e.errors) ? e.errors.flatMap((x) => errorTypes(x, depth + 1)) : [];
  return [...own, ...nested, ...errorTypes(e.originalError, depth + 1), ...errorTypes(e.cause, depth + 1)];
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
