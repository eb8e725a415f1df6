import {
  boolFlag,
  commonEnv,
  coordinatorPublicKeys,
  kafkaSecurityRules,
  messageAgeEnv,
  port,
  postgresUrl,
  requireSigningKey,
  servicePublicKeys,
  signingEnv,
} from '@retention/config';
import { z } from 'zod';
import { approvalsEnv } from './approvals/approval-rules';

const Role = z.enum(['admin', 'requester', 'auditor']);
export type Role = z.infer<typeof Role>;

/** `role:token,role:token`; tokens must be long enough not to be guessed. */
const apiTokens = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean),
  )
  .pipe(
    z
      .array(
        z
          .string()
          .regex(
            new RegExp(`^(${Role.options.join('|')}):\\S{16,}$`),
            `each entry must be role:token with role ${Role.options.join(', ')} and a token of at least 16 characters`,
          )
          .transform((entry) => {
            const i = entry.indexOf(':');
            return { role: entry.slice(0, i) as Role, token: entry.slice(i + 1) };
          }),
      )
      .min(1, 'must contain at least one role:token'),
  );

export const CoordinatorEnv = requireSigningKey(
  z.object({
    ...commonEnv,
    /** The coordinator's Ed25519 key: it signs every command and hold event; services trust its public half. */
    ...signingEnv,
    /**
     * `service:keyId=publicKey,...`: services trusted without an admin's approval (their registration
     * becomes active at once, and their acks are checked with these keys).
     */
    RETENTION_SERVICE_PUBLIC_KEYS: servicePublicKeys.optional(),
    ...messageAgeEnv,
    /** The role the coordinator runs as. With DATABASE_MIGRATIONS_URL it may only INSERT and SELECT the ledger. */
    DATABASE_URL: postgresUrl,
    /**
     * The role that owns the schema and runs the migrations (then grants DATABASE_URL's role what it
     * needs). Unset: DATABASE_URL's role owns everything and the ledger is only tamper-evident.
     */
    DATABASE_MIGRATIONS_URL: postgresUrl.optional(),
    DATABASE_AUTO_CREATE: boolFlag.default(false),
    /** How often the leader signs and publishes a checkpoint of the ledger (when it grew). */
    LEDGER_CHECKPOINT_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
    /**
     * How often the leader verifies the whole ledger (every entry, every checkpoint root), besides the
     * incremental checks: an entry changed in place inside an already signed range is found then.
     */
    LEDGER_FULL_VERIFY_INTERVAL_HOURS: z.coerce.number().min(0.01).max(720).default(24),
    /** `keyId=publicKey,...`: earlier keys of this coordinator whose checkpoints stay trusted (after a rotation). */
    RETENTION_CHECKPOINT_PUBLIC_KEYS: coordinatorPublicKeys.optional(),
    RETENTION_API_TOKENS: apiTokens,
    /** Key of the HMAC that stands for a subject in the ledger. Changing it unlinks past entries. */
    RETENTION_SUBJECT_HMAC_KEY: z.string().min(16, 'must be at least 16 characters'),
    /** Key-encryption key of the command keys (base64url of 32 bytes; every service has it too). */
    RETENTION_COMMAND_KEK: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be base64url of 32 bytes'),
    /** A new command key (subject ids in commands and holds are sealed with it) is drawn when the newest is this old. */
    RETENTION_COMMAND_KEY_ROTATION_SECONDS: z.coerce.number().int().min(1).max(2_592_000).default(86_400),
    /**
     * A command key is destroyed this long after it was drawn: at least the rotation plus the command
     * topic's retention (7 days) plus its segment (1 day), so no retained message outlives its key's use.
     * Default 9 days.
     */
    RETENTION_COMMAND_KEY_LIFETIME_SECONDS: z.coerce.number().int().min(2).max(31_536_000).default(777_600),
    /** A request still not done (pending or failed, not held) this long after it was made forgets its subject id and fails. */
    RETENTION_SUBJECT_ID_MAX_AGE_SECONDS: z.coerce.number().int().min(1).max(31_536_000).default(7_776_000),
    /** Probe every target of a real erasure right after it completes (deletion proof: what is still stored for the subject). */
    RETENTION_PROBE_AFTER_COMPLETION: boolFlag.default(true),
    /** Completed real erasures probed again, picked at random, every RETENTION_PROBE_INTERVAL_SECONDS (0: no sampled probes). */
    RETENTION_PROBE_SAMPLE: z.coerce.number().int().min(0).max(1000).default(20),
    RETENTION_PROBE_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(31_536_000).default(86_400),
    HTTP_HOST: z.string().default('127.0.0.1'),
    HTTP_PORT: port.default(8080),
    /**
     * The coordinator's address as webhook targets reach it (their callback URL is built from it),
     * e.g. https://retention.internal.example.com. Default: http://HTTP_HOST:HTTP_PORT.
     */
    RETENTION_PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
    /** Seconds a webhook delivery may take before it counts as failed (retried with backoff). */
    RETENTION_WEBHOOK_TIMEOUT_SECONDS: z.coerce.number().min(1).max(120).default(10),
    /** An accepted webhook delivery whose result has not come back by callback is sent again after this. */
    RETENTION_WEBHOOK_RESEND_SECONDS: z.coerce.number().int().min(1).max(2_592_000).default(21_600),
    /** PEM file of the CA(s) that webhook endpoints' certificates chain to, beside the system's (a company CA). */
    RETENTION_WEBHOOK_CA_FILE: z.string().min(1).optional(),
    /** Allow plain-http webhook URLs to a loopback host (a local receiver in development and tests). Never in production. */
    RETENTION_WEBHOOK_ALLOW_HTTP_LOOPBACK: boolFlag.default(false),
    /** A request whose headers and body have not all arrived within this is answered 408 (slow or stalled clients). */
    HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
    /** A request not answered within this (a database that does not answer) is answered 503. */
    HTTP_HANDLER_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(60_000),
    /** Days an erasure request may take before it is overdue (GDPR: one month). */
    ERASURE_DEADLINE_DAYS: z.coerce.number().int().min(1).max(90).default(30),
    /**
     * Seconds an erasure waits (`scheduled`, cancellable by its requester) before its command is sent,
     * when the request names no `notBefore`. 0: sent at once.
     */
    RETENTION_ERASURE_GRACE_SECONDS: z.coerce.number().int().min(0).max(2_592_000).default(0),
    /** The latest `notBefore` a request may name, in seconds from its creation (it must also be before its due date). */
    RETENTION_ERASURE_MAX_GRACE_SECONDS: z.coerce.number().int().min(0).max(7_776_000).default(1_209_600),
    /** Four eyes: which actions wait for a second admin (RETENTION_APPROVALS, RETENTION_APPROVAL_BULK_THRESHOLD). */
    ...approvalsEnv,
    /** Hours a sweep may take before it is overdue. */
    SWEEP_DEADLINE_HOURS: z.coerce.number().int().min(1).max(720).default(24),
    /** Cron expression (UTC) of policies that do not name a schedule: nightly at 03:00. */
    SWEEP_DEFAULT_SCHEDULE: z.string().min(9).default('0 3 * * *'),
    /** A scheduled slot missed while no coordinator ran is still run if at most this old. */
    SWEEP_MISFIRE_GRACE_SECONDS: z.coerce.number().int().min(0).max(86_400).default(3600),
    /**
     * New and changed policies run dry only until an admin enables them (POST
     * /v1/services/{name}/policies/{policy}/enable). `true` enables every definition as it registers:
     * for test stacks, never for production data.
     */
    POLICIES_AUTO_ENABLE: boolFlag.default(false),
    /** First redelivery to a target that has not acked; then doubling up to the maximum. */
    RETRY_BASE_SECONDS: z.coerce.number().min(0.1).max(86_400).default(60),
    RETRY_MAX_SECONDS: z.coerce
      .number()
      .min(1)
      .max(604_800)
      .default(6 * 3600),
    RETRY_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(12),
    /** How often the leader replica redelivers, flags overdue requests and schedules sweeps. */
    MAINTENANCE_INTERVAL_MS: z.coerce.number().int().min(50).max(600_000).default(5000),
    INSTANCE_ID: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/)
      .optional(),
  }),
).check(
  kafkaSecurityRules,
  z.superRefine<{
    RETENTION_ERASURE_GRACE_SECONDS?: number;
    RETENTION_ERASURE_MAX_GRACE_SECONDS?: number;
    ERASURE_DEADLINE_DAYS?: number;
    RETENTION_SUBJECT_ID_MAX_AGE_SECONDS?: number;
  }>(
    (value, ctx) => {
      // An erasure released at the end of its grace period must still have its subject id: the
      // age limit counts from the request's creation. (A request's own notBefore is bounded by
      // both limits where it is checked: create-erasure-request.use-case.ts.)
      if ((value.RETENTION_ERASURE_GRACE_SECONDS ?? 0) >= (value.RETENTION_SUBJECT_ID_MAX_AGE_SECONDS ?? 7_776_000)) {
        ctx.addIssue({
          code: 'custom',
          path: ['RETENTION_ERASURE_GRACE_SECONDS'],
          message: 'must be shorter than RETENTION_SUBJECT_ID_MAX_AGE_SECONDS (every scheduled erasure would forget its subject before it is sent)',
        });
      }
      const grace = value.RETENTION_ERASURE_GRACE_SECONDS ?? 0;
      if (grace > (value.RETENTION_ERASURE_MAX_GRACE_SECONDS ?? 1_209_600)) {
        ctx.addIssue({ code: 'custom', path: ['RETENTION_ERASURE_GRACE_SECONDS'], message: 'must not exceed RETENTION_ERASURE_MAX_GRACE_SECONDS' });
      }
      if (grace >= (value.ERASURE_DEADLINE_DAYS ?? 30) * 86_400) {
        ctx.addIssue({ code: 'custom', path: ['RETENTION_ERASURE_GRACE_SECONDS'], message: 'must be shorter than ERASURE_DEADLINE_DAYS' });
      }
    },
    { when: () => true },
  ),
);
export type CoordinatorConfig = z.output<typeof CoordinatorEnv>;
