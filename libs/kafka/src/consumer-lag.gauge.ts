import type { Registry } from 'prom-client';
import { Gauge } from 'prom-client';
import type { Admin, Kafka } from 'kafkajs';

/**
 * Messages of `topic` that consumer group `groupId` has not committed yet, summed over partitions
 * (a group that never committed is behind by everything the topic still holds).
 */
export async function consumerGroupLag(admin: Admin, groupId: string, topic: string): Promise<number> {
  return (await groupLag(admin, groupId, topic)).lag;
}

/**
 * The lag of a group the broker knows (it has members, or committed offsets on `topic`);
 * `undefined` for a group it does not (a wrong or unknown name): its lag says nothing about whether
 * anyone is behind.
 */
export async function knownGroupLag(admin: Admin, groupId: string, topic: string): Promise<number | undefined> {
  const { lag, committedPartitions } = await groupLag(admin, groupId, topic);
  if (committedPartitions > 0) return lag;
  const { groups } = await admin.describeGroups([groupId]);
  return groups[0] && groups[0].state !== 'Dead' ? lag : undefined;
}

async function groupLag(admin: Admin, groupId: string, topic: string): Promise<{ lag: number; committedPartitions: number }> {
  const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
  const byPartition = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  let lag = 0;
  for (const end of ends) {
    const done = byPartition.get(end.partition) ?? -1;
    lag += Math.max(0, Number(end.high) - Math.max(done, Number(end.low)));
  }
  return { lag, committedPartitions: [...byPartition.values()].filter((o) => o >= 0).length };
}

/**
 * `retention_consumer_lag{group,topic}`: messages published but not yet committed by a consumer
 * group, summed over partitions, read from the broker at scrape time (time-boxed).
 */
export function registerConsumerLagGauge(
  registry: Registry,
  kafka: Kafka,
  groups: ReadonlyArray<{ groupId: string; topic: string }>,
  timeoutMs = 3000,
): { close(): Promise<void> } {
  let admin: Admin | undefined;
  const connect = async (): Promise<Admin> => {
    if (!admin) {
      const a = kafka.admin();
      await a.connect();
      admin = a;
    }
    return admin;
  };
  new Gauge({
    name: 'retention_consumer_lag',
    help: 'Messages not yet processed by a consumer group, by group and topic',
    labelNames: ['group', 'topic'] as const,
    registers: [registry],
    async collect() {
      let timer: NodeJS.Timeout | undefined;
      try {
        const lags = await Promise.race([
          (async () => {
            const a = await connect();
            const out: Array<{ group: string; topic: string; lag: number }> = [];
            for (const { groupId, topic } of groups) out.push({ group: groupId, topic, lag: await consumerGroupLag(a, groupId, topic) });
            return out;
          })(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error('consumer lag collection timed out')), timeoutMs);
          }),
        ]);
        this.reset();
        for (const l of lags) this.set({ group: l.group, topic: l.topic }, l.lag);
      } catch {
        // Broker unreachable: the series disappears from this scrape; kafkajs logs the cause.
        this.reset();
      } finally {
        clearTimeout(timer);
      }
    },
  });
  return { close: async () => admin?.disconnect() };
}
