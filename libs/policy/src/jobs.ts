import type { Subject, TableResult } from '@retention/contracts';
import type { EntityManager } from 'typeorm';
import type { BoundPolicies } from './bind-policies';
import { addToResult, countStep, emptyResult, runBatch, type TableStep } from './executor';
import { type DirectoryStep, sweepDirectory } from './directory-sweep';
import { type PartitionOutcome, previewPartitions, removeNextPartition } from './partitions';
import type { ActiveHold } from './holds.repository';
import { cutoff } from './period';
import { sweepInstant } from './sweep-as-of';
import { conditionSql, type Params, quoteIdent } from './sql-builder';
import { deadlineSql, floorCutoff, instantValue } from './per-record';
import { DEFAULT_MIN_PERIOD_DAYS } from './policy-bounds';
import type { ColumnInfo } from './strategies';

export type JobStep = TableStep | DirectoryStep;

export type JobPlan =
  | { status: 'run'; steps: JobStep[] }
  /** `steps`: what the holds keep, to be counted (never changed): every step is held by `holdIds`. */
  | { status: 'held'; holdIds: string[]; reason: string; steps: TableStep[] }
  | { status: 'not_applicable'; reason: string };

const DEFAULT_BATCH = 1000;

function subjectColumnsOf(bound: BoundPolicies, table: string): Array<{ type: string; column: string }> {
  return Object.entries(bound.policies.subjects).flatMap(([type, list]) => list.filter((s) => s.table === table).map((s) => ({ type, column: s.column })));
}

function policyHoldsOn(bound: BoundPolicies, holds: readonly ActiveHold[], table: string): string[] {
  const policies = new Set(bound.policies.rules.filter((r) => r.table === table).map((r) => r.name));
  return holds.filter((h) => h.scope === 'policy' && h.policy !== null && policies.has(h.policy)).map((h) => h.holdId);
}

/** Whether `id` can be a value of `column` (a uuid column never matches "demo-1"). */
function fitsColumn(id: string, column: ColumnInfo): boolean {
  const type = column.type.toLowerCase();
  if (type === 'uuid') return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
  if (['int', 'integer', 'int4', 'bigint', 'int8', 'smallint'].includes(type)) return /^-?\d{1,18}$/.test(id);
  return true;
}

/** What erasing one subject means in this service, given the holds in force. */
export function planErasure(bound: BoundPolicies, subject: Subject, holds: readonly ActiveHold[]): JobPlan {
  const tables = bound.policies.subjects[subject.type];
  if (!tables || tables.length === 0)
    return {
      status: 'not_applicable',
      reason: `service stores no data of subject type "${subject.type}"`,
    };
  const subjectHolds = holds.filter((h) => h.scope === 'subject' && h.subjectType === subject.type && h.subjectId === subject.id).map((h) => h.holdId);
  const batchSize = Math.max(DEFAULT_BATCH, ...bound.policies.rules.map((r) => r.batchSize));
  const steps = tables.map((s): TableStep => {
    const column = bound.tables.get(s.table)!.columns.get(s.column)!;
    const fits = fitsColumn(subject.id, column);
    return {
      kind: 'table' as const,
      table: s.table,
      action: s.action,
      filesColumn: s.files?.column,
      markerColumn: s.markerColumn,
      where: (params) => (fits ? `x.${quoteIdent(s.column)} = ${params.bind(subject.id)}` : 'false'),
      anonymize: s.anonymize,
      batchSize,
      subjectColumns: subjectColumnsOf(bound, s.table),
      heldBy: policyHoldsOn(bound, holds, s.table),
    };
  });
  // A held subject keeps everything; the steps are still returned so the ack can count, per table,
  // what the hold keeps (the resumed erasure needs no other record of it).
  if (subjectHolds.length > 0)
    return {
      status: 'held',
      holdIds: subjectHolds,
      reason: 'the subject is under legal hold',
      steps: steps.map((s) => ({ ...s, heldBy: [...new Set([...subjectHolds, ...s.heldBy])] })),
    };
  return { status: 'run', steps };
}

/**
 * What a sweep of one policy (or all) means at `asOf`, given the holds in force. Cutoffs are taken
 * from the earlier of `asOf` and `now` (default: the clock), so no cutoff is ever later than now
 * minus the policy's period, whatever a command says.
 */
