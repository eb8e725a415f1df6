import { boundedCollect, Gauge, type Logger, type Registry } from '@retention/observability';
import { activeScopedHolds, type BoundPolicies, overdueDays, planSweep } from '@retention/policy';
import type { DataSource } from 'typeorm';
import { safeErrorMessage } from './pg-errors';

/**
 * `retention_oldest_unprocessed_days{policy}`, computed at scrape time: how many days past its
 * cutoff the oldest row that a sweep would change now is (0 when none is due). If it grows,
 * retention is falling behind. One index-bound query per table policy, each time-boxed, so a slow
 * database drops this series from the scrape instead of failing it. Directory policies are not
 * measured (that would walk the directory on every scrape).
 */
export function registerOldestUnprocessedGauge(
  registry: Registry,
  deps: { dataSource: DataSource; bound: BoundPolicies; logger: Logger; now?: () => Date; timeoutMs?: number },
): Gauge<'policy'> {
  const now = deps.now ?? (() => new Date());
  return new Gauge({
    name: 'retention_oldest_unprocessed_days',
    help: 'Days past its retention cutoff of the oldest record not yet processed and not under hold (0 = nothing due)',
    labelNames: ['policy'] as const,
    registers: [registry],
    async collect() {
      const values = await boundedCollect(
        async () => {
          const at = now();
          const holds = await activeScopedHolds(deps.dataSource.manager);
          const plan = planSweep(deps.bound, { asOf: at }, holds);
          if (plan.status !== 'run') return [];
          const out: Array<{ policy: string; days: number }> = [];
          for (const step of plan.steps) {
            if (step.kind !== 'table' || !step.policy) continue;
            // Per-record rules: days past the record's own deadline.
            out.push({ policy: step.policy, days: await overdueDays(deps.dataSource.manager, deps.bound, step, at) });
          }
          return out;
        },
        deps.timeoutMs ?? 5000,
        (error) => deps.logger.warn({ err: safeErrorMessage(error) }, 'retention_oldest_unprocessed_days not collected'),
      );
      this.reset();
      for (const v of values ?? []) this.set({ policy: v.policy }, v.days);
    },
  });
}
