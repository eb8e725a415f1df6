import { sign, verify } from 'node:crypto';
import { z } from 'zod';
import type { SigningKey, TrustedKey } from './message-signature';

const Hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters');
const Instant = z.iso.datetime({ message: 'must be an ISO 8601 UTC instant' });
// A pattern, not a refinement: the AsyncAPI document, generated from this schema, states it too.
const KeyId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1 to 64 letters, digits, dots, dashes or underscores');
const Signature = z.string().regex(/^[A-Za-z0-9_-]{86}$/, 'must be a base64url Ed25519 signature (86 characters)');

/**
 * A signed checkpoint of the ledger, in the style of an RFC 6962 / RFC 9162 signed tree head: the
 * first `treeSize` entries have the Merkle root `rootHash`, and the last of them has the entry hash
 * `lastEntryHash` (the head of the hash chain, which commits to every entry before it). Signed by
 * the coordinator's Ed25519 key `keyId`. Published on the checkpoint topic (`retention.ledger.checkpoint`
 * v1 is this object), kept in the coordinator's database, carried by reports and receipts.
 */
export const LedgerCheckpointV1 = z.object({
  treeSize: z.int().min(1).max(Number.MAX_SAFE_INTEGER),
  rootHash: Hex64,
  lastEntryHash: Hex64,
  timestamp: Instant,
  keyId: KeyId,
  signature: Signature,
});
export type Checkpoint = z.infer<typeof LedgerCheckpointV1>;
export type UnsignedCheckpoint = Omit<Checkpoint, 'signature' | 'keyId'>;

/** Domain separation: no message or receipt signature can verify as a checkpoint signature, nor the reverse. */
const CONTEXT = 'retention-ledger-checkpoint-v1';

/**
 * The bytes signed: each field as a 4-byte big-endian length and its UTF-8 bytes, in this order:
 * the context `retention-ledger-checkpoint-v1`, keyId, treeSize (decimal), rootHash, lastEntryHash,
 * timestamp.
 */
export function checkpointSigningInput(c: UnsignedCheckpoint & { keyId: string }): Buffer {
  return lengthPrefixed([CONTEXT, c.keyId, String(c.treeSize), c.rootHash, c.lastEntryHash, c.timestamp]);
}

export function signCheckpoint(key: SigningKey, c: UnsignedCheckpoint): Checkpoint {
  const unsigned = { treeSize: c.treeSize, rootHash: c.rootHash, lastEntryHash: c.lastEntryHash, timestamp: c.timestamp, keyId: key.keyId };
  return { ...unsigned, signature: sign(null, checkpointSigningInput(unsigned), key.privateKey).toString('base64url') };
}

export type CheckpointFailure = 'unknown_signing_key' | 'signature_invalid';

/**
 * Checks a checkpoint's signature with the trusted keys that carry its key id: null when it
 * verifies, else why not.
 */
export function checkpointSignatureFailure(lookup: (keyId: string) => readonly TrustedKey[], c: Checkpoint): CheckpointFailure | null {
  const keys = lookup(c.keyId);
  if (keys.length === 0) return 'unknown_signing_key';
  const signature = Buffer.from(c.signature, 'base64url');
  const input = checkpointSigningInput(c);
  return signature.length === 64 && keys.some((k) => verify(null, input, k.publicKey, signature)) ? null : 'signature_invalid';
}

/** Length-prefixed UTF-8 fields: no two different field lists share an encoding. */
export function lengthPrefixed(fields: readonly string[]): Buffer {
  const chunks: Buffer[] = [];
  for (const field of fields) {
    const bytes = Buffer.from(field, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    chunks.push(length, bytes);
  }
  return Buffer.concat(chunks);
}
