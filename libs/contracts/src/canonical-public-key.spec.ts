import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CANONICAL_PUBLIC_KEY, ServiceRegisteredV1 } from './schemas';

const manifest = (publicKey: string) => ({
  service: 'billing',
  version: '1',
  policyHash: 'x',
  publishedAt: new Date().toISOString(),
  signingKey: { keyId: 'billing-1', publicKey },
});

describe('a registration names its public key in one spelling only', () => {
  const key = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x!;
  // The same 32 bytes with the last character's two unused bits set: another spelling of one key.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const other = key.slice(0, 42) + alphabet[alphabet.indexOf(key[42]!) + 1];

  it('accepts the form Node (and every base64url encoder) writes', () => {
    expect(CANONICAL_PUBLIC_KEY.test(key)).toBe(true);
    expect(ServiceRegisteredV1.safeParse(manifest(key)).success).toBe(true);
  });

  it('refuses another spelling of the same bytes, which a comparison of the text would take for another key', () => {
    expect(Buffer.from(other, 'base64url').equals(Buffer.from(key, 'base64url'))).toBe(true);
    expect(ServiceRegisteredV1.safeParse(manifest(other)).success).toBe(false);
  });
});
