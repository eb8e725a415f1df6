import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import { ConfigError, RetentionError } from './errors';

/**
 * Every message a platform process publishes is signed with its Ed25519 key. The signature travels
 * in Kafka headers, not in the JSON envelope, so that tombstones (which have no value) are signed
 * the same way and the signature covers the exact bytes on the wire: no JSON canonicalization is
 * needed to verify it, in any language.
 */
export const SignatureHeaders = {
  keyId: 'x-retention-key-id',
  signedAt: 'x-retention-signed-at',
  signature: 'x-retention-signature',
} as const;

/** Domain separation: a signature made for anything else can never verify as a message signature. */
const CONTEXT = 'retention-message-signature-v1';

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
// PKCS#8 DER prefix of an Ed25519 private key (RFC 8410), followed by the 32-byte seed.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export interface SigningKey {
  keyId: string;
  privateKey: KeyObject;
}

export interface TrustedKey {
  keyId: string;
  publicKey: KeyObject;
  /** Who holds the private key: `coordinator` or a service name. */
  owner: string;
}

export interface RawMessage {
  topic: string;
  key: string | null;
  /** The value bytes as published; `null` for a tombstone. */
  value: Buffer | string | null;
}

/**
 * The bytes that are signed: each field length-prefixed (4-byte big-endian length; 0xFFFFFFFF for
 * a null key or value), so no two different messages share an input.
 */
export function signingInput(message: RawMessage, signedAt: string): Buffer {
  const parts: Array<Buffer | null> = [
    Buffer.from(CONTEXT, 'utf8'),
    Buffer.from(message.topic, 'utf8'),
    message.key === null ? null : Buffer.from(message.key, 'utf8'),
    Buffer.from(signedAt, 'utf8'),
    message.value === null ? null : typeof message.value === 'string' ? Buffer.from(message.value, 'utf8') : message.value,
  ];
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(part === null ? 0xffffffff : part.length);
    chunks.push(length);
    if (part) chunks.push(part);
  }
  return Buffer.concat(chunks);
}

/** The three signature headers of `message`, signed now. */
export function signMessage(key: SigningKey, message: RawMessage, now: Date = new Date()): Record<string, string> {
  const signedAt = now.toISOString();
  const signature = sign(null, signingInput(message, signedAt), key.privateKey);
  return { [SignatureHeaders.keyId]: key.keyId, [SignatureHeaders.signedAt]: signedAt, [SignatureHeaders.signature]: signature.toString('base64url') };
}

export type SignatureFailure = 'signature_missing' | 'signature_invalid' | 'unknown_signing_key' | 'signature_stale' | 'signature_from_future';

/** A message whose signature does not verify: never retriable, the bytes will not change. */
export class SignatureError extends RetentionError {
  readonly retriable = false;

  constructor(
    readonly code: SignatureFailure | 'signer_mismatch',
    message: string,
  ) {
    super(message);
  }
}

export interface VerifyOptions {
  now?: Date;
  /** Refuse messages signed longer ago than this (commands); absent = no age limit (compacted state). */
  maxAgeMs?: number;
  /** Tolerated clock difference for a signing time in the future. */
  maxSkewMs?: number;
}

export interface Verified {
  keyId: string;
  owner: string;
  signedAt: Date;
}

/**
 * Checks the signature headers of a message against the trusted keys (`lookup` returns the keys
 * that carry an id: ids are chosen by each key's owner, so two owners may share one). Throws a
 * {@link SignatureError} naming what is wrong; returns who signed.
 */
