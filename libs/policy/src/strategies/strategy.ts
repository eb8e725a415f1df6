/** What a strategy needs to know about the column it rewrites (from TypeORM metadata). */
export interface ColumnInfo {
  name: string;
  /** PostgreSQL type as declared on the entity (`text`, `varchar`, `timestamptz`, ...). */
  type: string;
  nullable: boolean;
  length?: number;
}

export interface ExpressionContext {
  /** Binds a value as a parameter and returns its placeholder (`$3`). */
  bind(value: unknown): string;
  /** Key for keyed hashes (from the service's configuration). */
  hashKey: string;
}

/**
 * One anonymization strategy: a set-based SQL expression that computes a column's new value from
 * its old one, so a whole batch is rewritten by one UPDATE.
 */
export interface AnonymizationStrategy<O = undefined> {
  readonly name: string;
  /** Why the strategy cannot write this column, or null when it can. */
  check(column: ColumnInfo): string | null;
  expression(quotedColumn: string, column: ColumnInfo, ctx: ExpressionContext, options: O): string;
}

const TEXT_TYPES = new Set(['text', 'varchar', 'character varying', 'char', 'character', 'citext']);
const DATE_TYPES = new Set(['date', 'timestamp', 'timestamptz', 'timestamp with time zone', 'timestamp without time zone']);

export const isTextColumn = (c: ColumnInfo): boolean => TEXT_TYPES.has(c.type.toLowerCase());
export const isDateColumn = (c: ColumnInfo): boolean => DATE_TYPES.has(c.type.toLowerCase());

export function requireText(c: ColumnInfo): string | null {
  return isTextColumn(c) ? null : `needs a text column, but "${c.name}" is ${c.type}`;
}

/** Truncates an expression to the column's declared length, if any. */
export function fitLength(expression: string, c: ColumnInfo): string {
  return c.length ? `left(${expression}, ${Number(c.length)})` : expression;
}
