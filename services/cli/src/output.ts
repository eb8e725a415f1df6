import Table from 'cli-table3';

type Row = Record<string, unknown>;

const isRow = (v: unknown): v is Row => typeof v === 'object' && v !== null && !Array.isArray(v);
const isRows = (v: unknown): v is Row[] => Array.isArray(v) && v.length > 0 && v.every(isRow);

/** Longest text a cell shows of a nested value (the whole of it is in --json). */
const CELL_MAX = 80;

/** A value as one table cell: scalars as they are, anything nested as compact JSON (cut at CELL_MAX). */
function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value !== 'object') return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v !== 'object' || v === null)) return value.join(', ');
  const json = JSON.stringify(value);
  return json.length > CELL_MAX ? `${json.slice(0, CELL_MAX - 1)}…` : json;
}

/** A target's counts in one cell: what it matched, deleted, anonymized, archived, kept under a hold. */
function counts(tables: unknown): string {
  if (!Array.isArray(tables) || tables.length === 0) return '';
  const sum = (k: string): number => tables.reduce((n: number, t: Row) => n + (typeof t[k] === 'number' ? (t[k] as number) : 0), 0);
  return ['matched', 'deleted', 'anonymized', 'archived', 'held']
    .map((k) => [k, sum(k)] as const)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
}

/** Rows as a table with a column per key (in first-seen order), or the columns asked for. */
function table(rows: Row[], columns?: string[]): string {
  const keys = columns ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const t = new Table({ head: keys, style: { head: [], border: [] }, wordWrap: true });
  for (const r of rows) t.push(keys.map((k) => cell(r[k])));
  return t.toString();
}

/** An object's scalar fields as a two-column table; each list of objects in it as a table of its own, under its name. */
function record(value: Row): string {
  const scalars = Object.entries(value).filter(([, v]) => !isRows(v));
  const parts: string[] = [];
  if (scalars.length > 0) {
    const t = new Table({ style: { head: [], border: [] }, wordWrap: true });
    for (const [k, v] of scalars) t.push({ [k]: cell(v) });
    parts.push(t.toString());
  }
  for (const [k, v] of Object.entries(value)) if (isRows(v)) parts.push(`${k}:\n${rows(k, v)}`);
  return parts.join('\n');
}

/**
 * A request's targets show their counts summed per target (the per-table detail is in --json);
 * their kind only when one is not a Kafka consumer (a webhook or a manual target), and a webhook's
 * last delivery error while it is retried.
 */
function rows(name: string, list: Row[]): string {
  if (name === 'targets' && list.every((t) => 'service' in t && 'status' in t)) {
    const shown = (t: Row, k: string): boolean =>
      k === 'counts'
        ? counts(t.tables) !== ''
        : k === 'kind'
          ? t.kind !== undefined && t.kind !== null && t.kind !== 'kafka'
          : t[k] !== undefined && t[k] !== null && !(Array.isArray(t[k]) && !t[k].length);
    return table(
      list.map((t) => ({ ...t, counts: counts(t.tables), holdIds: t.holdIds, tables: undefined })),
      ['service', 'kind', 'status', 'attempts', 'lastSentAt', 'ackedAt', 'counts', 'holdIds', 'reason', 'lastError'].filter((k) =>
        list.some((t) => shown(t, k)),
      ),
    );
  }
  if (list.every((r) => 'id' in r && 'status' in r && Array.isArray(r.targets))) {
    // A list of requests: one line each, targets as done/total.
    return table(
      list.map((r) => ({
        id: r.id,
        kind: r.kind,
        status: r.status,
        dryRun: r.dryRun,
        createdAt: r.createdAt,
        dueAt: r.dueAt,
        notBefore: r.notBefore,
        targets: `${(r.targets as Row[]).filter((t) => ['completed', 'not_applicable', 'retired'].includes(String(t.status))).length}/${(r.targets as Row[]).length}`,
      })),
    );
  }
  return table(list);
}

/**
 * What a command prints by default: the API's answer as tables for a person to read (a list of
 * objects as a table with a column per field, an object as field/value lines with its lists as
 * tables under their names; nested values as compact JSON). `--json` prints the answer itself.
 */
export function renderTables(value: unknown): string {
  if (typeof value === 'string') return value.trimEnd();
  if (Array.isArray(value)) return isRows(value) ? table(value) : value.map(cell).join('\n');
  if (!isRow(value)) return cell(value);
  // A page of a list: its items, and how to get the next page.
  if (Array.isArray(value.items) && Object.keys(value).every((k) => k === 'items' || k === 'nextCursor')) {
    const items = value.items as unknown[];
    const body = items.length === 0 ? '(none)' : isRows(items) ? rows('items', items) : items.map(cell).join('\n');
    return typeof value.nextCursor === 'string' ? `${body}\nmore: --cursor ${value.nextCursor}` : body;
  }
  return record(value);
}

/** The answer as the caller asked: JSON (`--json`, for scripts) or tables. */
export function formatOutput(value: unknown, json: boolean): string {
  if (typeof value === 'string') return value.trimEnd();
  return json ? JSON.stringify(value, null, 2) : renderTables(value);
}
