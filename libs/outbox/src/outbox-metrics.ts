import { errorSummary } from '@retention/contracts';
import { boundedCollect, Counter, Gauge, type Logger, type Registry } from '@retention/observability';
import type { DataSource } from 'typeorm';

export interface OutboxRelayMetrics {
  /** One failed publish (a batch or a single message), by error code. */
  publishFailed(code: string): void;
}

/**
 * The relay's metrics, registered by every process that runs one (the coordinator and each SDK
 * service): `retention_outbox_parked` (computed at scrape time from the partial index on parked
 * rows) and `retention_outbox_publish_failures_total{code}`. Codes are Kafka protocol error types,
 * kafkajs error classes or errno codes: a bounded set, never message text.
 */
export function registerOutboxRelayMetrics(registry: Registry, deps: { dataSource: DataSource; logger: Logger }): OutboxRelayMetrics {
  // Registered once per registry (a process may build its relay again, e.g. in tests).
  const existing = registry.getSingleMetric('retention_outbox_publish_failures_total') as Counter<'code'> | undefined;
  if (existing) return { publishFailed: (code) => existing.inc({ code }) };
  const onError = (error: unknown): void => deps.logger.warn({ err: errorSummary(error) }, 'retention_outbox_parked not collected');
  new Gauge({
    name: 'retention_outbox_parked',
    help: 'Outbox messages the relay gave up on after repeated publish failures (later messages with the same topic and key wait behind them)',
    registers: [registry],
    async collect() {
      const rows = await boundedCollect(
        () => deps.dataSource.query(`SELECT count(*)::int AS n FROM retention_outbox WHERE parked_at IS NOT NULL`) as Promise<Array<{ n: number }>>,
        2000,
        onError,
      );
      if (rows?.[0]) this.set(rows[0].n);
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
