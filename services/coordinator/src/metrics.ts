import { createDeadLetterCounter } from '@retention/kafka';
import { Counter, Gauge, Histogram, type MetricsCache, type Registry } from '@retention/observability';
import type { DataSource } from 'typeorm';

export interface CoordinatorMetrics {
  acksTotal: Counter<'outcome'>;
  /** Acks that parse but are wrong, by reason (`AckRejection`). */
  acksRejected: Counter<'reason'>;
  /** `retention_dead_letters_total{consumer,reason}`, shared by the coordinator's consumers. */
  deadLetters: Counter<'consumer' | 'reason'>;
  ackLatency: Histogram<'kind'>;
  redeliveries: Counter;
  sweepsScheduled: Counter;
  /** Erasures sent when their grace period ended. */
  erasuresReleased: Counter;
}

/**
 * The coordinator's metrics. Gauges computed from the database run their query on the cache's
 * interval (METRICS_REFRESH_SECONDS), never at scrape time: a scrape reads the last values, so it
 * neither waits on nor loads the database (`retention_metrics_cache_age_seconds` says how old they
 * are). Labels are kinds, statuses and service names only.
 */
export function createCoordinatorMetrics(registry: Registry, dataSource: DataSource, cache: MetricsCache): CoordinatorMetrics {
  const query = <T>(name: string, sql: string): (() => T[] | undefined) => cache.source(name, () => dataSource.query(sql) as Promise<T[]>);
  const requests = query<{ kind: string; status: string; n: number }>(
    'requests',
    `SELECT kind, CASE WHEN status = 'pending' AND due_at < now() THEN 'overdue' ELSE status END AS status, count(*)::int AS n
     FROM retention_requests GROUP BY 1, 2`,
  );

  new Gauge({
    name: 'retention_requests',
    help: 'Requests by kind and status (overdue = pending past its due date; held = waiting for legal holds to end; scheduled = an erasure in its grace period; cancelled = cancelled in it)',
    labelNames: ['kind', 'status'] as const,
    registers: [registry],
    collect() {
      const rows = requests();
      if (!rows) return;
      this.reset();
      for (const kind of ['erasure', 'sweep'])
        for (const status of ['scheduled', 'pending', 'completed', 'failed', 'held', 'overdue', 'cancelled']) this.set({ kind, status }, 0);
      for (const r of rows) this.set({ kind: r.kind, status: r.status }, r.n);
    },
  });

  // Per registered target service: how many requests wait for its ack, and since when.
  const pendingByTarget = query<{ service: string; n: number; oldest: number }>(
    'pending_by_target',
    `SELECT s.service, count(t.service)::int AS n, COALESCE(EXTRACT(EPOCH FROM now() - min(r.created_at)), 0)::float AS oldest
       FROM registered_services s
       LEFT JOIN request_targets t ON t.service = s.service AND t.status = 'pending'
       LEFT JOIN retention_requests r ON r.id = t.request_id
       WHERE s.status = 'active'
       GROUP BY s.service`,
  );
  new Gauge({
    name: 'retention_pending_acks',
    help: 'Targets that have not acknowledged yet, by target service',
    labelNames: ['target'] as const,
    registers: [registry],
    collect() {
      const rows = pendingByTarget();
      if (!rows) return;
      this.reset();
      for (const r of rows) this.set({ target: r.service }, r.n);
    },
  });
  new Gauge({
    name: 'retention_oldest_unacked_command_seconds',
    help: "Age of the oldest request still waiting for this target service's acknowledgement (0 when none)",
    labelNames: ['target'] as const,
    registers: [registry],
    collect() {
      const rows = pendingByTarget();
      if (!rows) return;
      this.reset();
      for (const r of rows) this.set({ target: r.service }, r.oldest);
    },
  });

  // retention_outbox_pending / _oldest_seconds / _parked: libs/outbox registers them in every process with a relay.
  return {
    acksTotal: new Counter({
      name: 'retention_acks_total',
      help: 'Acknowledgements received, by outcome of reconciliation',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    acksRejected: new Counter({
      name: 'retention_acks_rejected_total',
      help: 'Acknowledgements that parse but are wrong (unknown request, not a target, mismatch, contradiction), by reason; each is also dead-lettered',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    deadLetters: createDeadLetterCounter(registry),
    ackLatency: new Histogram({
      name: 'retention_ack_latency_seconds',
      help: "Time from a request's creation to each target's acknowledgement",
      labelNames: ['kind'] as const,
      buckets: [0.1, 0.5, 1, 5, 30, 60, 300, 3600, 86_400, 7 * 86_400, 30 * 86_400],
      registers: [registry],
    }),
    redeliveries: new Counter({
      name: 'retention_redeliveries_total',
      help: 'Commands re-published to targets that had not acknowledged',
      registers: [registry],
    }),
    sweepsScheduled: new Counter({ name: 'retention_sweeps_scheduled_total', help: 'Sweeps started by the scheduler', registers: [registry] }),
    erasuresReleased: new Counter({
      name: 'retention_erasures_released_total',
      help: 'Erasures sent when their grace period ended (scheduled, then released by the leader)',
      registers: [registry],
    }),
  };
}
