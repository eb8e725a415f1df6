import type { EntityManager } from 'typeorm';
import type { BoundPolicies } from './bind-policies';
import type { TableStep } from './executor';
import { ACTIVE_HOLD_SQL } from './holds.repository';
import { Params, quoteIdent } from './sql-builder';

/** A partition of a rule's table that lies wholly before the sweep's cutoff. */
export interface ExpiredPartition {
  name: string;
  /** `FOR VALUES FROM (…) TO (…)` as PostgreSQL prints it (to attach it elsewhere unchanged). */
  bound: string;
}

/** What happened to one partition: gone (dropped, or moved to the archive table) or kept for a hold. */
export type PartitionOutcome = { kind: 'dropped' | 'detached'; name: string; rows: number } | { kind: 'kept'; name: string; due: number; held: number };

/**
 * The partitions of `table` wholly before `cutoff`, oldest first, when `table` is range-partitioned
 * on `column` alone (native declarative partitioning). Read from pg_partitioned_table, pg_inherits
 * and each partition's bound; the upper bound (exclusive) is compared with the cutoff in the
 * column's own type, exactly as the sweep's `column < cutoff` compares. The default partition and a
 * partition bounded by MAXVALUE are never listed (their rows may be of any age).
 */
export async function expiredPartitions(manager: EntityManager, table: string, column: string, cutoff: Date): Promise<ExpiredPartition[]> {
  const rows = (await manager.query(
    `WITH parts AS (
       SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound, format_type(a.atttypid, NULL) AS type,
              (regexp_match(pg_get_expr(c.relpartbound, c.oid), '\\) TO \\(''([^'']+)''\\)$'))[1] AS upper
       FROM pg_partitioned_table p
       JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
       JOIN pg_inherits i ON i.inhparent = p.partrelid
       JOIN pg_class c ON c.oid = i.inhrelid
       WHERE p.partrelid = to_regclass(quote_ident($1)) AND p.partstrat = 'r' AND p.partnatts = 1 AND a.attname = $2)
     SELECT name, bound FROM parts
     WHERE upper IS NOT NULL AND CASE type
       WHEN 'timestamp with time zone' THEN upper::timestamptz <= $3::timestamptz
       WHEN 'timestamp without time zone' THEN upper::timestamp <= $3::timestamp
       WHEN 'date' THEN upper::date <= $3::timestamp
       ELSE false END
     ORDER BY CASE type WHEN 'date' THEN upper::date::timestamptz WHEN 'timestamp without time zone' THEN upper::timestamp::timestamptz ELSE upper::timestamptz END`,
    [table, column, cutoff.toISOString()],
  )) as ExpiredPartition[];
  return rows;
}

/** Whether `table` is a partitioned table (of any strategy). */
export async function isPartitionedTable(manager: EntityManager, table: string): Promise<boolean> {
  const rows = (await manager.query(`SELECT 1 FROM pg_class WHERE oid = to_regclass(quote_ident($1)) AND relkind = 'p'`, [table])) as unknown[];
  return rows.length > 0;
}

/** Whether `table` is range-partitioned on `column` alone (an archive table that can take a partition as is). */
export async function isRangePartitionedOn(manager: EntityManager, table: string, column: string): Promise<boolean> {
  const rows = (await manager.query(
    `SELECT 1 FROM pg_partitioned_table p JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
     WHERE p.partrelid = to_regclass(quote_ident($1)) AND p.partstrat = 'r' AND p.partnatts = 1 AND a.attname = $2`,
    [table, column],
  )) as unknown[];
  return rows.length > 0;
}

/**
 * Counts one partition's rows (all due: it lies wholly before the cutoff and the rule has no
 * conditions): those a record or subject hold protects and the rest, with the same matching as
 * the batched path (record key as text, subject id as text, active holds only). The holds on the
 * table are few and read first, so the partition is scanned once with a plain filter (and not at
 * all for held rows when there are none), instead of probing the holds table for every row.
 */
