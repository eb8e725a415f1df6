import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningKeyPair } from '@retention/contracts';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig } from './load-config';
import { coordinatorPublicKeys, requireSigningKey, servicePublicKeys, signingEnv, signingKeyOf } from './signing';

const Env = requireSigningKey(z.object({ ...signingEnv, COORD: coordinatorPublicKeys.optional(), SERVICES: servicePublicKeys.optional() }));

describe('signing configuration', () => {
  const pair = generateSigningKeyPair();

  it('reads the key from the environment or from a file', () => {
    expect(signingKeyOf(loadConfig(Env, { RETENTION_SIGNING_KEY: pair.privateKey, RETENTION_SIGNING_KEY_ID: 'k1' })).keyId).toBe('k1');
    const file = join(mkdtempSync(join(tmpdir(), 'keys-')), 'key');
    writeFileSync(file, `${pair.privateKey}\n`);
    expect(signingKeyOf(loadConfig(Env, { RETENTION_SIGNING_KEY_FILE: file, RETENTION_SIGNING_KEY_ID: 'k1' })).keyId).toBe('k1');
  });

  it('names every problem at once and never echoes a key', () => {
    const error = (() => {
      try {
        loadConfig(Env, { RETENTION_SIGNING_KEY_ID: 'bad id!', COORD: `c1=${pair.publicKey},c2=secret-looking-junk`, SERVICES: 'orders=x' });
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    })();
    expect(error).toMatch(/RETENTION_SIGNING_KEY: is required/);
    expect(error).toMatch(/RETENTION_SIGNING_KEY_ID: must be 1 to 64/);
    expect(error).toMatch(/COORD: entry 2 must be keyId=publicKey/);
    expect(error).toMatch(/SERVICES: entry 1 must be service:keyId=publicKey/);
    expect(error).not.toMatch(/secret-looking-junk/);
    expect(() =>
      loadConfig(Env, { RETENTION_SIGNING_KEY: pair.privateKey, RETENTION_SIGNING_KEY_FILE: '/nonexistent', RETENTION_SIGNING_KEY_ID: 'k' }),
    ).toThrow(/RETENTION_SIGNING_KEY_FILE: cannot be read \(ENOENT\)/);
    expect(() => loadConfig(Env, { RETENTION_SIGNING_KEY: 'abc', RETENTION_SIGNING_KEY_ID: 'k' })).toThrow(
      /RETENTION_SIGNING_KEY: must be an Ed25519 private key/,
    );
  });

  it('parses the trusted key lists with their owners', () => {
    const other = generateSigningKeyPair();
    const config = loadConfig(Env, {
      RETENTION_SIGNING_KEY: pair.privateKey,
      RETENTION_SIGNING_KEY_ID: 'k1',
      COORD: `c1=${pair.publicKey}, c2=${other.publicKey}`,
      SERVICES: `orders:o1=${other.publicKey}`,
    });
    expect(config.COORD?.map((k) => [k.keyId, k.owner])).toEqual([
      ['c1', 'coordinator'],
      ['c2', 'coordinator'],
    ]);
    expect(config.SERVICES?.map((k) => [k.keyId, k.owner])).toEqual([['o1', 'orders']]);
  });
});
