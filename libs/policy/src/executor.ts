import type { TableResult } from '@retention/contracts';
import type { EntityManager } from 'typeorm';
import type { BoundPolicies, TableInfo } from './bind-policies';
import type { ColumnStrategy } from './define-policies';
import { ACTIVE_HOLD_SQL } from './holds.repository';
import { isPartitionedTable } from './partitions';
import { Params, quoteIdent } from './sql-builder';
import { strategies } from './strategies';

/**
 * One table's share of a job: which rows (a predicate over alias `x`) and what to do with them.
 * Steps are plain data, recomputed from the command on every batch, so a restarted process
 * rebuilds exactly the same plan.
 */
export interface TableStep {
  kind: 'table';
  table: string;
  policy?: string;
  action: 'delete' | 'anonymize' | 'archive';
  /** SQL over alias `x` selecting the rows due; binds its values into `params`. */
  where: (params: Params) => string;
  anonymize?: Record<string, ColumnStrategy>;
  markerColumn?: string;
  archiveTable?: string;
  batchSize: number;
  /** Subject types whose holds protect rows of this table: column per type. */
  subjectColumns: ReadonlyArray<{ type: string; column: string }>;
  /** Hold ids that hold the whole step (policy holds): counted, never changed. */
  heldBy: readonly string[];
  /** Column holding the path of a file that goes with the row (deleted after commit). */
  filesColumn?: string;
  /**
   * The request whose files these are (erasures): its queued files are deleted by the request itself
   * before it acks (`deleteRequestFiles`), not by the asynchronous flush.
   */
  filesOwner?: string;
  /** The relation read instead of `table` (one of its partitions); holds still match `table`'s rows. */
  relation?: string;
  /** For sweep steps: the column the retention period is measured on. */
  timestampColumn?: string;
  /** For sweep steps with one period: rows with a timestamp before this are due. */
  cutoff?: Date;
  /** For per-record sweep steps: each row's deadline (SQL over alias `x`) and the floor in days. */
  deadline?: { expr: string; floorDays: number };
  /**
   * Every row before `cutoff` is due (no conditions, delete or archive): when the table is
   * range-partitioned on the timestamp column, partitions wholly before the cutoff may be dropped.
   */
  dropPartitions?: boolean;
}

export interface BatchOutcome {
  /** Rows changed by this batch (or, in a dry run, that would be). */
  affected: number;
  /** True when the step has nothing left to do. */
  done: boolean;
  /** Set on the final batch: the rows left alone because of a hold. */
  held?: number;
  /** Anonymize steps: the last primary key of the batch, where the next batch starts (keyset paging). */
  cursor?: string | null;
  /**
   * Set when a short batch left rows due behind: rows another transaction held locked (skipped by
   * `SKIP LOCKED`) or added meanwhile. The caller should wait a little before the next pass.
   */
  skipped?: number;
}

/**
 * Row `x` of `table` is not protected by an active record or subject hold. Written as a
 * conjunction of NOT EXISTS (not NOT (EXISTS OR EXISTS)) so the planner uses anti-joins and costs
 * the batch statement low: the OR form is costed as per-row subplans, which pushed every batch over
 * `jit_above_cost` and made PostgreSQL JIT-compile a 5,000-row statement each time (3× slower).
 */
function notHeldSql(step: TableStep, table: TableInfo, params: Params): string {
  const pk = `x.${quoteIdent(table.primaryKey.name)}`;
  const parts = [
    `NOT EXISTS (SELECT 1 FROM retention_holds h WHERE h.scope = 'record' AND h.table_name = ${params.bind(step.table)} AND h.record_key = ${pk}::text AND ${ACTIVE_HOLD_SQL})`,
    ...step.subjectColumns.map(
      (s) =>
        `NOT EXISTS (SELECT 1 FROM retention_holds h WHERE h.scope = 'subject' AND h.subject_type = ${params.bind(s.type)} AND h.subject_id = x.${quoteIdent(s.column)}::text AND ${ACTIVE_HOLD_SQL})`,
    ),
  ];
  return `(${parts.join(' AND ')})`;
}

