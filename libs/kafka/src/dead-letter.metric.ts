import { Counter, type Registry } from '@retention/observability';

/** What `runConsumer` needs of the dead-letter counter (a prom-client Counter fits). */
export interface DeadLetterCounter {
  inc(labels: { consumer: string; reason: string }): void;
}

const REASON_CODE = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * `retention_dead_letters_total{consumer,reason}`: one per process, shared by all its consumers
 * (pass it as `deadLetters.counter` to each `runConsumer`).
 */
export function createDeadLetterCounter(registry: Registry): Counter<'consumer' | 'reason'> {
  return new Counter({
    name: 'retention_dead_letters_total',
    help: 'Messages written to the dead-letter topic, by consumer and reason code',
    labelNames: ['consumer', 'reason'] as const,
    registers: [registry],
  });
}

/**
 * The label value of a reason: stable codes (`validation_failed`, `cutoff_in_future`, …) pass,
 * anything else (a code a handler built from data) is counted as `other`, so the label stays
 * bounded and never carries an identifier.
 */
export function deadLetterReasonLabel(code: string): string {
  return REASON_CODE.test(code) ? code : 'other';
}
