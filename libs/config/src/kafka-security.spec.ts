import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@retention/contracts';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { commonEnv, KafkaClientEnv } from './common';
import { kafkaSecurityRules } from './kafka-security';
import { loadConfig } from './load-config';

const dir = mkdtempSync(join(tmpdir(), 'kafka-security-spec-'));
const file = (name: string, content: string): string => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
const password = file('password', 'secret\n');
const ca = file('ca.pem', '-----BEGIN CERTIFICATE-----\n');
const cert = file('cert.pem', '-----BEGIN CERTIFICATE-----\n');
const key = file('key.pem', '-----BEGIN PRIVATE KEY-----\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const schema = z.object({ ...commonEnv, NAME: z.string() }).check(kafkaSecurityRules);

function issuesOf(env: Record<string, string>, s: z.ZodType = schema): Array<{ path: string; message: string }> {
  try {
    loadConfig(s, { NAME: 'x', ...env });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).issues];
  }
  return [];
}
const paths = (env: Record<string, string>): string[] => issuesOf(env).map((i) => i.path);

describe('Kafka security settings', () => {
  it('default to no TLS and no SASL', () => {
    const config = loadConfig(schema, { NAME: 'x' });
    expect(config.KAFKA_SSL).toBe(false);
    expect(config.KAFKA_SASL_MECHANISM).toBeUndefined();
  });

  it('accept SCRAM with a password file, and TLS with a CA and a client certificate', () => {
    const config = loadConfig(schema, {
      NAME: 'x',
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: ca,
      KAFKA_SSL_CERT_FILE: cert,
      KAFKA_SSL_KEY_FILE: key,
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'orders',
      KAFKA_SASL_PASSWORD_FILE: password,
    });
    expect(config).toMatchObject({ KAFKA_SSL: true, KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'orders', KAFKA_SASL_PASSWORD_FILE: password });
    expect(paths({ KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' })).toEqual([]);
    expect(paths({ KAFKA_SSL: 'true', KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' })).toEqual([]);
  });

  it('name the missing user and password of a mechanism', () => {
    expect(paths({ KAFKA_SASL_MECHANISM: 'scram-sha-512' })).toEqual(['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD_FILE']);
  });

  it('refuse credentials without a mechanism, naming each', () => {
    expect(paths({ KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD_FILE: password })).toEqual(['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD_FILE']);
  });

  it('refuse two passwords', () => {
    const issues = issuesOf({ KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p', KAFKA_SASL_PASSWORD_FILE: password });
    expect(issues).toEqual([{ path: 'KAFKA_SASL_PASSWORD', message: expect.stringContaining('not both') }]);
  });

  it('refuse PLAIN without TLS (the password would cross the network in clear text)', () => {
    const issues = issuesOf({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' });
    expect(issues).toEqual([{ path: 'KAFKA_SASL_MECHANISM', message: expect.stringContaining('KAFKA_SSL=true') }]);
  });

  it('refuse an unknown mechanism', () => {
    expect(issuesOf({ KAFKA_SASL_MECHANISM: 'gssapi', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' })).toEqual([
      { path: 'KAFKA_SASL_MECHANISM', message: 'must be one of plain, scram-sha-256, scram-sha-512' },
    ]);
  });

  it('refuse a certificate without its key and a key without its certificate', () => {
    expect(paths({ KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: cert })).toEqual(['KAFKA_SSL_KEY_FILE']);
    expect(paths({ KAFKA_SSL: 'true', KAFKA_SSL_KEY_FILE: key })).toEqual(['KAFKA_SSL_CERT_FILE']);
  });

  it('refuse TLS files while TLS is off', () => {
    expect(paths({ KAFKA_SSL_CA_FILE: ca })).toEqual(['KAFKA_SSL_CA_FILE']);
    expect(paths({ KAFKA_SSL: 'false', KAFKA_SSL_CERT_FILE: cert, KAFKA_SSL_KEY_FILE: key })).toEqual(['KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE']);
  });

  it('name a file that is missing, empty, a directory or unreadable', () => {
    const empty = file('empty', '');
    const issues = issuesOf({
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: join(dir, 'missing.pem'),
      KAFKA_SSL_CERT_FILE: dir,
      KAFKA_SSL_KEY_FILE: empty,
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD_FILE: join(dir, 'nope'),
    });
    expect(issues).toEqual([
      { path: 'KAFKA_SSL_CA_FILE', message: expect.stringContaining('ENOENT') },
      { path: 'KAFKA_SSL_CERT_FILE', message: expect.stringContaining('not a regular file') },
      { path: 'KAFKA_SSL_KEY_FILE', message: expect.stringContaining('is empty') },
      { path: 'KAFKA_SASL_PASSWORD_FILE', message: expect.stringContaining('ENOENT') },
    ]);
  });

  it('are reported together with every other invalid key', () => {
    const issues = issuesOf(
      { KAFKA_BROKERS: 'nohost', KAFKA_SASL_MECHANISM: 'scram-sha-512', LOG_LEVEL: 'loud' },
      z.object({ ...commonEnv }).check(kafkaSecurityRules),
    );
    expect(issues.map((i) => i.path).sort()).toEqual(['KAFKA_BROKERS.0', 'KAFKA_SASL_PASSWORD_FILE', 'KAFKA_SASL_USERNAME', 'LOG_LEVEL']);
  });

  it('KafkaClientEnv applies the same rules', () => {
    expect(issuesOf({ KAFKA_SSL_CERT_FILE: cert }, KafkaClientEnv).map((i) => i.path)).toEqual(['KAFKA_SSL_KEY_FILE', 'KAFKA_SSL_CERT_FILE']);
  });
});
