import { sign, verify } from 'node:crypto';
import { z } from 'zod';
import { checkpointSignatureFailure, LedgerCheckpointV1, lengthPrefixed } from './checkpoint';
import { canonicalJson, ledgerEntryHash, ledgerLeafHash } from './ledger-entry';
import { hashFromHex, verifyInclusion } from './merkle';
import { isKeyId, type SigningKey, type TrustedKey } from './message-signature';
import { ServiceName, SubjectType, TableResult } from './schemas';

export const RECEIPT_FORMAT = 'retention-erasure-receipt/1';

const Hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters');
const Instant = z.iso.datetime({ message: 'must be an ISO 8601 UTC instant' });

/** One ledger entry of the request, with its audit path to the receipt's checkpoint. */
export const ReceiptEntry = z
  .object({
    seq: z.int().min(1).max(Number.MAX_SAFE_INTEGER),
    requestId: z.uuid().nullable(),
    type: z.string().min(1).max(64),
    service: z.string().max(64).nullable(),
    createdAt: Instant,
    body: z.record(z.string(), z.unknown()),
    prevHash: Hex64,
    hash: Hex64,
    /** RFC 9162 inclusion proof of leaf `seq - 1` in the checkpoint's tree, bottom up. */
    auditPath: z.array(Hex64).max(64),
  })
  .strict();
export type ReceiptEntry = z.infer<typeof ReceiptEntry>;

/** What one target service reported (from its ack): counts and codes, never a subject id or free text. */
export const ReceiptTarget = z
  .object({
    service: ServiceName,
    status: z.enum(['completed', 'not_applicable', 'held', 'retired']),
    ackedAt: Instant.nullable(),
    tables: z.array(TableResult),
    holdIds: z.array(z.string().min(1).max(128)),
    policyHash: z.string().max(128).nullable(),
  })
  .strict();
export type ReceiptTarget = z.infer<typeof ReceiptTarget>;

/**
 * An erasure receipt (`retention-erasure-receipt/1`): self-contained proof that an erasure was
 * completed, checkable offline with the coordinator's public key (`verifyReceipt`). See
 * docs/operations.md, "How to verify a receipt".
 */
export const ErasureReceiptV1 = z
  .object({
    format: z.literal(RECEIPT_FORMAT),
    request: z
      .object({
        id: z.uuid(),
        kind: z.literal('erasure'),
        dryRun: z.literal(false),
        subjectType: SubjectType,
        /** HMAC-SHA256 of the subject under the coordinator's subject key: who, without saying who. */
        subjectRef: Hex64,
        createdAt: Instant,
        dueAt: Instant,
        completedAt: Instant,
      })
      .strict(),
    targets: z.array(ReceiptTarget).min(1),
    entries: z.array(ReceiptEntry).min(1).max(10_000),
    checkpoint: LedgerCheckpointV1.strict(),
    issuedAt: Instant,
    keyId: z.string().refine(isKeyId, 'must be a key id'),
    signature: z.string().regex(/^[A-Za-z0-9_-]{86}$/, 'must be a base64url Ed25519 signature'),
  })
  .strict();
export type ErasureReceipt = z.infer<typeof ErasureReceiptV1>;
export type UnsignedReceipt = Omit<ErasureReceipt, 'keyId' | 'signature'>;

const CONTEXT = 'retention-erasure-receipt-v1';

/** The bytes signed: the context and the canonical JSON of the receipt without `signature`. */
export function receiptSigningInput(receipt: Omit<ErasureReceipt, 'signature'>): Buffer {
  return lengthPrefixed([CONTEXT, canonicalJson(receipt)]);
}

export function signReceipt(key: SigningKey, receipt: UnsignedReceipt): ErasureReceipt {
  const unsigned = { ...receipt, keyId: key.keyId };
  return { ...unsigned, signature: sign(null, receiptSigningInput(unsigned), key.privateKey).toString('base64url') };
}

export interface ReceiptProblem {
  /** Stable code: `malformed`, `receipt_signature`, `checkpoint_signature`, `entry_hash`, `not_covered`, `inclusion_proof`, `inconsistent`. */
  code: string;
  /** Where, e.g. `entries[3]` or `targets[orders]`. */
  path: string;
  message: string;
}

export interface ReceiptVerification {
  ok: boolean;
  problems: ReceiptProblem[];
  /** What the receipt proves, when it verified. */
  summary?: {
    requestId: string;
    subjectRef: string;
    completedAt: string;
    targets: number;
    entries: number;
    checkpoint: { treeSize: number; timestamp: string };
  };
}

/**
 * Checks a receipt offline: its signature and its checkpoint's with `trusted` keys, every entry's
 * hash from its content, every entry's inclusion proof to the checkpoint's root, and that what the
 * receipt summarizes (subject, targets, statuses, counts, times) is what those entries say. Every
 * problem found is listed; none is fatal to the others' checking.
 */