async function countPartition(manager: EntityManager, bound: BoundPolicies, step: TableStep, partition: string): Promise<{ due: number; held: number }> {
  const part = quoteIdent(partition);
  const [{ n }] = (await manager.query(`SELECT count(*)::int AS n FROM ${part}`)) as [{ n: number }];
  const table = bound.tables.get(step.table)!;
  const params = new Params();
  const matches: string[] = [];
  const keys = (await manager.query(`SELECT h.record_key FROM retention_holds h WHERE h.scope = 'record' AND h.table_name = $1 AND ${ACTIVE_HOLD_SQL}`, [
    step.table,
  ])) as Array<{ record_key: string }>;
  if (keys.length > 0) matches.push(`x.${quoteIdent(table.primaryKey.name)}::text = ANY(${params.bind(keys.map((k) => k.record_key))}::text[])`);
  for (const s of step.subjectColumns) {
    const ids = (await manager.query(`SELECT h.subject_id FROM retention_holds h WHERE h.scope = 'subject' AND h.subject_type = $1 AND ${ACTIVE_HOLD_SQL}`, [
      s.type,
    ])) as Array<{ subject_id: string }>;
    if (ids.length > 0) matches.push(`x.${quoteIdent(s.column)}::text = ANY(${params.bind(ids.map((i) => i.subject_id))}::text[])`);
  }
  if (matches.length === 0) return { due: n, held: 0 };
  const [{ held }] = (await manager.query(`SELECT count(*)::int AS held FROM ${part} x WHERE ${matches.join(' OR ')}`, params.values)) as [{ held: number }];
  return { due: n - held, held };
}

/**
 * What a dry run reports: every expired partition with no held row would be dropped (or, for
 * `archive`, detached into the archive table); one with a held row is kept and swept in batches.
 */
export async function previewPartitions(
  manager: EntityManager,
  bound: BoundPolicies,
  step: TableStep,
  skip: readonly string[] = [],
): Promise<PartitionOutcome[]> {
  const candidates = await eligiblePartitions(manager, step);
  const out: PartitionOutcome[] = [];
  for (const p of candidates) {
    if (skip.includes(p.name)) continue;
    const { due, held } = await countPartition(manager, bound, step, p.name);
    out.push(held > 0 ? { kind: 'kept', name: p.name, due, held } : { kind: step.action === 'archive' ? 'detached' : 'dropped', name: p.name, rows: due });
  }
  return out;
}

async function eligiblePartitions(manager: EntityManager, step: TableStep): Promise<ExpiredPartition[]> {
  if (!step.dropPartitions || !step.cutoff || !step.timestampColumn || step.heldBy.length > 0) return [];
  if (step.action === 'archive' && !(step.archiveTable && (await isRangePartitionedOn(manager, step.archiveTable, step.timestampColumn)))) return [];
  return expiredPartitions(manager, step.table, step.timestampColumn, step.cutoff);
}

/**
 * Removes the oldest expired partition not in `skip`, in the caller's transaction, and returns what
 * happened to each partition it looked at (partitions with a held row are kept and reported; the
 * batched path deletes their other rows). Returns an empty list when no expired partition is left.
 *
 * The parent is locked first (ACCESS EXCLUSIVE, as DROP and DETACH need anyway; the same order as
 * any statement through the parent, so no deadlock), the list is read again under the lock, and the
 * partition's rows are counted before it goes: the audit row written in the same transaction is
 * exact. Files named by its rows are queued for deletion in the same transaction.
 */
export async function removeNextPartition(manager: EntityManager, bound: BoundPolicies, step: TableStep, skip: readonly string[]): Promise<PartitionOutcome[]> {
  const first = (await eligiblePartitions(manager, step)).filter((p) => !skip.includes(p.name));
  if (first.length === 0) return [];
  // A lock we cannot get soon fails with 55P03 (retriable): the command handler tries again later.
  await manager.query(`SELECT set_config('lock_timeout', '5s', true)`);
  await manager.query(`LOCK TABLE ${quoteIdent(step.table)} IN ACCESS EXCLUSIVE MODE`);
  const out: PartitionOutcome[] = [];
  for (const p of (await eligiblePartitions(manager, step)).filter((c) => !skip.includes(c.name))) {
    const { due, held } = await countPartition(manager, bound, step, p.name);
    if (held > 0) {
      out.push({ kind: 'kept', name: p.name, due, held });
      continue;
    }
    const part = quoteIdent(p.name);
    if (step.filesColumn) {
      const file = quoteIdent(step.filesColumn);
      await manager.query(`INSERT INTO retention_file_deletions (path) SELECT ${file} FROM ${part} WHERE ${file} IS NOT NULL`);
    }
    if (step.action === 'archive') {
      await manager.query(`ALTER TABLE ${quoteIdent(step.table)} DETACH PARTITION ${part}`);
      await manager.query(`ALTER TABLE ${quoteIdent(step.archiveTable!)} ATTACH PARTITION ${part} ${p.bound}`);
      out.push({ kind: 'detached', name: p.name, rows: due });
    } else {
      await manager.query(`DROP TABLE ${part}`);
      out.push({ kind: 'dropped', name: p.name, rows: due });
    }
    break;
  }
  return out;
}
