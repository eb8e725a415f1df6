import { errorSummary } from '@retention/contracts';
import { boundedCollect, Counter, Gauge, type Logger, type MetricsCache, type Registry } from '@retention/observability';
import type { DataSource } from 'typeorm';

export interface OutboxRelayMetrics {
  /** One failed publish (a batch or a single message), by error code. */
  publishFailed(code: string): void;
}

/**
 * The relay's metrics, registered by every process that runs one (the coordinator and each SDK
 * service): `retention_outbox_parked`, `retention_outbox_pending` and `retention_outbox_oldest_seconds`
 * (one query at scrape time, or on the interval of `deps.cache`) and `retention_outbox_publish_failures_total{code}`. Codes are Kafka protocol error types,
 * kafkajs error classes or errno codes: a bounded set, never message text.
 */
export function registerOutboxRelayMetrics(registry: Registry, deps: { dataSource: DataSource; logger: Logger; cache?: MetricsCache }): OutboxRelayMetrics {
  // Registered once per registry (a process may build its relay again, e.g. in tests).
  const existing = registry.getSingleMetric('retention_outbox_publish_failures_total') as Counter<'code'> | undefined;
  if (existing) return { publishFailed: (code) => existing.inc({ code }) };
  const onError = (error: unknown): void => deps.logger.warn({ err: errorSummary(error) }, 'retention_outbox gauges not collected');
  type Counts = { parked: number; unpublished: number; oldest: number };
  const load = async (): Promise<Counts | undefined> =>
    (
      (await deps.dataSource.query(
        `SELECT (count(*) FILTER (WHERE parked_at IS NOT NULL))::int AS parked, (count(*) FILTER (WHERE parked_at IS NULL))::int AS unpublished,
                COALESCE(EXTRACT(EPOCH FROM now() - min(created_at) FILTER (WHERE parked_at IS NULL)), 0)::float AS oldest
         FROM retention_outbox`,
      )) as Counts[]
    )[0];
  // With a cache: on its interval, never at scrape time. Without: one query per scrape for the three
  // gauges (each gauge's collect() awaits the same promise).
  const cached = deps.cache?.source('outbox', load);
  let pending: Promise<Counts | undefined> | undefined;
  const outbox = async (): Promise<Counts | undefined> => {
    if (cached) return cached();
    pending ??= boundedCollect(load, 2000, onError).finally(() => setImmediate(() => (pending = undefined)));
    return pending;
  };
  new Gauge({
    name: 'retention_outbox_parked',
    help: 'Outbox messages the relay gave up on after repeated publish failures (later messages with the same topic and key wait behind them)',
    registers: [registry],
    async collect() {
      const row = await outbox();
      if (row) this.set(row.parked);
    },
  });
  // In every process (the coordinator's commands and holds, each service's acks): RetentionOutboxStuck.
  new Gauge({
    name: 'retention_outbox_pending',
    help: 'Messages written to the outbox but not yet published to Kafka (parked messages excluded)',
    registers: [registry],
    async collect() {
      const row = await outbox();
      if (row) this.set(row.unpublished);
    },
  });
  new Gauge({
    name: 'retention_outbox_oldest_seconds',
    help: 'Age of the oldest unpublished outbox message that is not parked (0 when none)',
    registers: [registry],
    async collect() {
      const row = await outbox();
      if (row) this.set(row.oldest);
    },
  });
  const failures = new Counter({
    name: 'retention_outbox_publish_failures_total',
    help: 'Failed publishes of outbox messages, by error code (broker unreachable, message too large, unknown topic, ...)',
    labelNames: ['code'] as const,
    registers: [registry],
  });
  return { publishFailed: (code) => failures.inc({ code }) };
}