export function verifyMessage(
  lookup: (keyId: string) => readonly TrustedKey[],
  message: RawMessage,
  headers: Readonly<Record<string, string | undefined>>,
  options: VerifyOptions = {},
): Verified {
  const keyId = headers[SignatureHeaders.keyId];
  const signedAt = headers[SignatureHeaders.signedAt];
  const signature = headers[SignatureHeaders.signature];
  if (!keyId || !signedAt || !signature) {
    throw new SignatureError('signature_missing', `message is not signed (headers ${Object.values(SignatureHeaders).join(', ')} are required)`);
  }
  const candidates = KEY_ID.test(keyId) ? lookup(keyId) : [];
  if (candidates.length === 0)
    throw new SignatureError('unknown_signing_key', `signing key "${KEY_ID.test(keyId) ? keyId : '(malformed)'}" is not trusted here`);
  const bytes = Buffer.from(signature, 'base64url');
  const input = signingInput(message, signedAt);
  const key = bytes.length === 64 ? candidates.find((k) => verify(null, input, k.publicKey, bytes)) : undefined;
  if (!key) throw new SignatureError('signature_invalid', `signature does not verify with key "${keyId}"`);
  // Checked after the signature: only an authentic time is worth comparing.
  const at = new Date(signedAt);
  if (Number.isNaN(at.getTime()) || at.toISOString() !== signedAt) throw new SignatureError('signature_invalid', 'signing time is not an ISO 8601 UTC instant');
  const now = (options.now ?? new Date()).getTime();
  if (at.getTime() > now + (options.maxSkewMs ?? 5 * 60_000)) {
    throw new SignatureError('signature_from_future', `message was signed at ${signedAt}, later than now plus the tolerated clock skew`);
  }
  if (options.maxAgeMs !== undefined && at.getTime() < now - options.maxAgeMs) {
    throw new SignatureError('signature_stale', `message was signed at ${signedAt}, longer ago than the ${Math.round(options.maxAgeMs / 1000)} s accepted`);
  }
  return { keyId, owner: key.owner, signedAt: at };
}

/** A new Ed25519 key pair: the private key as a base64url seed, the public key as base64url raw bytes. */
export function generateSigningKeyPair(): { privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_ED25519_PREFIX.length);
  return { privateKey: Buffer.from(seed).toString('base64url'), publicKey: publicKeyToText(publicKey) };
}

/** base64url of the 32 raw bytes of an Ed25519 public key. */
export function publicKeyToText(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || !jwk.x) throw new TypeError('not an Ed25519 key');
  return jwk.x;
}

/**
 * Parses a private key: a base64url (or base64) 32-byte Ed25519 seed, or a PKCS#8 PEM
 * (`openssl genpkey -algorithm ed25519`). `path` names the setting in errors.
 */
export function parsePrivateKey(text: string, path: string): KeyObject {
  const trimmed = text.trim();
  try {
    if (trimmed.startsWith('-----BEGIN')) {
      const key = createPrivateKey(trimmed);
      if (key.asymmetricKeyType === 'ed25519') return key;
    } else {
      const seed = Buffer.from(trimmed, 'base64url');
      if (seed.length === 32) return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
    }
  } catch {
    // reported below without echoing the key
  }
  throw new ConfigError('invalid configuration', [{ path, message: 'must be an Ed25519 private key: a base64url 32-byte seed or a PKCS#8 PEM' }]);
}

/** Parses a public key: base64url of its 32 raw bytes. */
export function parsePublicKey(text: string, path: string): KeyObject {
  const raw = Buffer.from(text.trim(), 'base64url');
  if (raw.length === 32) {
    try {
      return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
    } catch {
      // reported below
    }
  }
  throw new ConfigError('invalid configuration', [{ path, message: 'must be an Ed25519 public key: base64url of its 32 raw bytes' }]);
}

export function isKeyId(value: string): boolean {
  return KEY_ID.test(value);
}

/** A lookup over a fixed set of keys, for {@link verifyMessage}. */
export function keyLookup(keys: readonly TrustedKey[]): (keyId: string) => readonly TrustedKey[] {
  const byId = new Map<string, TrustedKey[]>();
  for (const k of keys) byId.set(k.keyId, [...(byId.get(k.keyId) ?? []), k]);
  return (keyId) => byId.get(keyId) ?? [];
}

/** The public half of a private key, as text. */
export function publicKeyOf(privateKey: KeyObject): string {
  return publicKeyToText(createPublicKey(privateKey));
}
