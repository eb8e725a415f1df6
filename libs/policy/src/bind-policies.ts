import { ConfigError, type Issue } from '@retention/contracts';
import type { DataSource } from 'typeorm';
import type { ColumnStrategy, Policies } from './define-policies';
import { DEFAULT_MIN_PERIOD_DAYS, policyBoundIssues } from './policy-bounds';
import { type ColumnInfo, isDateColumn, isTextColumn, strategies } from './strategies';

const INTEGER_TYPES = new Set(['int', 'integer', 'int2', 'int4', 'int8', 'smallint', 'bigint']);

export interface TableInfo {
  name: string;
  primaryKey: ColumnInfo;
  columns: ReadonlyMap<string, ColumnInfo>;
}

/** Policies checked against the service's entities: every table and column exists and fits. */
export interface BoundPolicies {
  policies: Policies;
  tables: ReadonlyMap<string, TableInfo>;
  /** Key for the `hash` strategy. */
  hashKey: string;
  /** Absolute directory that file columns and directory rules are relative to. */
  filesRoot?: string;
  /** The period floor in days: no per-record period or deadline makes a row due earlier than this. */
  minPeriodDays?: number;
}

export interface BindPoliciesOptions {
  hashKey: string;
  filesRoot?: string;
  /** Refuse a policy whose period is shorter than this many days (default 1; `RETENTION_MIN_PERIOD_DAYS`). */
  minPeriodDays?: number;
}

/**
 * Checks every identifier of the policies against the TypeORM entity metadata and every
 * anonymization strategy against its column's type, and that every policy is bounded (a timestamp
 * column, a period no shorter than the floor). Throws one {@link ConfigError} naming every
 * problem (e.g. `rules[0].timestampColumn: table "sessions" has no column "startd_at"`).
 */
export function bindPolicies(policies: Policies, dataSource: DataSource, options: BindPoliciesOptions): BoundPolicies {
  return bindPoliciesToTables(policies, entityTables(dataSource), options);
}

/** The tables of the TypeORM entities that have a single-column primary key, as {@link bindPoliciesToTables} takes them. */
export function entityTables(dataSource: DataSource): Map<string, TableInfo> {
  const tables = new Map<string, TableInfo>();
  for (const meta of dataSource.entityMetadatas) {
    const columns = new Map<string, ColumnInfo>(
      meta.columns.map((c) => [
        c.databaseName,
        {
          name: c.databaseName,
          type: typeof c.type === 'string' ? c.type : String((c.type as { name?: string }).name ?? 'unknown').toLowerCase(),
          nullable: c.isNullable,
          length: c.length ? Number(c.length) : undefined,
        },
      ]),
    );
    const [pk, ...more] = meta.primaryColumns;
    if (pk && more.length === 0) tables.set(meta.tableName, { name: meta.tableName, primaryKey: columns.get(pk.databaseName)!, columns });
  }
  return tables;
}

/** Where the tables came from, for the error messages (TypeORM entities by default). */
export interface TablesSource {
  /** Ends the error's title: `do not match its ${source}` (default `entities`). */
  source: string;
  /** Ends an unknown table's message: `(${known}: a, b)` (default `entities with a single-column primary key`). */
  known: string;
  /** Tables that exist but cannot be used, with the reason (e.g. `has no primary key`). */
  unusable?: ReadonlyMap<string, string>;
}

const ENTITIES: TablesSource = { source: 'entities', known: 'entities with a single-column primary key' };

/**
 * {@link bindPolicies} against a table description from anywhere (entity metadata, or the live
 * catalog for a service without code): the same checks and the same errors.
 */
