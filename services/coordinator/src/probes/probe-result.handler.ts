import type { ProbeResult } from '@retention/contracts';
import type { DataSource } from 'typeorm';
import { appendLedger, type LedgerEntryInput } from '../ledger/ledger.repository';
import type { ProbeMetrics } from './probe-metrics';

export interface ProbeResultOutcome {
  /** `unknown_probe`: no probe with this id was sent to this service (dead-lettered by the caller). */
  outcome: 'applied' | 'duplicate' | 'unknown_probe';
  /** Erased subjects the answer found data of. */
  found: number;
}

/**
 * Records a service's answer to a probe: each pending (probe, request, service) row takes the
 * status and counts, and the ledger gets one `probe.result` entry per request. A repeated answer
 * (a redelivered probe) changes nothing; found data raises `retention_probe_found_total`.
 */
export function createProbeResultHandler(deps: { dataSource: DataSource; metrics: ProbeMetrics; now?: () => Date }) {
  const now = deps.now ?? (() => new Date());
  return async function probeAnswered(result: ProbeResult): Promise<ProbeResultOutcome> {
    const at = now();
    const applied = await deps.dataSource.transaction(async (manager) => {
      const rows = (await manager.query(
        `SELECT request_id, trigger, status FROM erasure_probes WHERE probe_id = $1 AND service = $2 ORDER BY request_id FOR UPDATE`,
        [result.probeId, result.service],
      )) as Array<{ request_id: string; trigger: string; status: string }>;
      if (rows.length === 0) return undefined;
      const pending = new Map(rows.filter((r) => r.status === 'pending').map((r) => [r.request_id, r]));
      const entries: LedgerEntryInput[] = [];
      const statuses: string[] = [];
      for (const item of result.items) {
        const row = pending.get(item.requestId);
        if (!row) continue;
        pending.delete(item.requestId);
        await manager.query(
          `UPDATE erasure_probes SET status = $4, remaining = $5, held = $6, tables = $7, answered_at = $8 WHERE probe_id = $1 AND request_id = $2 AND service = $3`,
          [result.probeId, item.requestId, result.service, item.status, item.remaining, item.held, JSON.stringify(item.tables), at],
        );
        statuses.push(item.status);
        entries.push({
          requestId: item.requestId,
          type: 'probe.result',
          service: result.service,
          body: {
            probeId: result.probeId,
            trigger: row.trigger,
            status: item.status,
            remaining: item.remaining,
            held: item.held,
            tables: item.tables,
            finishedAt: result.finishedAt,
            policyHash: result.policyHash ?? null,
          },
        });
      }
      await appendLedger(manager, entries, at);
      return statuses;
    });
    if (applied === undefined) return { outcome: 'unknown_probe', found: 0 };
    for (const status of applied) deps.metrics.results.inc({ target: result.service, status });
    const found = applied.filter((s) => s === 'found').length;
    // Incremented by 0 too: the series exists from the first answer, so increase() sees the first find.
    deps.metrics.found.inc({ target: result.service }, found);
    return { outcome: applied.length > 0 ? 'applied' : 'duplicate', found };
  };
}
