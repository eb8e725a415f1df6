import { Counter, Histogram, type Registry } from '@retention/observability';

/** The SDK's metrics; label values are policy and action names only, never subject data. */
export interface RetentionMetrics {
  recordBatch(policy: string, action: string, affected: number, held: number): void;
  observeRun(policy: string, seconds: number): void;
  commandsTotal: Counter<'kind' | 'outcome'>;
  /** Pauses before trying a command again, by reason (a `RetryReason`, or `rows_locked`). */
  commandRetries: Counter<'reason'>;
}

export function createRetentionMetrics(registry: Registry): RetentionMetrics {
  const processed = new Counter({
    name: 'retention_records_processed_total',
    help: 'Records deleted, anonymized or archived, by policy (erasures: erasure:<table>) and action',
    labelNames: ['policy', 'action'] as const,
    registers: [registry],
  });
  const held = new Counter({
    name: 'retention_records_held_total',
    help: 'Records left unchanged because of a legal hold, by policy',
    labelNames: ['policy'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'retention_run_duration_seconds',
    help: 'Wall time of one command (sweep of a policy, or one erasure) from first to last batch',
    labelNames: ['policy'] as const,
    buckets: [0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
    registers: [registry],
  });
  const commandsTotal = new Counter({
    name: 'retention_commands_total',
    help: 'Commands handled, by kind and outcome',
    labelNames: ['kind', 'outcome'] as const,
    registers: [registry],
  });
  const commandRetries = new Counter({
    name: 'retention_command_retries_total',
    help: 'Pauses before trying a command again: a retriable failure (by reason) or rows locked by another transaction (rows_locked)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  return {
    recordBatch(policy, action, affected, heldCount) {
      // Incremented by 0 as well: a labelled counter is exported only once it has a series, and
      // a policy that never met a hold would otherwise have no held series (an empty panel).
      processed.inc({ policy, action }, affected);
      held.inc({ policy }, heldCount);
    },
    observeRun(policy, seconds) {
      duration.observe({ policy }, seconds);
    },
    commandsTotal,
    commandRetries,
  };
}