function tableOf(bound: BoundPolicies, name: string): TableInfo {
  const info = bound.tables.get(name);
  if (!info) throw new TypeError(`table "${name}" is not bound`);
  return info;
}

/** Counts the rows a step selects: those it would change and those a hold protects. */
export async function countStep(manager: EntityManager, bound: BoundPolicies, step: TableStep): Promise<{ due: number; held: number }> {
  const table = tableOf(bound, step.table);
  const params = new Params();
  const where = step.where(params);
  const from = quoteIdent(step.relation ?? step.table);
  if (step.heldBy.length > 0) {
    const [row] = await manager.query(`SELECT count(*)::int AS n FROM ${from} x WHERE ${where}`, params.values);
    return { due: 0, held: (row as { n: number }).n };
  }
  const free = notHeldSql(step, table, params);
  const [row] = await manager.query(
    `SELECT (count(*) FILTER (WHERE ${free}))::int AS due, (count(*) FILTER (WHERE NOT ${free}))::int AS held
     FROM ${from} x WHERE ${where}`,
    params.values,
  );
  const r = row as { due: number; held: number };
  return { due: r.due, held: r.held };
}

/**
 * The ids of the holds that keep rows of a step: its policy holds, and the record and subject holds
 * in force on the rows it selects (so a held ack names every hold whose end should resume it).
 */
export async function holdsKeeping(manager: EntityManager, bound: BoundPolicies, step: TableStep): Promise<string[]> {
  const table = tableOf(bound, step.table);
  const params = new Params();
  const where = step.where(params);
  const pk = `x.${quoteIdent(table.primaryKey.name)}`;
  const matches = [
    `(h.scope = 'record' AND h.table_name = ${params.bind(step.table)} AND h.record_key = ${pk}::text)`,
    ...step.subjectColumns.map((s) => `(h.scope = 'subject' AND h.subject_type = ${params.bind(s.type)} AND h.subject_id = x.${quoteIdent(s.column)}::text)`),
  ];
  const rows = (await manager.query(
    `SELECT DISTINCT h.hold_id FROM ${quoteIdent(step.table)} x JOIN retention_holds h ON (${matches.join(' OR ')}) AND ${ACTIVE_HOLD_SQL} WHERE ${where}`,
    params.values,
  )) as Array<{ hold_id: string }>;
  return [...new Set([...step.heldBy, ...rows.map((r) => r.hold_id)])];
}

/**
 * Applies one batch of a step in the caller's transaction: at most `batchSize` rows, claimed with
 * `FOR UPDATE SKIP LOCKED`, changed by one set-based statement. Rows under a hold are excluded in
 * SQL. When a batch comes back short, the step re-counts: rows another transaction had locked are
 * taken by a later batch, so "done" means nothing due is left.
 */
