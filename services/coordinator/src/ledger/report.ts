import type { DataSource } from 'typeorm';
import { decodeCursor, type RequestCursor } from '../requests/request-cursor';
import { listRequests } from '../requests/requests.repository';
import type { RequestView } from '../requests/request.views';
import { latestProbes, type ReportProbe } from './report-probes';

export interface LedgerReport {
  from: string;
  to: string;
  generatedAt: string;
  summary: {
    total: number;
    completed: number;
    pending: number;
    overdue: number;
    failed: number;
    /** Requests whose status is `held` (waiting for legal holds to end). */
    held: number;
    /** Requests in which at least one target kept data under a hold (held requests, and completed dry runs and sweeps). */
    keptUnderHold: number;
    dryRun: number;
    /** Erasures still in their grace period (nothing sent yet). */
    scheduled: number;
    /** Erasures cancelled in their grace period. */
    cancelled: number;
  };
  /** `probes`: each target's latest answered deletion probe (erasures only; absent when never probed). */
  requests: Array<RequestView & { subjectRef: string | null; probes?: ReportProbe[] }>;
}

/**
 * Every request and sweep created in [from, to): targets, statuses, counts, times, overdue flags,
 * and a summary. `held` counts held requests; `keptUnderHold` every request in which at least one
 * target kept data under a hold.
 */
export async function buildReport(db: DataSource, from: Date, to: Date, now: Date = new Date()): Promise<LedgerReport> {
  const requests: LedgerReport['requests'] = [];
  for (const kind of ['erasure', 'sweep'] as const) {
    let cursor: RequestCursor | undefined;
    do {
      const page = await listRequests(db, { kind, from, to, limit: 500, cursor }, now);
      const refs = page.items.length
        ? ((await db.query(`SELECT id, subject_ref FROM retention_requests WHERE id = ANY($1::uuid[])`, [page.items.map((i) => i.id)])) as Array<{
            id: string;
            subject_ref: string | null;
          }>)
        : [];
      requests.push(...page.items.map((i) => ({ ...i, subjectRef: refs.find((r) => r.id === i.id)?.subject_ref ?? null })));
      cursor = page.nextCursor ? decodeCursor(page.nextCursor) : undefined;
    } while (cursor);
  }
  requests.sort((a, b) => (a.createdAt < b.createdAt ? -1 : 1));
  const probes = await latestProbes(
    db,
    requests.filter((r) => r.kind === 'erasure').map((r) => r.id),
  );
  for (const r of requests) if (probes.has(r.id)) r.probes = probes.get(r.id);
  const count = (p: (r: RequestView) => boolean): number => requests.filter(p).length;
  return {
    from: from.toISOString(),
    to: to.toISOString(),
    generatedAt: now.toISOString(),
    summary: {
      total: requests.length,
      completed: count((r) => r.status === 'completed'),
      pending: count((r) => r.status === 'pending'),
      overdue: count((r) => r.overdue),
      failed: count((r) => r.status === 'failed'),
      held: count((r) => r.status === 'held'),
      keptUnderHold: count((r) => r.targets.some((t) => t.status === 'held' || t.tables.some((x) => x.held > 0))),
      dryRun: count((r) => r.dryRun),
      scheduled: count((r) => r.status === 'scheduled'),
      cancelled: count((r) => r.status === 'cancelled'),
    },
    requests,
  };
}

const CSV_COLUMNS = [
  'request_id',
  'kind',
  'status',
  'dry_run',
  'subject_type',
  'subject_ref',
  'created_at',
  'due_at',
  'completed_at',
  'overdue',
  'service',
  'target_status',
  'attempts',
  'acked_at',
  'table',
  'policy',
  'action',
  'matched',
  'deleted',
  'anonymized',
  'archived',
  'held',
  'hold_ids',
  'reason',
  'not_before',
  'cancelled_at',
] as const;

function cell(value: unknown): string {
  const s = value === null || value === undefined ? '' : String(value);
  // Quote always; double embedded quotes; neutralize spreadsheet formulas.
  return `"${(/^[=+\-@]/.test(s) ? `'${s}` : s).replace(/"/g, '""')}"`;
}

/** One line per request, target and table (a target with no table results gets one line). */
export function reportToCsv(report: LedgerReport): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of report.requests) {
    const base = [r.id, r.kind, r.status, r.dryRun, r.subjectType, r.subjectRef, r.createdAt, r.dueAt, r.completedAt, r.overdue];
    const targets = r.targets.length ? r.targets : [undefined];
    for (const t of targets) {
      const tables = t?.tables.length ? t.tables : [undefined];
      for (const x of tables) {
        lines.push(
          [
            ...base,
            t?.service,
            t?.status,
            t?.attempts,
            t?.ackedAt,
            x?.table,
            x?.policy,
            x?.action,
            x?.matched,
            x?.deleted,
            x?.anonymized,
            x?.archived,
            x?.held,
            t?.holdIds.join(' '),
            t?.reason ?? t?.error?.message,
            r.notBefore,
            r.cancelledAt,
          ]
            .map(cell)
            .join(','),
        );
      }
    }
  }
  return `${lines.join('\n')}\n`;
}