export function bindPoliciesToTables(
  policies: Policies,
  tables: ReadonlyMap<string, TableInfo>,
  options: BindPoliciesOptions,
  from: TablesSource = ENTITIES,
): BoundPolicies {
  const issues: Issue[] = policyBoundIssues(policies, options.minPeriodDays ?? DEFAULT_MIN_PERIOD_DAYS);
  const table = (name: string, path: string): TableInfo | undefined => {
    const info = tables.get(name);
    if (!info) {
      const unusable = from.unusable?.get(name);
      const known = [...tables.keys()].sort().join(', ') || 'none';
      issues.push({ path, message: unusable ? `table "${name}" ${unusable}` : `unknown table "${name}" (${from.known}: ${known})` });
    }
    return info;
  };
  const column = (t: TableInfo, name: string, path: string): ColumnInfo | undefined => {
    const info = t.columns.get(name);
    if (!info) issues.push({ path, message: `table "${t.name}" has no column "${name}"` });
    return info;
  };
  const files = (t: TableInfo, spec: { column: string } | undefined, path: string): void => {
    if (!spec) return;
    const info = column(t, spec.column, `${path}.column`);
    if (info && !isTextColumn(info)) issues.push({ path: `${path}.column`, message: `"${info.name}" must be a text column holding a path` });
    if (!options.filesRoot) issues.push({ path, message: 'needs the files root (set RETENTION_FILES_ROOT)' });
  };
  const anonymize = (t: TableInfo, map: Record<string, ColumnStrategy> | undefined, path: string): void => {
    for (const [col, spec] of Object.entries(map ?? {})) {
      const info = column(t, col, `${path}.${col}`);
      if (!info) continue;
      if (col === t.primaryKey.name) issues.push({ path: `${path}.${col}`, message: 'the primary key cannot be anonymized' });
      const name = typeof spec === 'string' ? spec : spec.strategy;
      const problem = strategies[name].check(info);
      if (problem) issues.push({ path: `${path}.${col}`, message: `strategy ${name} ${problem}` });
    }
  };

  for (const [i, rule] of policies.rules.entries()) {
    const path = `rules[${i}]`;
    const t = table(rule.table, `${path}.table`);
    if (!t) continue;
    const ts = rule.timestampColumn ? column(t, rule.timestampColumn, `${path}.timestampColumn`) : undefined;
    if (ts && !isDateColumn(ts)) issues.push({ path: `${path}.timestampColumn`, message: `"${ts.name}" is ${ts.type}, not a date or timestamp` });
    for (const [j, c] of rule.conditions.entries()) column(t, c.column, `${path}.conditions[${j}].column`);
    files(t, rule.files, `${path}.files`);
    anonymize(t, rule.anonymize, `${path}.anonymize`);
    if (rule.markerColumn) {
      const marker = column(t, rule.markerColumn, `${path}.markerColumn`);
      if (marker && (!marker.nullable || !isDateColumn(marker)))
        issues.push({ path: `${path}.markerColumn`, message: `"${marker.name}" must be a nullable timestamp column` });
      if (marker && rule.anonymize && rule.markerColumn in rule.anonymize)
        issues.push({ path: `${path}.markerColumn`, message: 'must not be one of the anonymized columns' });
    }
    if (rule.retentionDaysColumn) {
      const days = column(t, rule.retentionDaysColumn, `${path}.retentionDaysColumn`);
      if (days && !INTEGER_TYPES.has(days.type.toLowerCase()))
        issues.push({ path: `${path}.retentionDaysColumn`, message: `"${days.name}" is ${days.type}, not an integer column of days` });
    }
    if (rule.expiresAtColumn) {
      const expires = column(t, rule.expiresAtColumn, `${path}.expiresAtColumn`);
      if (expires && !isDateColumn(expires))
        issues.push({ path: `${path}.expiresAtColumn`, message: `"${expires.name}" is ${expires.type}, not a date or timestamp` });
    }
    if (rule.archiveTable) {
      const archive = table(rule.archiveTable, `${path}.archiveTable`);
      if (archive)
        for (const col of t.columns.keys())
          if (!archive.columns.has(col))
            issues.push({ path: `${path}.archiveTable`, message: `archive table "${archive.name}" lacks column "${col}" of "${t.name}"` });
    }
  }
  for (const [type, list] of Object.entries(policies.subjects)) {
    for (const [i, s] of list.entries()) {
      const path = `subjects.${type}[${i}]`;
      const t = table(s.table, `${path}.table`);
      if (!t) continue;
      column(t, s.column, `${path}.column`);
      anonymize(t, s.anonymize, `${path}.anonymize`);
      files(t, s.files, `${path}.files`);
    }
  }
  if (policies.directories.length > 0 && !options.filesRoot) issues.push({ path: 'directories', message: 'need the files root (set RETENTION_FILES_ROOT)' });
  if (issues.length > 0) throw new ConfigError(`retention policies of service "${policies.service}" do not match its ${from.source}`, issues);
  return { policies, tables, hashKey: options.hashKey, filesRoot: options.filesRoot, minPeriodDays: options.minPeriodDays ?? DEFAULT_MIN_PERIOD_DAYS };
}