export async function runBatch(manager: EntityManager, bound: BoundPolicies, step: TableStep, cursor: string | null = null): Promise<BatchOutcome> {
  if (step.heldBy.length > 0) {
    const { held } = await countStep(manager, bound, step);
    return { affected: 0, done: true, held };
  }
  const table = tableOf(bound, step.table);
  const t = quoteIdent(step.table);
  const pk = quoteIdent(table.primaryKey.name);
  const params = new Params();
  // Updated rows still match the timestamp range, so an anonymize step pages by primary key
  // instead of re-walking the rows it already did (which makes a large sweep quadratic). The
  // cursor is the batch's largest key in the key's own order (not as text: "99999" > "100000").
  const keyset = step.action === 'anonymize';
  const after = keyset && cursor !== null ? ` AND x.${pk} > ${params.bind(cursor)}` : '';
  const order = keyset ? ` ORDER BY x.${pk}` : '';
  const selection = `SELECT x.${pk} FROM ${t} x WHERE ${step.where(params)}${after} AND ${notHeldSql(step, table, params)}${order} LIMIT ${params.bind(step.batchSize)} FOR UPDATE OF x SKIP LOCKED`;

  // On a table partitioned by the timestamp, the join on the key alone probes every partition's
  // key index; the cutoff lets the planner prune the DELETE to the partitions the batch came from.
  // Only there: on a plain table the extra range gains nothing, and when its statistics are stale
  // (many rows inserted since the last ANALYZE) the planner may take that range for one row and
  // nest the batch inside an index scan of it, comparing every due row with every batch row.
  const pruneTo =
    step.dropPartitions && step.cutoff && step.timestampColumn && (await isPartitionedTable(manager, step.table))
      ? { column: step.timestampColumn, cutoff: step.cutoff }
      : undefined;
  const prune = (p: Params): string => (pruneTo ? ` AND ${t}.${quoteIdent(pruneTo.column)} < ${p.bind(pruneTo.cutoff.toISOString())}` : '');
  let sql: string;
  switch (step.action) {
    case 'delete':
      if (step.filesColumn) {
        // The file paths are queued in the same statement, so they are deleted from disk only if
        // this transaction commits (see file-deletions.ts).
        const file = quoteIdent(step.filesColumn);
        sql = `WITH batch AS (${selection}), gone AS (DELETE FROM ${t} USING batch WHERE ${t}.${pk} = batch.${pk} RETURNING ${t}.${file} AS path),
               queued AS (INSERT INTO retention_file_deletions (path, request_id) SELECT path, ${params.bind(step.filesOwner ?? null)}::text FROM gone WHERE path IS NOT NULL)
               SELECT 1 FROM gone`;
      } else {
        sql = `WITH batch AS (${selection}) DELETE FROM ${t} USING batch WHERE ${t}.${pk} = batch.${pk}${prune(params)}`;
      }
      break;
    case 'anonymize': {
      const sets = Object.entries(step.anonymize ?? {}).map(([column, spec]) => {
        const info = table.columns.get(column)!;
        const name = typeof spec === 'string' ? spec : spec.strategy;
        const options = typeof spec === 'string' ? {} : { text: spec.text };
        const strategy = strategies[name] as (typeof strategies)['redact'];
        return `${quoteIdent(column)} = ${strategy.expression(`${t}.${quoteIdent(column)}`, info, { bind: (v) => params.bind(v), hashKey: bound.hashKey }, options)}`;
      });
      if (step.markerColumn) sets.push(`${quoteIdent(step.markerColumn)} = now()`);
      sql = `WITH batch AS (${selection}), changed AS (UPDATE ${t} SET ${sets.join(', ')} FROM batch WHERE ${t}.${pk} = batch.${pk} RETURNING ${t}.${pk} AS k)
             SELECT (SELECT count(*) FROM changed)::int AS n, (SELECT c.k FROM changed c ORDER BY c.k DESC LIMIT 1)::text AS last`;
      break;
    }
    case 'archive': {
      const columns = [...table.columns.keys()].map(quoteIdent).join(', ');
      sql = `WITH batch AS (${selection}), moved AS (DELETE FROM ${t} USING batch WHERE ${t}.${pk} = batch.${pk}${prune(params)} RETURNING ${t}.*)
             INSERT INTO ${quoteIdent(step.archiveTable!)} (${columns}) SELECT ${columns} FROM moved RETURNING 1`;
      break;
    }
  }
  const result: unknown = await manager.query(sql, params.values);
  let affected: number;
  let last: string | null = null;
  if (keyset) {
    const [row] = result as Array<{ n: number; last: string | null }>;
    affected = row?.n ?? 0;
    last = row?.last ?? null;
  } else {
    affected = rowCount(result);
  }
  if (affected >= step.batchSize) return { affected, done: false, cursor: last };
  const { due, held } = await countStep(manager, bound, step);
  // Rows still due were locked by another transaction when we passed them: start a new pass.
  return due > 0 ? { affected, done: false, cursor: null, skipped: due } : { affected, done: true, held };
}