export function verifyReceipt(value: unknown, lookup: (keyId: string) => readonly TrustedKey[]): ReceiptVerification {
  const parsed = ErasureReceiptV1.safeParse(value);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((i) => ({ code: 'malformed', path: i.path.map(String).join('.') || '(receipt)', message: i.message })),
    };
  }
  const r = parsed.data;
  const problems: ReceiptProblem[] = [];
  const problem = (code: string, path: string, message: string): void => void problems.push({ code, path, message });

  const keys = lookup(r.keyId);
  const signature = Buffer.from(r.signature, 'base64url');
  const { signature: _omit, ...unsigned } = r;
  if (keys.length === 0) problem('receipt_signature', 'keyId', `key "${r.keyId}" is not among the trusted keys`);
  else if (!keys.some((k) => verify(null, receiptSigningInput(unsigned), k.publicKey, signature))) {
    problem('receipt_signature', 'signature', 'the receipt signature does not verify: some field was changed after signing');
  }
  const checkpointFailure = checkpointSignatureFailure(lookup, r.checkpoint);
  if (checkpointFailure) {
    problem(
      'checkpoint_signature',
      'checkpoint',
      checkpointFailure === 'unknown_signing_key' ? `checkpoint key "${r.checkpoint.keyId}" is not trusted` : 'the checkpoint signature does not verify',
    );
  }

  const root = hashFromHex(r.checkpoint.rootHash);
  const seen = new Set<number>();
  r.entries.forEach((e, i) => {
    const at = `entries[${i}]`;
    if (seen.has(e.seq)) problem('inconsistent', at, `entry ${e.seq} appears twice`);
    seen.add(e.seq);
    if (e.requestId !== r.request.id) problem('inconsistent', `${at}.requestId`, 'the entry belongs to another request');
    if (ledgerEntryHash(e.prevHash, e) !== e.hash) problem('entry_hash', at, `entry ${e.seq}'s content does not match its hash`);
    if (e.seq > r.checkpoint.treeSize) {
      problem('not_covered', at, `entry ${e.seq} is beyond the checkpoint (${r.checkpoint.treeSize} entries)`);
    } else if (
      !verifyInclusion(
        e.seq - 1,
        r.checkpoint.treeSize,
        ledgerLeafHash(e.hash),
        e.auditPath.map((p) => hashFromHex(p)),
        root,
      )
    ) {
      problem('inclusion_proof', `${at}.auditPath`, `entry ${e.seq} is not proven to be in the checkpoint's tree`);
    }
  });
  for (const p of consistencyProblems(r)) problems.push(p);

  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    problems,
    summary: {
      requestId: r.request.id,
      subjectRef: r.request.subjectRef,
      completedAt: r.request.completedAt,
      targets: r.targets.length,
      entries: r.entries.length,
      checkpoint: { treeSize: r.checkpoint.treeSize, timestamp: r.checkpoint.timestamp },
    },
  };
}

/** What the receipt states must be what its (proven) ledger entries say. */
function consistencyProblems(r: ErasureReceipt): ReceiptProblem[] {
  const out: ReceiptProblem[] = [];
  const say = (path: string, message: string): void => void out.push({ code: 'inconsistent', path, message });
  const entries = [...r.entries].sort((a, b) => a.seq - b.seq);
  const body = (e: ReceiptEntry): Record<string, unknown> => e.body;

  const created = entries.filter((e) => e.type === 'request.created');
  if (created.length !== 1) say('entries', `a receipt needs exactly one request.created entry (found ${created.length})`);
  const c = created[0];
  if (c) {
    const b = body(c);
    if (b.kind !== 'erasure') say('request.kind', 'the ledger does not record an erasure');
    if (b.dryRun !== false) say('request.dryRun', 'the ledger records a dry run');
    if (b.subjectRef !== r.request.subjectRef) say('request.subjectRef', 'is not the subject the ledger recorded');
    if (b.subjectType !== r.request.subjectType) say('request.subjectType', 'is not the subject type the ledger recorded');
    if (b.dueAt !== r.request.dueAt) say('request.dueAt', 'is not the due date the ledger recorded');
    if (c.createdAt !== r.request.createdAt) say('request.createdAt', 'is not when the ledger recorded the request');
    const recorded = Array.isArray(b.targets) ? [...(b.targets as unknown[])].map(String).sort() : [];
    const stated = r.targets.map((t) => t.service).sort();
    if (canonicalJson(recorded) !== canonicalJson(stated)) say('targets', `the ledger recorded the targets ${recorded.join(', ') || '(none)'}`);
  }

  const completed = entries.filter((e) => e.type === 'request.completed');
  const last = completed[completed.length - 1];
  if (!last) say('entries', 'no request.completed entry: the ledger does not record the erasure as completed');
  else if (last.createdAt !== r.request.completedAt) say('request.completedAt', 'is not when the ledger recorded the completion');

  for (const t of r.targets) {
    const path = `targets[${t.service}]`;
    if (t.status === 'retired') {
      if (!entries.some((e) => e.type === 'target.retired' && e.service === t.service)) say(path, 'no target.retired entry for this service');
      continue;
    }
    const acks = entries.filter((e) => e.type === 'ack.received' && e.service === t.service);
    const ack = acks[acks.length - 1];
    if (!ack) {
      say(path, 'no ack.received entry for this service');
      continue;
    }
    const b = body(ack);
    if (b.status !== t.status) say(`${path}.status`, `the ledger recorded ${String(b.status)}`);
    if (b.dryRun !== false) say(path, 'the ledger recorded a dry-run ack');
    if (canonicalJson(b.tables ?? []) !== canonicalJson(t.tables)) say(`${path}.tables`, 'the counts are not the ones the ledger recorded');
    if (canonicalJson(b.holdIds ?? []) !== canonicalJson(t.holdIds)) say(`${path}.holdIds`, 'are not the ones the ledger recorded');
    if ((b.policyHash ?? null) !== t.policyHash) say(`${path}.policyHash`, 'is not the one the ledger recorded');
    if (ack.createdAt !== t.ackedAt) say(`${path}.ackedAt`, 'is not when the ledger recorded the ack');
  }
  return out;
}
