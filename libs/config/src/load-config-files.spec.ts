import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, generateSigningKeyPair } from '@retention/contracts';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { commonEnv, postgresUrl } from './common';
import { kafkaSecurityRules } from './kafka-security';
import { loadConfig } from './load-config';
import { requireSigningKey, signingEnv, signingKeyOf } from './signing';

const dir = mkdtempSync(join(tmpdir(), 'config-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: string): string => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
const SECRET = 'postgres://app:s3cret-password@db:5432/app';
const schema = requireSigningKey(
  z.object({
    ...commonEnv,
    ...signingEnv,
    DATABASE_URL: postgresUrl,
    RETENTION_HASH_KEY: z.string().min(16, 'must be at least 16 characters'),
    OPTIONAL_TOKEN: z.string().optional(),
  }),
).check(kafkaSecurityRules);
const pair = generateSigningKeyPair();
const base = { RETENTION_SIGNING_KEY: pair.privateKey, RETENTION_SIGNING_KEY_ID: 'k1', RETENTION_HASH_KEY: 'hash-key-0123456789' };

function issues(env: Record<string, string>): Array<{ path: string; message: string }> {
  try {
    loadConfig(schema, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).not.toContain('s3cret');
    return [...(error as ConfigError).issues];
  }
  return [];
}

describe('loadConfig: X_FILE for any key X of the schema', () => {
  it('reads the value from the file, dropping one trailing newline, and leaves no *_FILE key behind', () => {
    const config = loadConfig(schema, { ...base, DATABASE_URL_FILE: file('db-url', `${SECRET}\n`), OPTIONAL_TOKEN_FILE: file('t', 'a b\n\n') });
    expect(config.DATABASE_URL).toBe(SECRET);
    expect(config.OPTIONAL_TOKEN).toBe('a b\n'); // only one newline is the file's end
    expect(config).not.toHaveProperty('DATABASE_URL_FILE');
    expect(loadConfig(schema, { ...base, DATABASE_URL_FILE: file('crlf', `${SECRET}\r\n`) }).DATABASE_URL).toBe(SECRET);
  });

  it('validates the value read like one from the environment', () => {
    expect(issues({ ...base, DATABASE_URL: SECRET, RETENTION_HASH_KEY: '', RETENTION_HASH_KEY_FILE: file('short', 'short\n') })).toEqual([
      { path: 'RETENTION_HASH_KEY', message: 'must be at least 16 characters' },
    ]);
  });

  it('refuses X and X_FILE together, naming the variable and not the value', () => {
    expect(issues({ ...base, DATABASE_URL: SECRET, DATABASE_URL_FILE: file('db2', SECRET) })).toEqual([
      { path: 'DATABASE_URL', message: 'set either DATABASE_URL or DATABASE_URL_FILE, not both' },
    ]);
  });

  it('names a missing, empty, unreadable file or a directory by its variable, once, with every other problem', () => {
    const locked = file('locked', SECRET);
    chmodSync(locked, 0o000);
    const unreadable = process.getuid?.() === 0 ? [] : [locked]; // root reads any file
    expect(issues({ ...base, DATABASE_URL_FILE: join(dir, 'absent'), LOG_LEVEL: 'loud' })).toEqual([
      { path: 'DATABASE_URL_FILE', message: `cannot read ${join(dir, 'absent')} (ENOENT)` },
      { path: 'LOG_LEVEL', message: expect.any(String) },
    ]);
    expect(issues({ ...base, DATABASE_URL_FILE: file('empty', '\n') })).toEqual([{ path: 'DATABASE_URL_FILE', message: expect.stringContaining('is empty') }]);
    expect(issues({ ...base, DATABASE_URL_FILE: dir })).toEqual([{ path: 'DATABASE_URL_FILE', message: `${dir} is not a regular file` }]);
    for (const path of unreadable)
      expect(issues({ ...base, DATABASE_URL_FILE: path })).toEqual([{ path: 'DATABASE_URL_FILE', message: `cannot read ${path} (EACCES)` }]);
  });

  it('keeps the *_FILE keys a schema declares itself (signing key, Kafka password and certificates)', () => {
    const { RETENTION_SIGNING_KEY: _key, ...noKey } = base;
    const config = loadConfig(schema, {
      ...noKey,
      DATABASE_URL: SECRET,
      RETENTION_SIGNING_KEY_FILE: file('signing.key', `${pair.privateKey}\n`),
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'orders',
      KAFKA_SASL_PASSWORD_FILE: file('kafka-password', 'pw\n'),
    });
    expect(signingKeyOf(config).keyId).toBe('k1');
    expect(config.KAFKA_SASL_PASSWORD_FILE).toBe(join(dir, 'kafka-password'));
    expect(config.KAFKA_SASL_PASSWORD).toBeUndefined();
  });

  it('ignores *_FILE variables of keys the schema does not have', () => {
    expect(loadConfig(schema, { ...base, DATABASE_URL: SECRET, UNRELATED_FILE: join(dir, 'absent') }).DATABASE_URL).toBe(SECRET);
  });
});
