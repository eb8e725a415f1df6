/** Logical topic names. Deployments (and tests) may prefix them; see {@link topicNames}. */
export const TopicKeys = ['commands', 'acks', 'holds', 'registry', 'dlq', 'checkpoints', 'keys'] as const;
export type TopicKey = (typeof TopicKeys)[number];

export const DefaultTopics: Readonly<Record<TopicKey, string>> = {
  commands: 'data.retention',
  acks: 'data.retention.ack',
  holds: 'data.retention.holds',
  registry: 'data.retention.registry',
  dlq: 'data.retention.dlq',
  checkpoints: 'data.retention.ledger.checkpoints',
  keys: 'data.retention.keys',
};

export type TopicNames = Readonly<Record<TopicKey, string>>;

/** The topics a domain service uses (it neither reads nor may describe the ledger's checkpoints). */
export const ServiceTopicKeys = ['commands', 'acks', 'holds', 'registry', 'dlq', 'keys'] as const satisfies readonly TopicKey[];

/** Topic names with an optional prefix (e.g. `staging.` or a per-test namespace). */
export function topicNames(prefix = ''): TopicNames {
  return Object.fromEntries(TopicKeys.map((k) => [k, `${prefix}${DefaultTopics[k]}`])) as unknown as TopicNames;
}

/** The consumer group an SDK service reads the command topic with (the coordinator reads its lag). */
export function serviceCommandGroup(prefix: string, service: string): string {
  return `${prefix}retention.${service}`;
}

export interface TopicSpec {
  partitions: number;
  /** Broker-side topic configuration. */
  config: Record<string, string>;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const HOUR_MS = 60 * 60 * 1000;

/**
 * How each topic is created. Command topics carry subject identifiers, so they keep a short
 * retention; holds and the registry are compacted state (tombstones remove released holds).
 */
export const TopicSpecs: Readonly<Record<TopicKey, TopicSpec>> = {
  // segment.ms: the broker deletes whole closed segments only, and the default segment (1 GiB or 7
  // days) would keep a 7-day topic's messages up to ~14 days; with daily segments a message is gone at
  // most retention.ms + 1 day (+ log.retention.check.interval.ms) after it was written.
  commands: { partitions: 6, config: { 'cleanup.policy': 'delete', 'retention.ms': String(7 * DAY_MS), 'segment.ms': String(DAY_MS) } },
  acks: { partitions: 6, config: { 'cleanup.policy': 'delete', 'retention.ms': String(14 * DAY_MS), 'segment.ms': String(DAY_MS) } },
  // A released hold's last value is compacted away within max.compaction.lag.ms of the tombstone,
  // and the tombstone itself delete.retention.ms later.
  holds: {
    partitions: 1,
    config: {
      'cleanup.policy': 'compact',
      'min.compaction.lag.ms': '0',
      'max.compaction.lag.ms': String(DAY_MS),
      'segment.ms': String(DAY_MS),
      'delete.retention.ms': String(DAY_MS),
    },
  },
  registry: { partitions: 1, config: { 'cleanup.policy': 'compact' } },
  dlq: { partitions: 3, config: { 'cleanup.policy': 'delete', 'retention.ms': String(14 * DAY_MS), 'segment.ms': String(DAY_MS) } },
  // Keyed by UTC day: compaction keeps each day's last checkpoint for ever (a day's segment rolls, so
  // compaction runs), and every checkpoint of the current day.
  checkpoints: { partitions: 1, config: { 'cleanup.policy': 'compact', 'segment.ms': String(DAY_MS), 'min.compaction.lag.ms': String(DAY_MS) } },
  // Command keys (wrapped), re-published by the coordinator every rotation while they live, so a
  // starting service finds every live key within the retention. A destroyed key's tombstone has
  // compaction remove its wrapped copies within about two hours (hourly segments, compaction lag at
  // most an hour); the tombstone itself goes an hour later.
  keys: {
    partitions: 1,
    config: {
      'cleanup.policy': 'compact,delete',
      'retention.ms': String(2 * DAY_MS),
      'segment.ms': String(HOUR_MS),
      'min.compaction.lag.ms': '0',
      'max.compaction.lag.ms': String(HOUR_MS),
      'delete.retention.ms': String(HOUR_MS),
    },
  },
};
