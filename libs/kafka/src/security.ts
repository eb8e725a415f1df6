import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { ConfigError } from '@retention/contracts';
import type { SASLOptions } from 'kafkajs';

/**
 * The Kafka security keys of a process's configuration (`commonEnv` in @retention/config, whose
 * load-time rules have already checked how they fit together).
 */
export interface KafkaSecurityConfig {
  KAFKA_SSL: boolean;
  KAFKA_SSL_CA_FILE?: string;
  KAFKA_SSL_CERT_FILE?: string;
  KAFKA_SSL_KEY_FILE?: string;
  KAFKA_SASL_MECHANISM?: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  KAFKA_SASL_USERNAME?: string;
  KAFKA_SASL_PASSWORD?: string;
  KAFKA_SASL_PASSWORD_FILE?: string;
}

/** What kafkajs needs to reach a secured cluster: its `ssl` and `sasl` client settings. */
export interface KafkaSecurity {
  ssl?: ConnectionOptions | true;
  sasl?: SASLOptions;
}

/**
 * Turns the configuration into kafkajs `ssl`/`sasl` settings, reading the certificate, key and
 * password files now (once, at start: a rotated password needs a restart). A file that cannot be
 * read, or credentials that do not fit together, fail with a {@link ConfigError} naming the key.
 */
export function kafkaSecurityFromConfig(config: KafkaSecurityConfig, readFile: (path: string) => Buffer = (path) => readFileSync(path)): KafkaSecurity {
  const issues: Array<{ path: string; message: string }> = [];
  const read = (key: 'KAFKA_SSL_CA_FILE' | 'KAFKA_SSL_CERT_FILE' | 'KAFKA_SSL_KEY_FILE' | 'KAFKA_SASL_PASSWORD_FILE'): Buffer | undefined => {
    const path = config[key];
    if (!path) return undefined;
    try {
      return readFile(path);
    } catch (error) {
      issues.push({ path: key, message: `cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})` });
      return undefined;
    }
  };

  const security: KafkaSecurity = {};
  if (config.KAFKA_SSL) {
    const ca = read('KAFKA_SSL_CA_FILE');
    const cert = read('KAFKA_SSL_CERT_FILE');
    const key = read('KAFKA_SSL_KEY_FILE');
    // Node verifies the broker's certificate and host name by default; nothing here turns that off.
    security.ssl = ca || cert || key ? { ...(ca ? { ca: [ca] } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) } : true;
  }
  if (config.KAFKA_SASL_MECHANISM) {
    const username = config.KAFKA_SASL_USERNAME;
    const fromFile = read('KAFKA_SASL_PASSWORD_FILE');
    // One line; the newline an editor or `echo` leaves at the end is not part of the password.
    const password = fromFile !== undefined ? fromFile.toString('utf8').replace(/\r?\n$/, '') : config.KAFKA_SASL_PASSWORD;
    if (!username) issues.push({ path: 'KAFKA_SASL_USERNAME', message: 'is required when KAFKA_SASL_MECHANISM is set' });
    if (!password && !issues.some((i) => i.path === 'KAFKA_SASL_PASSWORD_FILE')) {
      issues.push({ path: 'KAFKA_SASL_PASSWORD_FILE', message: 'KAFKA_SASL_PASSWORD_FILE (or KAFKA_SASL_PASSWORD) must give a non-empty password' });
    }
    if (username && password) security.sasl = { mechanism: config.KAFKA_SASL_MECHANISM, username, password } as SASLOptions;
  }
  if (issues.length > 0) throw new ConfigError('invalid Kafka security configuration', issues);
  return security;
}
