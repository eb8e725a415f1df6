import { LEDGER_GENESIS_HASH, ledgerEntryHash } from '@retention/contracts';
import type { DataSource, EntityManager } from 'typeorm';

export type LedgerEntryType =
  | 'request.created'
  | 'command.sent'
  | 'ack.received'
  | 'request.completed'
  | 'request.failed'
  | 'request.held'
  | 'request.resumed'
  | 'request.overdue'
  | 'request.released'
  | 'request.cancelled'
  | 'probe.result'
  | 'replay.requested'
  | 'replay.result'
  | 'target.retry'
  | 'hold.placed'
  | 'hold.released'
  | 'service.registration_pending'
  | 'service.approved'
  | 'service.retired'
  | 'target.retired'
  | 'policy.enabled'
  | 'approval.requested'
  | 'approval.approved'
  | 'approval.rejected'
  | 'target.registered'
  | 'target.secret_rotated'
  | 'task.confirmed';

export interface LedgerEntryInput {
  requestId: string | null;
  type: LedgerEntryType;
  service?: string | null;
  /** Never a raw subject id: subjects appear as their keyed hash. */
  body: Record<string, unknown>;
}

export interface LedgerEntry extends LedgerEntryInput {
  seq: number;
  createdAt: string;
  prevHash: string;
  hash: string;
}

export const GENESIS_HASH = LEDGER_GENESIS_HASH;
/** Serializes appends across coordinator replicas (pg_advisory_xact_lock key). */
const LEDGER_LOCK = 0x4c454447; // "LEDG"

/** An entry's chain hash (defined in libs/contracts, where offline verifiers find it). */
export const entryHash = ledgerEntryHash;

/**
 * Appends entries to the hash-chained ledger inside the caller's transaction. Each entry's hash
 * covers its content and the previous entry's hash, so changing, removing or reordering any
 * entry breaks every hash after it; the entries are also the leaves of the Merkle tree whose
 * signed checkpoints (checkpoint-publisher.ts) make a recomputed chain detectable. Nothing here
 * touches the tree: roots are computed at checkpoint time, from the last checkpoint's frontier.
 */
export async function appendLedger(manager: EntityManager, entries: readonly LedgerEntryInput[], now: Date = new Date()): Promise<void> {
  if (entries.length === 0) return;
  await manager.query('SELECT pg_advisory_xact_lock($1)', [LEDGER_LOCK]);
  const [last] = (await manager.query('SELECT seq, hash FROM ledger_entries ORDER BY seq DESC LIMIT 1')) as Array<{ seq: string; hash: string }>;
  let seq = last ? Number(last.seq) : 0;
  let prevHash = last?.hash ?? GENESIS_HASH;
  const createdAt = now.toISOString();
  const rows = entries.map((e) => {
    seq += 1;
    const hash = entryHash(prevHash, { ...e, seq, createdAt });
    const row = { seq, requestId: e.requestId, type: e.type, service: e.service ?? null, body: JSON.stringify(e.body), prevHash, hash };
    prevHash = hash;
    return row;
  });
  // One statement for the whole append: the ledger lock is held until commit, so every round trip
  // under it holds up every other writer (the fan-out benchmark measured 45 ms mean waits).
  await manager.query(
    `INSERT INTO ledger_entries (seq, request_id, entry_type, service, body, created_at, prev_hash, hash)
     SELECT e.seq, e.request_id, e.entry_type, e.service, e.body::jsonb, $6::timestamptz, e.prev_hash, e.hash
     FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[], $5::text[], $7::text[], $8::text[]) AS e(seq, request_id, entry_type, service, body, prev_hash, hash)`,
    [
      rows.map((r) => r.seq),
      rows.map((r) => r.requestId),
      rows.map((r) => r.type),
      rows.map((r) => r.service),
      rows.map((r) => r.body),
      createdAt,
      rows.map((r) => r.prevHash),
      rows.map((r) => r.hash),
    ],
  );
}

export async function ledgerForRequest(dataSource: DataSource, requestId: string): Promise<LedgerEntry[]> {
  const rows = (await dataSource.query(`SELECT ${ENTRY_COLUMNS} FROM ledger_entries WHERE request_id = $1 ORDER BY seq`, [requestId])) as EntryRow[];
  // Written by appendLedger, so the type is one of ours and the body an object.
  return rows.map((r) => fromRow(r) as LedgerEntry);
}

/** A stored entry as read back, for verification (content, stored links and hash). */
export interface StoredEntry {
  seq: number;
  requestId: string | null;
  type: string;
  service: string | null;
  createdAt: string;
  body: unknown;
  prevHash: string;
  hash: string;
}

const ENTRY_COLUMNS = 'seq, request_id, entry_type, service, body, created_at, prev_hash, hash';

interface EntryRow {
  seq: string;
  request_id: string | null;
  entry_type: string;
  service: string | null;
  body: unknown;
  created_at: Date;
  prev_hash: string;
  hash: string;
}

function fromRow(r: EntryRow): StoredEntry {
  return {
    seq: Number(r.seq),
    requestId: r.request_id,
    type: r.entry_type,
    service: r.service,
    createdAt: new Date(r.created_at).toISOString(),
    body: r.body,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

/** Entries with `from <= seq <= to`, in order, at most `limit`. */
export async function readEntries(db: DataSource | EntityManager, from: number, to: number, limit: number): Promise<StoredEntry[]> {
  const rows = (await db.query(`SELECT ${ENTRY_COLUMNS} FROM ledger_entries WHERE seq >= $1 AND seq <= $2 ORDER BY seq LIMIT $3`, [
    from,
    to,
    limit,
  ])) as EntryRow[];
  return rows.map(fromRow);
}

/** The stored hashes of entries `from <= seq <= to`, in order, as `[seq, hash]` (no bodies: cheap to read in bulk). */
export async function readEntryHashes(db: DataSource | EntityManager, from: number, to: number, limit: number): Promise<Array<[number, string]>> {
  const rows = (await db.query(`SELECT seq, hash FROM ledger_entries WHERE seq >= $1 AND seq <= $2 ORDER BY seq LIMIT $3`, [from, to, limit])) as Array<{
    seq: string;
    hash: string;
  }>;
  return rows.map((r) => [Number(r.seq), r.hash]);
}

/** How many entries there are and the highest seq (equal unless entries were removed). */
export async function ledgerExtent(db: DataSource | EntityManager): Promise<{ count: number; maxSeq: number }> {
  const [row] = (await db.query(`SELECT count(*)::bigint AS count, COALESCE(max(seq), 0) AS max FROM ledger_entries`)) as Array<{ count: string; max: string }>;
  return { count: Number(row?.count ?? 0), maxSeq: Number(row?.max ?? 0) };
}

/** The stored hash of entry `seq`, if it exists. */
export async function storedEntryHash(db: DataSource | EntityManager, seq: number): Promise<string | undefined> {
  const [row] = (await db.query(`SELECT hash FROM ledger_entries WHERE seq = $1`, [seq])) as Array<{ hash: string }>;
  return row?.hash;
}

/** The stored hashes of the entries `seqs` that exist, by seq (one statement). */
export async function storedEntryHashes(db: DataSource | EntityManager, seqs: readonly number[]): Promise<Map<number, string>> {
  if (seqs.length === 0) return new Map();
  const rows = (await db.query(`SELECT seq, hash FROM ledger_entries WHERE seq = ANY ($1::bigint[])`, [seqs])) as Array<{ seq: string; hash: string }>;
  return new Map(rows.map((r) => [Number(r.seq), r.hash]));
}
