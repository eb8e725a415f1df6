import { existsSync, readFileSync } from 'node:fs';
import { isKeyId, keyLookup, parsePublicKey, type ReceiptVerification, type TrustedKey, verifyReceipt } from '@retention/contracts';

/** Bad input to the command itself (a file that cannot be read, a key that is not one): exit 2. */
export class ReceiptUsageError extends Error {}

/**
 * The keys to trust, from `--public-key`: a base64url Ed25519 public key (trusted under any key id),
 * `keyId=publicKey`, a comma-separated list of those, or a file holding any of them (e.g. the
 * `coordinator.pub` that `npm start` writes).
 */
export function trustedKeysFrom(text: string): { lookup: (keyId: string) => readonly TrustedKey[] } {
  const source = existsSync(text) ? readFileSync(text, 'utf8') : text;
  const anyId: TrustedKey[] = [];
  const byId: TrustedKey[] = [];
  const entries = source
    .split(/[,\n]/)
    .map((e) => e.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new ReceiptUsageError('--public-key names no key');
  entries.forEach((entry, i) => {
    const eq = entry.indexOf('=', 1);
    // A base64url key never contains '=', so `id=key` is unambiguous.
    const [id, key] = eq > 0 ? [entry.slice(0, eq), entry.slice(eq + 1)] : [undefined, entry];
    if (id !== undefined && !isKeyId(id)) throw new ReceiptUsageError(`--public-key entry ${i + 1}: "${id}" is not a key id`);
    let publicKey;
    try {
      publicKey = parsePublicKey(key, '--public-key');
    } catch {
      throw new ReceiptUsageError(`--public-key entry ${i + 1} is not an Ed25519 public key (base64url of its 32 bytes, optionally as keyId=key)`);
    }
    (id === undefined ? anyId : byId).push({ keyId: id ?? '*', publicKey, owner: 'coordinator' });
  });
  const named = keyLookup(byId);
  return { lookup: (keyId) => [...named(keyId), ...anyId] };
}

/** Reads and checks a receipt file with no network: what `verifyReceipt` found. */
export function verifyReceiptFile(path: string, publicKey: string): ReceiptVerification {
  const { lookup } = trustedKeysFrom(publicKey);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ReceiptUsageError(`cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, problems: [{ code: 'malformed', path: '(receipt)', message: 'the file is not JSON' }] };
  }
  return verifyReceipt(value, lookup);
}
