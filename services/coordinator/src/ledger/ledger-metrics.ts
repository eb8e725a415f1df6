import { Counter, Gauge, type MetricsCache, type Registry } from '@retention/observability';
import type { DataSource } from 'typeorm';
import type { LedgerProblemKind } from './verify-ledger';

export interface LedgerMetrics {
  checkpoints: Counter<'outcome'>;
  refusals: Counter<'reason'>;
  verifyProblems: Gauge<'kind'>;
}

const PROBLEM_KINDS: readonly LedgerProblemKind[] = ['changed', 'deleted', 'broken_link', 'truncated', 'rewritten'];

/**
 * Ledger proof metrics: checkpoint runs by outcome and refusals by reason (a refusal means the
 * ledger does not check out and nothing new gets signed), how many entries no signed checkpoint
 * covers yet (grows while checkpointing is refused or failing; the ledger's length is read on the
 * metrics cache's interval), and the problems the last verification on this replica found, by kind.
 */
export function createLedgerMetrics(registry: Registry, dataSource: DataSource, latestSize: () => number, cache: MetricsCache): LedgerMetrics {
  // On the cache's interval, never at scrape time.
  const lastSeq = cache.source('ledger', async () => {
    const [row] = (await dataSource.query(`SELECT COALESCE(max(seq), 0) AS max FROM ledger_entries`)) as Array<{ max: string }>;
    return Number(row?.max ?? 0);
  });
  new Gauge({
    name: 'retention_ledger_checkpoint_entries',
    help: 'Entries covered by the latest signed checkpoint this replica knows (tree size)',
    registers: [registry],
    collect() {
      this.set(latestSize());
    },
  });
  new Gauge({
    name: 'retention_ledger_unanchored_entries',
    help: 'Ledger entries that no signed checkpoint covers yet',
    registers: [registry],
    collect() {
      const seq = lastSeq();
      if (seq !== undefined) this.set(Math.max(0, seq - latestSize()));
    },
  });
  const verifyProblems = new Gauge({
    name: 'retention_ledger_verify_problems',
    help: 'Problems the latest ledger verification on this replica found, by kind (0 after a clean one)',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  for (const kind of PROBLEM_KINDS) verifyProblems.set({ kind }, 0);
  return {
    checkpoints: new Counter({
      name: 'retention_ledger_checkpoints_total',
      help: 'Checkpoint runs by outcome: published, unchanged (nothing new), refused (the ledger does not check out)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    refusals: new Counter({
      name: 'retention_ledger_checkpoint_refusals_total',
      help: 'Checkpoints not signed because the ledger does not check out, by reason (changed, deleted, broken_link, truncated, rewritten)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    verifyProblems,
  };
}

/** Sets the problem gauge from one verification's findings. */
export function recordVerifyProblems(metrics: LedgerMetrics, problems: ReadonlyArray<{ kind: LedgerProblemKind }>): void {
  for (const kind of PROBLEM_KINDS) metrics.verifyProblems.set({ kind }, problems.filter((p) => p.kind === kind).length);
}
