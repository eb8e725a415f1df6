import { KafkaClientEnv, loadConfig } from '@retention/config';
import { type KafkaSecurity, kafkaSecurityFromConfig } from '@retention/kafka';
import { Kafka, logLevel } from 'kafkajs';

/** The variables of a secured cluster (see the root README, Configuration), passed on to the bench's children. */
const SECURITY_KEYS = [
  'KAFKA_SSL',
  'KAFKA_SSL_CA_FILE',
  'KAFKA_SSL_CERT_FILE',
  'KAFKA_SSL_KEY_FILE',
  'KAFKA_SASL_MECHANISM',
  'KAFKA_SASL_USERNAME',
  'KAFKA_SASL_PASSWORD',
  'KAFKA_SASL_PASSWORD_FILE',
] as const;

let security: KafkaSecurity | undefined;

/**
 * TLS/SASL settings from the bench's own environment, checked and read once (a bad combination
 * stops the bench with every key named). The bench creates and deletes topics: on a secured
 * cluster give it an administrator's login.
 */
export function benchKafkaSecurity(): KafkaSecurity {
  security ??= kafkaSecurityFromConfig(loadConfig(KafkaClientEnv));
  return security;
}

/** The same settings as environment variables, for the processes the bench starts. */
export function benchKafkaSecurityEnv(): Record<string, string> {
  benchKafkaSecurity();
  return Object.fromEntries(SECURITY_KEYS.flatMap((key) => (process.env[key] ? [[key, process.env[key]!]] : [])));
}

/** A kafkajs client of the bench (or of one of its baseline workers), secured like the platform's. */
export function benchKafka(brokers: string[], clientId: string, level: logLevel = logLevel.NOTHING): Kafka {
  const { ssl, sasl } = benchKafkaSecurity();
  return new Kafka({ clientId, brokers, logLevel: level, ...(ssl ? { ssl } : {}), ...(sasl ? { sasl } : {}) });
}
