import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ConfigError, RetentionError } from './errors';

/**
 * Subject ids never travel in clear. The coordinator seals each one with AES-256-GCM under the
 * current *command key* (a random 256-bit key it draws every rotation period, named by `keyId`),
 * with associated data binding the ciphertext to its message, so it cannot be moved to another.
 * Command keys reach the services on the keys topic, each wrapped (AES-256-GCM) with the shared
 * key-encryption key `RETENTION_COMMAND_KEK`. Every command key is destroyed (coordinator row
 * deleted, tombstone on the keys topic, dropped from every service's memory) at its `destroyAt`:
 * from then on every copy of a message sealed with it (the topic, the DLQ, a backup of a broker's
 * disk) is unreadable: crypto-shredding with a bound. All of it is AES-256-GCM with a 96-bit random
 * IV and a 128-bit tag appended to the ciphertext, base64url without padding: any language does it.
 */
export const SealedValue = z.object({
  keyId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/),
  /** base64url of the 12-byte IV. */
  iv: z.string().regex(/^[A-Za-z0-9_-]{16}$/, 'must be base64url of 12 bytes'),
  /** base64url of ciphertext || 16-byte GCM tag. */
  ciphertext: z.string().regex(/^[A-Za-z0-9_-]{22,2048}$/, 'must be base64url of ciphertext and tag'),
});
export type SealedValue = z.infer<typeof SealedValue>;

/** A command key as the coordinator publishes it on the keys topic (keyed by `keyId`). */
export const CommandKeyV1 = z.object({
  keyId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/),
  /** The 32-byte key sealed with the key-encryption key; associated data `retention-command-key-v1:<keyId>`. */
  wrapped: z.object({ iv: SealedValue.shape.iv, ciphertext: SealedValue.shape.ciphertext }),
  createdAt: z.iso.datetime({ offset: true }),
  /** The key is forgotten at this instant by everyone who holds it; messages sealed with it become unreadable. */
  destroyAt: z.iso.datetime({ offset: true }),
});
export type CommandKey = z.infer<typeof CommandKeyV1>;

export class SealError extends RetentionError {
  readonly retriable = false;
  constructor(
    readonly code: 'command_key_unknown' | 'seal_invalid',
    message: string,
  ) {
    super(message);
  }
}

/** Associated data of a subject id in an erasure command (bound to the request and subject type). */
export const commandSubjectAad = (requestId: string, subjectType: string): string => `retention-subject-v1:erasure:${requestId}:${subjectType}`;
/** Associated data of a subject id in a hold event (bound to the hold and subject type). */
export const holdSubjectAad = (holdId: string, subjectType: string): string => `retention-subject-v1:hold:${holdId}:${subjectType}`;
const wrapAad = (keyId: string): string => `retention-command-key-v1:${keyId}`;

const b64 = (b: Buffer): string => b.toString('base64url');

function encrypt(key: Buffer, plaintext: Buffer, aad: string): { iv: string; ciphertext: string } {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { iv: b64(iv), ciphertext: b64(body) };
}

function decrypt(key: Buffer, sealed: { iv: string; ciphertext: string }, aad: string): Buffer {
  const body = Buffer.from(sealed.ciphertext, 'base64url');
  if (body.length < 17) throw new SealError('seal_invalid', 'sealed value too short');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64url'));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(body.subarray(body.length - 16));
    return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]);
  } catch {
    throw new SealError('seal_invalid', 'sealed value does not open with its key (altered, moved to another message, or another key)');
  }
}

/** Seals `plaintext` (a subject id) with a command key. */
export function sealWith(key: { keyId: string; key: Buffer }, plaintext: string, aad: string): SealedValue {
  return { keyId: key.keyId, ...encrypt(key.key, Buffer.from(plaintext, 'utf8'), aad) };
}

/** Opens a sealed value; `keyOf` returns the command key named by its `keyId`, or undefined. */
export function openWith(keyOf: (keyId: string) => Buffer | undefined, sealed: SealedValue, aad: string): string {
  const key = keyOf(sealed.keyId);
  if (!key) throw new SealError('command_key_unknown', `command key "${sealed.keyId}" is unknown or destroyed`);
  return decrypt(key, sealed, aad).toString('utf8');
}

/** Wraps a command key with the key-encryption key for the keys topic. */
export function wrapCommandKey(kek: Buffer, keyId: string, key: Buffer): CommandKey['wrapped'] {
  return encrypt(kek, key, wrapAad(keyId));
}

export function unwrapCommandKey(kek: Buffer, keyId: string, wrapped: CommandKey['wrapped']): Buffer {
  const key = decrypt(kek, wrapped, wrapAad(keyId));
  if (key.length !== 32) throw new SealError('seal_invalid', `command key "${keyId}" is not 32 bytes`);
  return key;
}

/** A new random command key; its id says when it was made (sortable, not secret). */
export function newCommandKey(now: Date): { keyId: string; key: Buffer } {
  return {
    keyId: `ck-${now
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z')}-${randomBytes(4).toString('hex')}`,
    key: randomBytes(32),
  };
}

/** Parses `RETENTION_COMMAND_KEK`: base64url (or base64) of exactly 32 bytes. */
export function parseKek(text: string): Buffer {
  const key = Buffer.from(text.trim(), /[+/=]/.test(text) ? 'base64' : 'base64url');
  if (key.length !== 32) throw new ConfigError(`RETENTION_COMMAND_KEK must be base64url of 32 bytes (got ${key.length} bytes)`);
  return key;
}

/** A key derived from a secret for one purpose (HKDF-SHA256), e.g. the coordinator's at-rest key. */
export function deriveKey(secret: string | Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), purpose, 32));
}

/** HMAC-SHA256 (hex) of a free text, so the ledger and the holds topic can name it without holding it. */
export function textRef(key: string | Buffer, text: string): string {
  return createHmac('sha256', key).update(`retention-text-v1\u0000${text}`).digest('hex');
}
