import type { ColumnInfo, TableInfo } from '@retention/policy';

/** Runs one query (a TypeORM manager's or a pg client's `query`). */
export type Query = (sql: string, params: unknown[]) => Promise<unknown[]>;

/** The tables of one schema as the live catalog describes them. */
export interface LiveSchema {
  schema: string;
  /** Tables with a single-column primary key: what policies can name. */
  tables: Map<string, TableInfo>;
  /** Tables that exist but cannot be served, with the reason (e.g. `has no primary key`). */
  unusable: Map<string, string>;
}

interface ColumnRow {
  table_name: string;
  column_name: string;
  type: string;
  nullable: boolean;
  length: number | null;
  pk_position: number | null;
  pk_columns: number;
}

/** Catalog names for the types the policy checks know by their declared names. */
const TYPE_NAMES: Record<string, string> = { bpchar: 'char' };

/**
 * Reads tables, columns, types (a domain as its base type), nullability, lengths and primary keys
 * of `schema` from pg_catalog: the agent's replacement for TypeORM entity metadata. Types come as
 * PostgreSQL names them (`timestamptz`, `varchar`, `int4`, `uuid`…), which the policy checks take.
 */
export async function introspectSchema(query: Query, schema: string): Promise<LiveSchema> {
  const rows = (await query(
    `SELECT c.relname AS table_name, a.attname AS column_name,
            coalesce(bt.typname, t.typname) AS type, NOT a.attnotnull AS nullable,
            CASE WHEN coalesce(bt.typname, t.typname) IN ('varchar', 'bpchar') AND coalesce(nullif(t.typtypmod, -1), a.atttypmod) > 4
                 THEN coalesce(nullif(t.typtypmod, -1), a.atttypmod) - 4 END AS length,
            array_position(pk.conkey, a.attnum) AS pk_position,
            coalesce(cardinality(pk.conkey), 0) AS pk_columns
     FROM pg_class c
     JOIN pg_namespace n ON n.oid = c.relnamespace
     JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     JOIN pg_type t ON t.oid = a.atttypid
     LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
     LEFT JOIN pg_constraint pk ON pk.conrelid = c.oid AND pk.contype = 'p'
     WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
     ORDER BY c.relname, a.attnum`,
    [schema],
  )) as ColumnRow[];
  const byTable = new Map<string, ColumnRow[]>();
  for (const row of rows) byTable.set(row.table_name, [...(byTable.get(row.table_name) ?? []), row]);

  const tables = new Map<string, TableInfo>();
  const unusable = new Map<string, string>();
  for (const [name, cols] of byTable) {
    const columns = new Map<string, ColumnInfo>(
      cols.map((c) => [
        c.column_name,
        { name: c.column_name, type: TYPE_NAMES[c.type] ?? c.type, nullable: c.nullable, ...(c.length ? { length: Number(c.length) } : {}) },
      ]),
    );
    const pk = cols.filter((c) => c.pk_position !== null);
    const pkColumns = Number(cols[0]!.pk_columns);
    if (pkColumns === 0) unusable.set(name, `has no primary key (retention pages through rows and holds name records by it: add one)`);
    else if (pkColumns > 1)
      unusable.set(name, `has a primary key of ${pkColumns} columns (${pk.map((c) => c.column_name).join(', ')}); only single-column keys are supported`);
    else tables.set(name, { name, primaryKey: columns.get(pk[0]!.column_name)!, columns });
  }
  const others = (await query(
    `SELECT c.relname AS name, c.relkind AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relkind IN ('v', 'm', 'f')`,
    [schema],
  )) as Array<{ name: string; kind: string }>;
  const kinds: Record<string, string> = { v: 'a view', m: 'a materialized view', f: 'a foreign table' };
  for (const { name, kind } of others) unusable.set(name, `is ${kinds[kind]}; retention applies to tables`);
  return { schema, tables, unusable };
}

/** The names of the tables of `schema` (the agent's own, to refuse a policy that would reach them). */
export async function tableNames(query: Query, schema: string): Promise<Set<string>> {
  const rows = (await query(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm')`,
    [schema],
  )) as Array<{ name: string }>;
  return new Set(rows.map((r) => r.name));
}
