import { describe, expect, it } from 'vitest';
import {
  generateSigningKeyPair,
  keyLookup,
  parsePrivateKey,
  parsePublicKey,
  publicKeyOf,
  SignatureError,
  signingInput,
  signMessage,
  type TrustedKey,
  verifyMessage,
} from './message-signature';

function keyPair(keyId: string, owner = 'coordinator') {
  const { privateKey, publicKey } = generateSigningKeyPair();
  const signer = { keyId, privateKey: parsePrivateKey(privateKey, 'k') };
  const trusted: TrustedKey = { keyId, publicKey: parsePublicKey(publicKey, 'p'), owner };
  return { signer, trusted, publicKey };
}

const message = { topic: 'data.retention', key: 'k1', value: '{"a":1}' };
const now = new Date('2026-12-02T10:00:00.000Z');

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof SignatureError) return error.code;
    throw error;
  }
  return 'verified';
}

describe('message signatures', () => {
  const { signer, trusted } = keyPair('coord-1');
  const lookup = keyLookup([trusted]);

  it('verifies what was signed, and names the signer', () => {
    const headers = signMessage(signer, message, now);
    expect(verifyMessage(lookup, message, headers, { now })).toEqual({ keyId: 'coord-1', owner: 'coordinator', signedAt: now });
  });

  it('refuses a change to any signed part: topic, key, value, signing time', () => {
    const headers = signMessage(signer, message, now);
    expect(failure(() => verifyMessage(lookup, { ...message, topic: 'data.retention.holds' }, headers, { now }))).toBe('signature_invalid');
    expect(failure(() => verifyMessage(lookup, { ...message, key: 'k2' }, headers, { now }))).toBe('signature_invalid');
    expect(failure(() => verifyMessage(lookup, { ...message, key: null }, headers, { now }))).toBe('signature_invalid');
    expect(failure(() => verifyMessage(lookup, { ...message, value: '{"a":2}' }, headers, { now }))).toBe('signature_invalid');
    expect(failure(() => verifyMessage(lookup, { ...message, value: null }, headers, { now }))).toBe('signature_invalid');
    const later = { ...headers, 'x-retention-signed-at': '2026-12-02T10:00:01.000Z' };
    expect(failure(() => verifyMessage(lookup, message, later, { now }))).toBe('signature_invalid');
  });

  it('signs tombstones, and tells a null key or value from an empty one', () => {
    const tombstone = { topic: 't', key: 'hold-1', value: null };
    expect(verifyMessage(lookup, tombstone, signMessage(signer, tombstone, now), { now }).owner).toBe('coordinator');
    expect(signingInput({ topic: 't', key: null, value: '' }, 'x').equals(signingInput({ topic: 't', key: '', value: '' }, 'x'))).toBe(false);
    expect(signingInput({ topic: 't', key: 'a', value: null }, 'x').equals(signingInput({ topic: 't', key: 'a', value: '' }, 'x'))).toBe(false);
  });

  it('refuses unsigned messages, unknown keys, and keys that do not verify', () => {
    expect(failure(() => verifyMessage(lookup, message, {}, { now }))).toBe('signature_missing');
    const other = keyPair('other-1');
    expect(failure(() => verifyMessage(lookup, message, signMessage(other.signer, message, now), { now }))).toBe('unknown_signing_key');
    // Same key id, another key: an attacker cannot borrow a trusted id.
    const impostor = keyPair('coord-1');
    expect(failure(() => verifyMessage(lookup, message, signMessage(impostor.signer, message, now), { now }))).toBe('signature_invalid');
    expect(failure(() => verifyMessage(lookup, message, { ...signMessage(signer, message, now), 'x-retention-signature': 'AAAA' }, { now }))).toBe(
      'signature_invalid',
    );
  });

  it('refuses stale messages when an age limit applies, and messages from beyond the clock skew', () => {
    const old = signMessage(signer, message, new Date(now.getTime() - 2 * 86_400_000));
    expect(failure(() => verifyMessage(lookup, message, old, { now, maxAgeMs: 86_400_000 }))).toBe('signature_stale');
    expect(verifyMessage(lookup, message, old, { now }).owner).toBe('coordinator');
    const future = signMessage(signer, message, new Date(now.getTime() + 10 * 60_000));
    expect(failure(() => verifyMessage(lookup, message, future, { now, maxSkewMs: 5 * 60_000 }))).toBe('signature_from_future');
    const nearFuture = signMessage(signer, message, new Date(now.getTime() + 60_000));
    expect(verifyMessage(lookup, message, nearFuture, { now, maxSkewMs: 5 * 60_000 }).keyId).toBe('coord-1');
  });

  it('accepts a rotation: two keys trusted at once, owners kept apart', () => {
    const next = keyPair('coord-2');
    const svc = keyPair('coord-1', 'orders');
    const both = keyLookup([trusted, next.trusted, svc.trusted]);
    expect(verifyMessage(both, message, signMessage(next.signer, message, now), { now }).keyId).toBe('coord-2');
    expect(verifyMessage(both, message, signMessage(signer, message, now), { now }).owner).toBe('coordinator');
    expect(verifyMessage(both, message, signMessage(svc.signer, message, now), { now }).owner).toBe('orders');
  });

  it('reads keys as seeds or PEM, and never echoes a bad key', () => {
    const { privateKey, publicKey } = generateSigningKeyPair();
    const key = parsePrivateKey(privateKey, 'RETENTION_SIGNING_KEY');
    expect(publicKeyOf(key)).toBe(publicKey);
    const pem = key.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect(publicKeyOf(parsePrivateKey(pem, 'RETENTION_SIGNING_KEY'))).toBe(publicKey);
    expect(() => parsePrivateKey('not-a-key-secret-value', 'RETENTION_SIGNING_KEY')).toThrow(/RETENTION_SIGNING_KEY: must be an Ed25519 private key/);
    expect(() => parsePrivateKey('not-a-key-secret-value', 'RETENTION_SIGNING_KEY')).not.toThrow(/secret-value/);
    expect(() => parsePublicKey('short', 'P')).toThrow(/P: must be an Ed25519 public key/);
  });
});
