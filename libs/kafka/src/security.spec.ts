import { ConfigError } from '@retention/contracts';
import { describe, expect, it } from 'vitest';
import { kafkaSecurityFromConfig } from './security';

const files: Record<string, string> = { '/ca.pem': 'CA', '/cert.pem': 'CERT', '/key.pem': 'KEY', '/password': 'p4ss\n' };
const readFile = (path: string): Buffer => {
  if (!(path in files)) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
  return Buffer.from(files[path]!);
};

describe('kafkaSecurityFromConfig', () => {
  it('gives nothing for a PLAINTEXT client', () => {
    expect(kafkaSecurityFromConfig({ KAFKA_SSL: false }, readFile)).toEqual({});
  });

  it('reads the password file once, without its trailing newline', () => {
    let reads = 0;
    const security = kafkaSecurityFromConfig(
      { KAFKA_SSL: false, KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'orders', KAFKA_SASL_PASSWORD_FILE: '/password' },
      (p) => {
        reads++;
        return readFile(p);
      },
    );
    expect(security).toEqual({ sasl: { mechanism: 'scram-sha-512', username: 'orders', password: 'p4ss' } });
    expect(reads).toBe(1);
  });

  it('takes an inline password', () => {
    expect(kafkaSecurityFromConfig({ KAFKA_SSL: true, KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'pw' }, readFile)).toEqual({
      ssl: true,
      sasl: { mechanism: 'plain', username: 'u', password: 'pw' },
    });
  });

  it('builds TLS settings from the CA, certificate and key files', () => {
    const security = kafkaSecurityFromConfig(
      { KAFKA_SSL: true, KAFKA_SSL_CA_FILE: '/ca.pem', KAFKA_SSL_CERT_FILE: '/cert.pem', KAFKA_SSL_KEY_FILE: '/key.pem' },
      readFile,
    );
    expect(security.ssl).toEqual({ ca: [Buffer.from('CA')], cert: Buffer.from('CERT'), key: Buffer.from('KEY') });
    expect(JSON.stringify(security.ssl)).not.toContain('rejectUnauthorized');
  });

  it('names every key whose file cannot be read, in one ConfigError', () => {
    let error: unknown;
    try {
      kafkaSecurityFromConfig(
        { KAFKA_SSL: true, KAFKA_SSL_CA_FILE: '/gone.pem', KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD_FILE: '/gone' },
        readFile,
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).retriable).toBe(false);
    expect((error as ConfigError).issues).toEqual([
      { path: 'KAFKA_SSL_CA_FILE', message: 'cannot read /gone.pem (ENOENT)' },
      { path: 'KAFKA_SASL_PASSWORD_FILE', message: 'cannot read /gone (ENOENT)' },
    ]);
  });

  it('refuses a mechanism without a user or a password', () => {
    expect(() => kafkaSecurityFromConfig({ KAFKA_SSL: false, KAFKA_SASL_MECHANISM: 'scram-sha-512' }, readFile)).toThrow(
      /KAFKA_SASL_USERNAME: is required[\s\S]*KAFKA_SASL_PASSWORD_FILE/,
    );
  });
});
