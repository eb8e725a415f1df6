import { z } from 'zod';
import { kafkaSecurityRules, SaslMechanisms } from './kafka-security';

/** Comma-separated `host:port` list. */
export const brokerList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().regex(/^[^:\s]+:\d{1,5}$/, 'must be host:port')).min(1, 'must name at least one broker'));

export const postgresUrl = z.string().refine((s) => /^postgres(ql)?:\/\//.test(s), 'must be a postgres:// URL');

export const port = z.coerce.number().int().min(0).max(65535);

export const boolFlag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

export const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** Settings every process of the platform shares. */
export const commonEnv = {
  KAFKA_BROKERS: brokerList.default(['127.0.0.1:19092']),
  KAFKA_CLIENT_ID: z.string().min(1).optional(),
  /** Prefix for every topic name (per environment, or per test). */
  RETENTION_TOPIC_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._-]*$/, 'may contain letters, digits, dot, dash, underscore')
    .default(''),
  LOG_LEVEL: logLevel.default('info'),
  /**
   * Create the platform's missing topics at start (default). `false`: the process needs no
   * CreateTopics right; it checks that its topics exist and stops naming the missing ones (they are
   * made beforehand by `retention topics apply`).
   */
  RETENTION_CREATE_TOPICS: boolFlag.default(true),
  /** Partitions of the command and ack topics when they are created: the most instances of one service that work at once. */
  RETENTION_TOPIC_PARTITIONS: z.coerce.number().int().min(1).max(1000).default(6),
  /** Replication factor of the topics when they are created; -1 = the brokers' default.replication.factor. */
  RETENTION_TOPIC_REPLICATION_FACTOR: z.coerce
    .number()
    .int()
    .refine((n) => n === -1 || (n >= 1 && n <= 32), "must be -1 (the brokers' default) or 1 to 32")
    .default(-1),
  /** Host of the metrics port (METRICS_PORT). */
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /**
   * A port of its own for /metrics (and /healthz, /readyz), apart from the API or ops port (0 =
   * any free port). Unset: /metrics stays on HTTP_PORT, as before.
   */
  METRICS_PORT: port.optional(),
  /** How often gauges that query the database are recomputed (a scrape reads the last values, never the database). */
  METRICS_REFRESH_SECONDS: z.coerce.number().min(1).max(3600).default(15),
  /** Apply pending database migrations at start (default). `false`: the process needs no DDL rights; it stops naming any pending migration (`retention migrate` applies them). */
  DATABASE_MIGRATE: boolFlag.default(true),
  /** OTLP/HTTP endpoint for traces; unset = tracing off. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  // How the process reaches the brokers. The rules between these keys (a mechanism needs a user
  // and a password, a certificate its key, ...) are `kafkaSecurityRules`: add it to the schema.
  /** Connect over TLS; the broker's certificate is always verified (KAFKA_SSL_CA_FILE, else the system CAs). */
  KAFKA_SSL: boolFlag.default(false),
  /** PEM file of the CA(s) that signed the brokers' certificates. */
  KAFKA_SSL_CA_FILE: z.string().min(1).optional(),
  /** PEM client certificate (mutual TLS); needs KAFKA_SSL_KEY_FILE. */
  KAFKA_SSL_CERT_FILE: z.string().min(1).optional(),
  /** PEM private key (unencrypted) of the client certificate; needs KAFKA_SSL_CERT_FILE. */
  KAFKA_SSL_KEY_FILE: z.string().min(1).optional(),
  /** `plain` (only with KAFKA_SSL), `scram-sha-256` or `scram-sha-512`; unset = no SASL. */
  KAFKA_SASL_MECHANISM: z.enum(SaslMechanisms, `must be one of ${SaslMechanisms.join(', ')}`).optional(),
  KAFKA_SASL_USERNAME: z.string().min(1).optional(),
  /** The password itself; prefer KAFKA_SASL_PASSWORD_FILE, which keeps it out of the environment. */
  KAFKA_SASL_PASSWORD: z.string().min(1).optional(),
  /** File holding the SASL password (read once at start; a trailing newline is ignored). */
  KAFKA_SASL_PASSWORD_FILE: z.string().min(1).optional(),
};

/** The keys a bare Kafka client needs (benchmarks, tools), with the rules between them. */
export const KafkaClientEnv = z
  .object({
    KAFKA_BROKERS: commonEnv.KAFKA_BROKERS,
    KAFKA_CLIENT_ID: commonEnv.KAFKA_CLIENT_ID,
    KAFKA_SSL: commonEnv.KAFKA_SSL,
    KAFKA_SSL_CA_FILE: commonEnv.KAFKA_SSL_CA_FILE,
    KAFKA_SSL_CERT_FILE: commonEnv.KAFKA_SSL_CERT_FILE,
    KAFKA_SSL_KEY_FILE: commonEnv.KAFKA_SSL_KEY_FILE,
    KAFKA_SASL_MECHANISM: commonEnv.KAFKA_SASL_MECHANISM,
    KAFKA_SASL_USERNAME: commonEnv.KAFKA_SASL_USERNAME,
    KAFKA_SASL_PASSWORD: commonEnv.KAFKA_SASL_PASSWORD,
    KAFKA_SASL_PASSWORD_FILE: commonEnv.KAFKA_SASL_PASSWORD_FILE,
  })
  .check(kafkaSecurityRules);
