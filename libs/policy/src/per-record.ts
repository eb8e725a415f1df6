import type { TableInfo } from './bind-policies';
import type { Rule } from './define-policies';
import { quoteIdent } from './sql-builder';
import type { ColumnInfo } from './strategies';

const DAY_MS = 86_400_000;

/** A per-record rule's deadline as SQL: rows are due once it lies before the sweep's instant. */
export interface DeadlineSql {
  /** The expression (over the given alias). Index it as is: the planner matches it to the index. */
  expr: string;
  /** How the sweep's instant is compared with it: UTC wall clock (`timestamp`) or `timestamptz`. */
  type: 'timestamp' | 'timestamptz';
}

const isTz = (c: ColumnInfo): boolean => ['timestamptz', 'timestamp with time zone'].includes(c.type.toLowerCase());

/**
 * A date or timestamp column as a UTC wall-clock `timestamp`. `timestamptz + interval` is only
 * STABLE (it depends on the session's time zone), so it cannot be indexed; `AT TIME ZONE 'UTC'` and
 * `timestamp + interval` are IMMUTABLE, so this form can.
 */
function utc(col: string, info: ColumnInfo): string {
  if (isTz(info)) return `(${col} AT TIME ZONE 'UTC')`;
  if (info.type.toLowerCase() === 'date') return `${col}::timestamp`;
  return col;
}

/**
 * The deadline of a row of a per-record rule, or undefined for a rule with one period:
 * - `retentionDaysColumn`: timestamp + that many days (the rule's `retention` days when NULL);
 * - `expiresAtColumn`: that column (when NULL: timestamp + the rule's `retention` days); a NOT NULL
 *   `timestamptz` column is used bare, so a plain index on it serves.
 * The default is written as a literal (a validated integer) so that the expression is the same in
 * every statement and in the index the advice proposes.
 */
export function deadlineSql(rule: Rule, table: TableInfo, alias?: string): DeadlineSql | undefined {
  if (!rule.retentionDaysColumn && !rule.expiresAtColumn) return undefined;
  const ref = (name: string): string => (alias ? `${alias}.${quoteIdent(name)}` : quoteIdent(name));
  const ts = table.columns.get(rule.timestampColumn)!;
  const defaultDays = Math.trunc(rule.retention.days ?? 0);
  const fallback = `${utc(ref(ts.name), ts)} + make_interval(days => ${'__DAYS__'})`;
  if (rule.retentionDaysColumn) {
    const days = table.columns.get(rule.retentionDaysColumn)!;
    const big = ['int8', 'bigint'].includes(days.type.toLowerCase());
    const value = `COALESCE(${ref(days.name)}, ${defaultDays})${big ? '::integer' : ''}`;
    return { expr: `(${fallback.replace('__DAYS__', value)})`, type: 'timestamp' };
  }
  const expires = table.columns.get(rule.expiresAtColumn!)!;
  if (!expires.nullable && isTz(expires)) return { expr: ref(expires.name), type: 'timestamptz' };
  if (!expires.nullable) return { expr: utc(ref(expires.name), expires), type: 'timestamp' };
  return { expr: `COALESCE(${utc(ref(expires.name), expires)}, ${fallback.replace('__DAYS__', String(defaultDays))})`, type: 'timestamp' };
}

/** The instant a deadline is compared with, as a bound value of the deadline's type. */
export function instantValue(at: Date, type: DeadlineSql['type']): string {
  // A `timestamp` deadline is UTC wall clock: the ISO form without its zone.
  return type === 'timestamp' ? at.toISOString().replace('Z', '') : at.toISOString();
}

/**
 * The floor for per-record rules: whatever a row's own period or deadline says, it is not due
 * before its timestamp is `minPeriodDays` old (a row with `retention_days = 0`, a negative value or
 * an `expires_at` in the past at insert time is kept that long, never deleted sooner).
 */
export function floorCutoff(at: Date, minPeriodDays: number): Date {
  return new Date(at.getTime() - minPeriodDays * DAY_MS);
}
