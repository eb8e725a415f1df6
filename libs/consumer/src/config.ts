import {
  boolFlag,
  commonEnv,
  coordinatorPublicKeys,
  kafkaSecurityRules,
  messageAgeEnv,
  port,
  postgresUrl,
  requireSigningKey,
  signingEnv,
} from '@retention/config';
import { z } from 'zod';

/** Environment of a domain service; every key is documented in libs/consumer/README.md. */
export const ServiceEnv = requireSigningKey(
  z.object({
    ...commonEnv,
    /** This service's Ed25519 key: it signs its acks, registrations and dead letters. */
    ...signingEnv,
    /** The coordinator's public keys (`keyId=publicKey,...`): only commands and holds they signed are applied. */
    RETENTION_COORDINATOR_PUBLIC_KEYS: coordinatorPublicKeys,
    ...messageAgeEnv,
    /** The service's own database. */
    DATABASE_URL: postgresUrl,
    /** Create the database when it does not exist (local stacks). */
    DATABASE_AUTO_CREATE: boolFlag.default(false),
    /** Key-encryption key of the command keys (base64url of 32 bytes, the coordinator's too): opens the subject ids of commands and holds. */
    RETENTION_COMMAND_KEK: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be base64url of 32 bytes'),
    /** Key of the `hash` anonymization strategy; keep it secret and stable. */
    RETENTION_HASH_KEY: z.string().min(16, 'must be at least 16 characters'),
    /** Secret the deletion journal's key derives from (default: RETENTION_HASH_KEY); keep it stable: a new one cannot match older entries. */
    RETENTION_JOURNAL_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
    HTTP_HOST: z.string().default('127.0.0.1'),
    /** Port of /metrics, /healthz, /readyz (0 = any free port). */
    HTTP_PORT: port.default(0),
    /** Distinguishes instances of one service (defaults to a random id per process). */
    INSTANCE_ID: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/)
      .optional(),
    /** Absolute directory that file columns and directory policies are relative to. */
    RETENTION_FILES_ROOT: z
      .string()
      .refine((p) => p.startsWith('/'), 'must be an absolute path')
      .optional(),
    /** Insert the service's demo data into an empty database at start (local stacks only). */
    DEMO_DATA: boolFlag.default(false),
    /** Kafka consumer session timeout: how fast the group notices a dead instance. */
    KAFKA_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6000).max(300_000).default(30_000),
    /** Partitions of the command topic processed at once by this instance. */
    RETENTION_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(1),
    /** Tries of a command after a retriable failure (counted since its last committed batch); then it acks `failed`. */
    RETENTION_RETRY_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(5),
    /** Time budget for those tries, from the first failure since the last committed batch. */
    RETENTION_RETRY_MAX_SECONDS: z.coerce.number().int().min(1).max(86_400).default(120),
    /** First delay between tries; doubles on each, up to 30 s. */
    RETENTION_RETRY_BACKOFF_MS: z.coerce.number().int().min(1).max(60_000).default(500),
    /** How long a job waits for rows other transactions hold locked before it acks `failed` (`rows_locked`). */
    RETENTION_LOCK_WAIT_SECONDS: z.coerce.number().int().min(1).max(86_400).default(300),
    /** Longest pause between passes over locked rows (starts at 50 ms, doubles). */
    RETENTION_LOCK_BACKOFF_MAX_MS: z.coerce.number().int().min(1).max(60_000).default(5_000),
    /** Retention periods shorter than this are refused at start (each policy named): a floor against a policy that deletes almost at once. */
    RETENTION_MIN_PERIOD_DAYS: z.coerce.number().int().min(1).max(36500).default(1),
  }),
).check(kafkaSecurityRules);
export type ServiceConfig = z.output<typeof ServiceEnv>;