/**
 * TypeORM's postgres driver returns `[rows, rowCount]` for UPDATE and DELETE, and the rows for
 * anything else (the archive INSERT returns one row per moved record).
 */
function rowCount(result: unknown): number {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[1];
  if (Array.isArray(result)) return result.length;
  throw new TypeError('unexpected query result shape');
}

export function emptyResult(step: TableStep): TableResult {
  return { table: step.table, policy: step.policy, action: step.action, matched: 0, deleted: 0, anonymized: 0, archived: 0, held: 0 };
}

/** Adds a batch's effect to a step's running result. */
export function addToResult(result: TableResult, step: TableStep, affected: number, held: number | undefined): TableResult {
  const next = { ...result, matched: result.matched + affected };
  if (step.action === 'delete') next.deleted += affected;
  if (step.action === 'anonymize') next.anonymized += affected;
  if (step.action === 'archive') next.archived += affected;
  if (held !== undefined) {
    next.held = held;
    next.matched += held;
  }
  return next;
}

/**
 * The timestamp of the oldest row a sweep step would change now (not held), or null. Walks the
 * timestamp index from its start and stops at the first row that qualifies, so it is cheap on any
 * table size as long as the column is indexed (held rows at the start are stepped over).
 */
export async function oldestDue(manager: EntityManager, bound: BoundPolicies, step: TableStep): Promise<Date | null> {
  if (!step.timestampColumn || step.heldBy.length > 0) return null;
  const table = tableOf(bound, step.table);
  const params = new Params();
  const ts = `x.${quoteIdent(step.timestampColumn)}`;
  const rows = (await manager.query(
    `SELECT ${ts} AS ts FROM ${quoteIdent(step.table)} x WHERE ${step.where(params)} AND ${notHeldSql(step, table, params)} ORDER BY ${ts} LIMIT 1`,
    params.values,
  )) as Array<{ ts: Date }>;
  return rows[0] ? new Date(rows[0].ts) : null;
}

const DAY_MS = 86_400_000;

/**
 * How many days past its own deadline the oldest row a sweep step would change now is (0 when
 * none is due): the cutoff minus its timestamp for a rule with one period, now minus the row's
 * deadline (never earlier than its timestamp plus the floor) for a per-record rule. Index-bound:
 * walks the timestamp index, or the deadline expression index, from its start.
 */
export async function overdueDays(manager: EntityManager, bound: BoundPolicies, step: TableStep, at: Date): Promise<number> {
  if (!step.deadline) {
    const oldest = await oldestDue(manager, bound, step);
    return oldest && step.cutoff ? Math.max(0, (step.cutoff.getTime() - oldest.getTime()) / DAY_MS) : 0;
  }
  if (!step.timestampColumn || step.heldBy.length > 0) return 0;
  const table = tableOf(bound, step.table);
  const params = new Params();
  // Epoch seconds: a `timestamp` deadline is UTC wall clock, which extract(epoch …) reads as UTC.
  const rows = (await manager.query(
    `SELECT extract(epoch FROM ${step.deadline.expr})::float8 AS deadline, extract(epoch FROM x.${quoteIdent(step.timestampColumn)})::float8 AS ts
     FROM ${quoteIdent(step.table)} x WHERE ${step.where(params)} AND ${notHeldSql(step, table, params)} ORDER BY ${step.deadline.expr} LIMIT 1`,
    params.values,
  )) as Array<{ deadline: number; ts: number }>;
  const row = rows[0];
  if (!row) return 0;
  const effective = Math.max(row.deadline * 1000, row.ts * 1000 + step.deadline.floorDays * DAY_MS);
  return Math.max(0, (at.getTime() - effective) / DAY_MS);
}
