import { ConfigError, type TopicKey, TopicKeys, type TopicNames, TopicSpecs, TransientError } from '@retention/contracts';
import type { Admin, Kafka } from 'kafkajs';

/** How {@link ensureTopics} creates what is missing. */
export interface EnsureTopicsOptions {
  /** `false`: create nothing; a missing topic is a ConfigError naming every missing one. Default true. */
  create?: boolean;
  /** Partitions of the command and ack topics (the parallelism of a service); default their TopicSpecs count (6). */
  partitions?: number;
  /** Replication factor of new topics; -1 (default) = the brokers' default.replication.factor. */
  replicationFactor?: number;
  /** How long to wait for every partition to have a leader. */
  timeoutMs?: number;
}

/** What {@link ensureTopics} found and did. */
export interface EnsureTopicsReport {
  created: string[];
  /** Each topic with its partition count, as the brokers report it. */
  partitions: Record<string, number>;
}

/** The topics whose partition count is the service's parallelism (RETENTION_TOPIC_PARTITIONS). */
export const SCALABLE_TOPICS: readonly TopicKey[] = ['commands', 'acks'];

/** The partitions a topic is created with. */
export function topicPartitions(key: TopicKey, partitions?: number): number {
  return partitions !== undefined && SCALABLE_TOPICS.includes(key) ? partitions : TopicSpecs[key].partitions;
}

/**
 * Creates the platform's topics that do not exist yet, with their partition counts and configs
 * (compaction for holds and the registry, short retention for commands), and waits until every
 * partition has a leader. Safe to call from every process at start: creation is idempotent. On a
 * secured cluster the processes only need Describe (implied by Read or Write) on topics that exist;
 * if one is missing and the principal may not create it, the error says so. With `create: false`
 * it only checks: a missing topic stops the caller, named (`retention topics apply` makes them).
 */
export async function ensureTopics(
  kafka: Kafka,
  names: TopicNames,
  keys: readonly TopicKey[] = TopicKeys,
  options: EnsureTopicsOptions = {},
): Promise<EnsureTopicsReport> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = keys.filter((k) => !existing.has(names[k]));
    if (missing.length > 0 && options.create === false) {
      throw new ConfigError(
        `topics ${missing.map((k) => names[k]).join(', ')} do not exist (or this principal may not describe them), and RETENTION_CREATE_TOPICS=false: ` +
          'create them first with `retention topics apply` (docs/deploy.md)',
      );
    }
    if (missing.length > 0) {
      try {
        await admin.createTopics({
          // kafkajs' own wait gives up on UNKNOWN_TOPIC_OR_PARTITION, which a KRaft broker answers
          // for a moment after creation; we wait below instead.
          waitForLeaders: false,
          topics: missing.map((k) => ({
            topic: names[k],
            numPartitions: topicPartitions(k, options.partitions),
            replicationFactor: options.replicationFactor ?? -1,
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
              'an administrator creates them and their ACLs first (`retention topics apply`; see docs/security.md)',
          );
        }
        if (!raced) throw error;
      }
    }
    const partitions = await waitForLeaders(
      admin,
      keys.map((k) => names[k]),
      options.timeoutMs ?? 60_000,
    );
    return { created: missing.map((k) => names[k]), partitions };
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

async function waitForLeaders(admin: Admin, topics: string[], timeoutMs: number): Promise<Record<string, number>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const { topics: metadata } = await admin.fetchTopicMetadata({ topics });
      if (metadata.length === topics.length && metadata.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) {
        return Object.fromEntries(metadata.map((t) => [t.name, t.partitions.length]));
      }
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new TransientError(`topics ${topics.join(', ')} have no leader after ${timeoutMs} ms (${String(last ?? 'no metadata')})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** {@link EnsureTopicsOptions} from a process's configuration (`commonEnv`'s topic keys). */
export function topicOptionsOf(config: {
  RETENTION_CREATE_TOPICS: boolean;
  RETENTION_TOPIC_PARTITIONS: number;
  RETENTION_TOPIC_REPLICATION_FACTOR: number;
}): EnsureTopicsOptions {
  return {
    create: config.RETENTION_CREATE_TOPICS,
    partitions: config.RETENTION_TOPIC_PARTITIONS,
    replicationFactor: config.RETENTION_TOPIC_REPLICATION_FACTOR,
  };
}
