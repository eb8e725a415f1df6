import { accessSync, constants, statSync } from 'node:fs';
import type { Issue } from '@retention/contracts';
import { z } from 'zod';

/** SASL mechanisms kafkajs speaks; `plain` only over TLS (see {@link kafkaSecurityIssues}). */
export const SaslMechanisms = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type SaslMechanism = (typeof SaslMechanisms)[number];

/** The Kafka security keys of `commonEnv`, as loaded (what `kafkaSecurityFromConfig` in @retention/kafka takes). */
export interface KafkaSecuritySettings {
  KAFKA_SSL: boolean;
  KAFKA_SSL_CA_FILE?: string;
  KAFKA_SSL_CERT_FILE?: string;
  KAFKA_SSL_KEY_FILE?: string;
  KAFKA_SASL_MECHANISM?: SaslMechanism;
  KAFKA_SASL_USERNAME?: string;
  KAFKA_SASL_PASSWORD?: string;
  KAFKA_SASL_PASSWORD_FILE?: string;
}

export type KafkaSecurityKey = keyof KafkaSecuritySettings;

const FILE_KEYS = ['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE', 'KAFKA_SASL_PASSWORD_FILE'] as const;
const SSL_FILE_KEYS = ['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE'] as const;

/**
 * Every conflict between the Kafka security keys, each naming the key to fix: SASL credentials
 * without a mechanism or a mechanism without them, two passwords, a certificate without its key,
 * TLS files without `KAFKA_SSL=true`, `plain` without TLS, and files that cannot be read. Takes
 * the values as parsed so far (a key that failed its own check may still hold its raw string).
 */
export function kafkaSecurityIssues(settings: Partial<Record<KafkaSecurityKey, unknown>>): Issue[] {
  const issues: Issue[] = [];
  const has = (key: KafkaSecurityKey): boolean => typeof settings[key] === 'string' && settings[key] !== '';
  const ssl = settings.KAFKA_SSL === true;

  if (has('KAFKA_SASL_MECHANISM')) {
    if (!has('KAFKA_SASL_USERNAME')) issues.push({ path: 'KAFKA_SASL_USERNAME', message: 'is required when KAFKA_SASL_MECHANISM is set' });
    if (!has('KAFKA_SASL_PASSWORD') && !has('KAFKA_SASL_PASSWORD_FILE')) {
      issues.push({
        path: 'KAFKA_SASL_PASSWORD_FILE',
        message: 'KAFKA_SASL_PASSWORD_FILE (or KAFKA_SASL_PASSWORD) is required when KAFKA_SASL_MECHANISM is set',
      });
    }
    if (settings.KAFKA_SASL_MECHANISM === 'plain' && !ssl) {
      issues.push({ path: 'KAFKA_SASL_MECHANISM', message: 'plain sends the password in clear text: set KAFKA_SSL=true, or use scram-sha-512' });
    }
  } else {
    for (const key of ['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD', 'KAFKA_SASL_PASSWORD_FILE'] as const) {
      if (has(key)) issues.push({ path: key, message: 'is set but KAFKA_SASL_MECHANISM is not (set it, or remove this key)' });
    }
  }
  if (has('KAFKA_SASL_PASSWORD') && has('KAFKA_SASL_PASSWORD_FILE')) {
    issues.push({ path: 'KAFKA_SASL_PASSWORD', message: 'set either KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE, not both' });
  }

  if (has('KAFKA_SSL_CERT_FILE') && !has('KAFKA_SSL_KEY_FILE')) issues.push({ path: 'KAFKA_SSL_KEY_FILE', message: 'is required with KAFKA_SSL_CERT_FILE' });
  if (has('KAFKA_SSL_KEY_FILE') && !has('KAFKA_SSL_CERT_FILE')) issues.push({ path: 'KAFKA_SSL_CERT_FILE', message: 'is required with KAFKA_SSL_KEY_FILE' });
  if (!ssl) {
    for (const key of SSL_FILE_KEYS) if (has(key)) issues.push({ path: key, message: 'is set but KAFKA_SSL is not true (TLS would not be used)' });
  }

  for (const key of FILE_KEYS) {
    if (!has(key)) continue;
    const problem = unreadable(settings[key] as string);
    if (problem) issues.push({ path: key, message: problem });
  }
  return issues;
}

/** Why `path` cannot be used as a secret or certificate file, or undefined if it can. */
function unreadable(path: string): string | undefined {
  try {
    accessSync(path, constants.R_OK);
    const stat = statSync(path);
    if (!stat.isFile()) return `${path} is not a regular file`;
    if (stat.size === 0) return `${path} is empty`;
    return undefined;
  } catch (error) {
    // The error code (ENOENT, EACCES) says what is wrong; the message would repeat the path.
    return `cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
  }
}

/**
 * The cross-key rules of the Kafka security keys as a zod check. Add it to every schema that
 * spreads `commonEnv`: `z.object({ ...commonEnv, ... }).check(kafkaSecurityRules)`. It runs even
 * when other keys are invalid, so one start names every bad key.
 */
export const kafkaSecurityRules = z.superRefine<Partial<Record<KafkaSecurityKey, unknown>>>(
  (value, ctx) => {
    for (const issue of kafkaSecurityIssues(value)) ctx.addIssue({ code: 'custom', path: [issue.path], message: issue.message });
  },
  { when: () => true },
);
