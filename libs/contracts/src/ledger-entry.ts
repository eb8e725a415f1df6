import { createHash } from 'node:crypto';
import { hashFromHex, merkleLeafHash } from './merkle';

/** The hash the first ledger entry links to. */
export const LEDGER_GENESIS_HASH = '0'.repeat(64);

/** What a ledger entry says; its hash covers every field. */
export interface LedgerEntryContent {
  seq: number;
  requestId: string | null;
  type: string;
  service?: string | null;
  /** ISO 8601 UTC with milliseconds, as written. */
  createdAt: string;
  body: unknown;
}

/**
 * JSON with object keys sorted (by UTF-16 code units) at every level and no whitespace, so that a
 * value read back from jsonb hashes the same. For the values the ledger holds (strings, integers,
 * booleans, null, arrays, objects) this is RFC 8785 (JCS).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * An entry's hash (hex): SHA-256 over, joined by `\n`, the previous entry's hash, seq, request id
 * (empty for none), type, service (empty for none), creation time and the canonical JSON body.
 * Covering the previous hash chains the entries: each hash commits to the whole ledger before it.
 */
export function ledgerEntryHash(prevHash: string, e: LedgerEntryContent): string {
  return createHash('sha256')
    .update([prevHash, e.seq, e.requestId ?? '', e.type, e.service ?? '', e.createdAt, canonicalJson(e.body)].join('\n'))
    .digest('hex');
}

/** The Merkle leaf of an entry: RFC 6962's leaf hash of the entry hash's 32 bytes. */
export function ledgerLeafHash(entryHash: string): Buffer {
  return merkleLeafHash(hashFromHex(entryHash, 'entry hash'));
}