export function planSweep(bound: BoundPolicies, options: { policy?: string; asOf: Date; now?: Date }, holds: readonly ActiveHold[]): JobPlan {
  const at = sweepInstant(options.asOf, options.now ?? new Date());
  const rules = bound.policies.rules.filter((r) => !options.policy || r.name === options.policy);
  const directories = bound.policies.directories.filter((d) => !options.policy || d.name === options.policy);
  if (rules.length === 0 && directories.length === 0) {
    return {
      status: 'not_applicable',
      reason: options.policy ? `service has no policy "${options.policy}"` : 'service has no retention policies',
    };
  }
  const policyHolds = (name: string): string[] => holds.filter((h) => h.scope === 'policy' && h.policy === name).map((h) => h.holdId);
  return {
    status: 'run',
    steps: [
      ...rules.map((r): TableStep => {
        const before = cutoff(at, r.retention);
        const deadline = deadlineSql(r, bound.tables.get(r.table)!, 'x');
        const floorDays = bound.minPeriodDays ?? DEFAULT_MIN_PERIOD_DAYS;
        // Per-record rules: due once the row's own deadline has passed, and never before the
        // floor (a per-row period below it is clamped to it).
        const due = (params: Params): string =>
          deadline
            ? `${deadline.expr} < ${params.bind(instantValue(at, deadline.type))}::${deadline.type} AND x.${quoteIdent(r.timestampColumn)} < ${params.bind(floorCutoff(at, floorDays).toISOString())}`
            : `x.${quoteIdent(r.timestampColumn)} < ${params.bind(before.toISOString())}`;
        return {
          kind: 'table',
          filesColumn: r.files?.column,
          timestampColumn: r.timestampColumn,
          cutoff: deadline ? undefined : before,
          deadline: deadline ? { expr: deadline.expr, floorDays } : undefined,
          // Whole partitions can go only when every row before the cutoff is due.
          dropPartitions: !deadline && r.conditions.length === 0 && (r.action === 'delete' || r.action === 'archive'),
          table: r.table,
          policy: r.name,
          action: r.action,
          where: (params) =>
            [due(params), ...r.conditions.map((c) => conditionSql(c, params)), ...(r.markerColumn ? [`x.${quoteIdent(r.markerColumn)} IS NULL`] : [])].join(
              ' AND ',
            ),
          anonymize: r.anonymize,
          markerColumn: r.markerColumn,
          archiveTable: r.archiveTable,
          batchSize: r.batchSize,
          subjectColumns: subjectColumnsOf(bound, r.table),
          heldBy: policyHolds(r.name),
        };
      }),
      ...directories.map((d): DirectoryStep => ({
        kind: 'directory',
        policy: d.name,
        path: d.path,
        suffixes: d.suffixes,
        before: cutoff(at, d.retention),
        heldBy: policyHolds(d.name),
      })),
    ],
  };
}

/** Progress of a job, stored by the caller after every batch so a restart resumes exactly. */
export interface JobState {
  step: number;
  results: TableResult[];
  /** Keyset position inside the current step (anonymize steps). */
  cursor?: string | null;
  /**
   * Partition-aware steps: set once no expired partition is left to remove (the batched path runs
   * from then on); `kept` names partitions left in place because a row in them is held.
   */
  partitions?: { done: boolean; kept: string[] };
}

export const initialJobState = (): JobState => ({ step: 0, results: [] });

export interface BatchReport {
  table: string;
  policy?: string;
  action: TableStep['action'];
  affected: number;
  held?: number;
  /** Rows still due that this batch passed over, locked by another transaction (see `BatchOutcome.skipped`). */
  skipped?: number;
  /** The partition this batch dropped or detached whole (its rows are `affected`, counted before it went). */
  partition?: string;
}

/**
 * Advances a job by one batch in the caller's transaction. A dry run counts every step at once
 * (same selection, same hold exclusion, nothing written). Returns the new state, what the batch
 * did (for the audit row) and whether the job is finished.
 */
