import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  commandSubjectAad,
  holdSubjectAad,
  newCommandKey,
  openWith,
  parseKek,
  SealError,
  sealWith,
  textRef,
  unwrapCommandKey,
  wrapCommandKey,
} from './subject-seal';

describe('subject sealing', () => {
  const key = newCommandKey(new Date('2026-11-01T00:00:00Z'));

  it('seals a subject id so that only its key, for its message, opens it', () => {
    const sealed = sealWith(key, 'jane@example.com', commandSubjectAad('r1', 'user'));
    expect(JSON.stringify(sealed)).not.toContain('jane');
    expect(sealed.keyId).toBe(key.keyId);
    expect(openWith(() => key.key, sealed, commandSubjectAad('r1', 'user'))).toBe('jane@example.com');
    // Another request, a hold, another key, a flipped bit: all refused.
    expect(() => openWith(() => key.key, sealed, commandSubjectAad('r2', 'user'))).toThrow(SealError);
    expect(() => openWith(() => key.key, sealed, holdSubjectAad('r1', 'user'))).toThrow(SealError);
    expect(() => openWith(() => randomBytes(32), sealed, commandSubjectAad('r1', 'user'))).toThrow(SealError);
    const flipped = { ...sealed, ciphertext: (sealed.ciphertext[0] === 'A' ? 'B' : 'A') + sealed.ciphertext.slice(1) };
    expect(() => openWith(() => key.key, flipped, commandSubjectAad('r1', 'user'))).toThrow(SealError);
  });

  it('says a destroyed key is unknown (the sealed copies are shredded)', () => {
    const sealed = sealWith(key, 'x', holdSubjectAad('h1', 'user'));
    const error = (() => {
      try {
        openWith(() => undefined, sealed, holdSubjectAad('h1', 'user'));
      } catch (e) {
        return e as SealError;
      }
    })();
    expect(error?.code).toBe('command_key_unknown');
    expect(error?.retriable).toBe(false);
  });

  it('wraps a command key with the key-encryption key, bound to its key id', () => {
    const kek = randomBytes(32);
    const wrapped = wrapCommandKey(kek, key.keyId, key.key);
    expect(unwrapCommandKey(kek, key.keyId, wrapped).equals(key.key)).toBe(true);
    expect(() => unwrapCommandKey(kek, 'another-id', wrapped)).toThrow(SealError);
    expect(() => unwrapCommandKey(randomBytes(32), key.keyId, wrapped)).toThrow(SealError);
  });

  it('reads a KEK of exactly 32 bytes only', () => {
    expect(parseKek(randomBytes(32).toString('base64url'))).toHaveLength(32);
    expect(() => parseKek(randomBytes(16).toString('base64url'))).toThrow(/32 bytes/);
  });

  it('names a reason by a keyed hash', () => {
    expect(textRef('k'.repeat(16), 'Jane Doe asked by mail')).toMatch(/^[0-9a-f]{64}$/);
    expect(textRef('k'.repeat(16), 'a')).not.toBe(textRef('l'.repeat(16), 'a'));
  });
});