export async function runJobBatch(
  manager: EntityManager,
  bound: BoundPolicies,
  steps: readonly JobStep[],
  state: JobState,
  dryRun: boolean,
): Promise<{ state: JobState; batches: BatchReport[]; done: boolean }> {
  if (dryRun) {
    const results: TableResult[] = [];
    const batches: BatchReport[] = [];
    for (const step of steps) {
      if (step.kind === 'directory') {
        const r = await runDirectoryStep(bound, step, true);
        results.push(r.result);
        batches.push(r.batch);
        continue;
      }
      const { due, held } = await countStep(manager, bound, step);
      const partitions = step.dropPartitions ? await previewPartitions(manager, bound, step) : [];
      results.push(withPartitions(addToResult(emptyResult(step), step, due, held), partitions));
      batches.push({
        table: step.table,
        policy: step.policy,
        action: step.action,
        affected: due,
        held,
      });
    }
    return { state: { step: steps.length, results }, batches, done: true };
  }
  const step = steps[state.step];
  if (!step) return { state, batches: [], done: true };
  if (step.kind === 'directory') {
    const r = await runDirectoryStep(bound, step, false);
    const results = [...state.results];
    results[state.step] = r.result;
    const next: JobState = { step: state.step + 1, results };
    return { state: next, batches: [r.batch], done: next.step >= steps.length };
  }
  let results = [...state.results];
  let partitions = state.partitions;
  if (step.dropPartitions && !partitions?.done) {
    const kept = partitions?.kept ?? [];
    const outcomes = await removeNextPartition(manager, bound, step, kept);
    const removed = outcomes.find((o) => o.kind !== 'kept');
    const before = results[state.step] ?? emptyResult(step);
    results[state.step] = withPartitions(removed ? addToResult(before, step, removed.rows, undefined) : before, outcomes);
    partitions = { done: !removed, kept: [...kept, ...outcomes.filter((o) => o.kind === 'kept').map((o) => o.name)] };
    if (removed) {
      const next: JobState = { step: state.step, results, partitions };
      return {
        state: next,
        batches: [{ table: step.table, policy: step.policy, action: step.action, affected: removed.rows, partition: removed.name }],
        done: false,
      };
    }
    // No expired partition left to remove (all gone, or kept for a hold): the batched path takes
    // the rest, pruned to the partition that straddles the cutoff and the kept ones.
  }
  const outcome = await runBatch(manager, bound, step, state.cursor ?? null);
  results = [...results];
  results[state.step] = addToResult(results[state.step] ?? emptyResult(step), step, outcome.affected, outcome.held);
  const next: JobState = outcome.done ? { step: state.step + 1, results } : { step: state.step, results, cursor: outcome.cursor ?? null, partitions };
  return {
    state: next,
    batches: [
      {
        table: step.table,
        policy: step.policy,
        action: step.action,
        affected: outcome.affected,
        held: outcome.held,
        skipped: outcome.skipped,
      },
    ],
    done: next.step >= steps.length,
  };
}

/**
 * What a held plan keeps, per table: each step's rows counted as held, added to what earlier
 * batches of the job did (a hold placed while the job ran).
 */
export async function countKept(
  manager: EntityManager,
  bound: BoundPolicies,
  steps: readonly TableStep[],
  earlier: readonly TableResult[],
): Promise<TableResult[]> {
  const results: TableResult[] = [];
  for (const [i, step] of steps.entries()) {
    const { held } = await countStep(manager, bound, step);
    results.push(addToResult(earlier[i] ?? emptyResult(step), step, 0, held));
  }
  return results;
}

/** Adds what happened to partitions (names only; their rows are already in the counts). */
function withPartitions(result: TableResult, outcomes: readonly PartitionOutcome[]): TableResult {
  if (outcomes.length === 0) return result;
  const prev = result.partitions ?? { dropped: [], detached: [], kept: [] };
  const add = (list: string[], kind: PartitionOutcome['kind']): string[] => [
    ...list,
    ...outcomes.filter((o) => o.kind === kind && !list.includes(o.name)).map((o) => o.name),
  ];
  return { ...result, partitions: { dropped: add(prev.dropped, 'dropped'), detached: add(prev.detached, 'detached'), kept: add(prev.kept, 'kept') } };
}

/**
 * A directory step in one go. Files are not transactional: a crash after some unlinks and before
 * the batch commits leaves those files gone and uncounted, and the retry counts only what is left.
 */
async function runDirectoryStep(bound: BoundPolicies, step: DirectoryStep, dryRun: boolean): Promise<{ result: TableResult; batch: BatchReport }> {
  if (!bound.filesRoot) throw new TypeError('directory policies need a files root');
  const { matched, deleted, held } = await sweepDirectory(bound.filesRoot, step, dryRun);
  const affected = step.heldBy.length > 0 ? 0 : dryRun ? matched : deleted;
  const result: TableResult = {
    table: step.policy,
    policy: step.policy,
    action: 'delete',
    matched: affected + held,
    deleted: affected,
    anonymized: 0,
    archived: 0,
    held,
  };
  return {
    result,
    batch: {
      table: step.policy,
      policy: step.policy,
      action: 'delete',
      affected,
      held,
    },
  };
}
