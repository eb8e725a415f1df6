import { z } from 'zod';
import { SealedValue } from './subject-seal';

/** Names of services, policies, tables and subject types: safe to log and to use as metric labels. */
/**
 * An Ed25519 public key as unpadded base64url in its one canonical spelling: 32 bytes are 43
 * characters whose last carries 2 unused bits, which must be zero (else four spellings would name one
 * key, and a comparison of the text could be fooled).
 */
export const CANONICAL_PUBLIC_KEY = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

export const ServiceName = z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and dashes, starting with a letter');
export const PolicyName = z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'must be lowercase letters, digits and underscores, starting with a letter');
export const SubjectType = z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'must be lowercase letters, digits and underscores, starting with a letter');
export const Identifier = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lowercase SQL identifier');

export const Subject = z.object({
  type: SubjectType,
  id: z.string().min(1, 'must not be empty').max(256, 'must be at most 256 characters'),
});
export type Subject = z.infer<typeof Subject>;

const Timestamp = z.iso.datetime({ offset: true });
const RequestId = z.uuid();

export const AckStatus = z.enum(['completed', 'failed', 'held', 'not_applicable']);
export type AckStatus = z.infer<typeof AckStatus>;

export const Action = z.enum(['delete', 'anonymize', 'archive']);
export type Action = z.infer<typeof Action>;

/**
 * A legal hold in force when the coordinator issued a command. Services treat the holds listed in a
 * command as binding even before their replica of the holds topic has caught up: holds win races.
 */
export const CommandHold = z.object({
  holdId: z.string().min(1).max(128),
  scope: z.enum(['subject', 'policy']),
  /** For policy holds: the policy held. */
  policy: PolicyName.optional(),
  /** The hold applies to this service only; absent = every service. */
  service: ServiceName.optional(),
});
export type CommandHold = z.infer<typeof CommandHold>;

/** `erasure.requested` v1: erase everything a service stores about one subject. */
export const ErasureRequestedV1 = z.object({
  requestId: RequestId,
  subject: Subject,
  dryRun: z.boolean().default(false),
  requestedAt: Timestamp,
  dueAt: Timestamp,
  /** The services that must act; a service not listed ignores the command. Empty = every service. */
  targets: z.array(ServiceName).default([]),
  /** 1 for the first publication, incremented on each redelivery by the coordinator. */
  attempt: z.int().min(1).default(1),
  /** Subject holds in force at the coordinator when the request was made. */
  holds: z.array(CommandHold).default([]),
});

/** The subject of a 2.x message: its type in clear, its id sealed with a command key (see subject-seal.ts). */
export const SealedSubject = z.object({ type: SubjectType, sealedId: SealedValue });
export type SealedSubject = z.infer<typeof SealedSubject>;

/**
 * `erasure.requested` v2: as v1, with the subject id sealed (`subject.sealedId`, associated data
 * `retention-subject-v1:erasure:<requestId>:<subject.type>`). A major version: a 1.x reader needs
 * `subject.id`. 2.x readers also accept 1.x messages (an id in clear, from an older coordinator).
 */
export const ErasureRequestedV2 = ErasureRequestedV1.extend({ subject: SealedSubject });
/** An erasure command as handlers see it: its subject id opened. */
export type ErasureRequested = z.infer<typeof ErasureRequestedV1>;
/** An erasure command as it travels (2.x: sealed id; 1.x, from an older coordinator: id in clear). */
export type SealedErasureRequested = z.infer<typeof ErasureRequestedV2> | z.infer<typeof ErasureRequestedV1>;

/**
 * A policy a real sweep may run, as the coordinator's admin enabled it: `definitionHash` is the
 * manifest policy's own (absent when the manifest gave none).
 */
export const SweepDefinition = z.object({
  service: ServiceName,
  policy: PolicyName,
  definitionHash: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
});
export type SweepDefinition = z.infer<typeof SweepDefinition>;

/** `sweep.requested` v1: run retention policies now. */
export const SweepRequestedV1 = z.object({
  requestId: RequestId,
  /** Restrict to one service; absent = every target. */
  service: ServiceName.optional(),
  /** Restrict to one policy of the service(s); absent = all policies. */
  policy: PolicyName.optional(),
  dryRun: z.boolean().default(false),
  requestedAt: Timestamp,
  /** The instant the retention cutoffs are computed from (usually `requestedAt`). */
  asOf: Timestamp,
  targets: z.array(ServiceName).default([]),
  attempt: z.int().min(1).default(1),
  /** Policy holds in force at the coordinator when the sweep was requested. */
  holds: z.array(CommandHold).default([]),
  /**
   * Since 1.1, in a real sweep: every policy it may run, per target, with the definition an admin
   * enabled. A service runs nothing for real unless each policy it would run is listed with its
   * current definition (else it acks `failed`, `policy_not_enabled`): a rule the coordinator has
   * not seen, or one changed since it was enabled, never runs for real. Absent (1.0, or a dry run):
   * no such check.
   */
  definitions: z.array(SweepDefinition).max(10_000).optional(),
});
export type SweepRequested = z.infer<typeof SweepRequestedV1>;

export const TableResult = z.object({
  table: Identifier,
  policy: PolicyName.optional(),
  action: Action,
  matched: z.int().min(0),
  deleted: z.int().min(0),
  anonymized: z.int().min(0),
  archived: z.int().min(0),
  held: z.int().min(0),
  /**
   * A sweep of a table range-partitioned on its timestamp: partitions wholly before the cutoff that
   * were dropped, detached into the archive table, or kept because a row in them is held (their
   * other rows are deleted in batches). In a dry run: what would be. Their rows are in the counts.
   */
  partitions: z
    .object({ dropped: z.array(Identifier).max(10_000), detached: z.array(Identifier).max(10_000), kept: z.array(Identifier).max(10_000) })
    .optional(),
});
export type TableResult = z.infer<typeof TableResult>;

export const AckError = z.object({
  code: z.string().max(64),
  message: z.string().max(2000),
  retriable: z.boolean(),
});

/**
 * HMAC-SHA256 (hex) of `<subject type>:<subject id>` under a service's journal key (derived from
 * its RETENTION_HASH_KEY): the only form in which a service remembers whom it erased.
 */
export const SubjectHash = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits (HMAC-SHA256)');

/** `ack` v1: what one service did for one command. */
export const AckV1 = z.object({
  requestId: RequestId,
  /** The CloudEvent id of the command this acknowledges (one request may be delivered several times). */
  commandId: z.string().min(1).max(128),
  kind: z.enum(['erasure', 'sweep']),
  service: ServiceName,
  status: AckStatus,
  dryRun: z.boolean(),
  startedAt: Timestamp,
  finishedAt: Timestamp,
  tables: z.array(TableResult).default([]),
  /** Legal holds that kept records from being changed. */
  holdIds: z.array(z.string().min(1).max(128)).default([]),
  /** Why `held` / `not_applicable` / `failed`: never contains a subject identifier. */
  reason: z.string().max(2000).optional(),
  error: AckError.optional(),
  /** Hash of the policies the service applied (its manifest's `policyHash`). */
  policyHash: z.string().max(128).optional(),
  /**
   * Since 1.1, in the ack of a completed real erasure: the keyed hash of the subject the service
   * wrote to its deletion journal ({@link SubjectHash}), never the id. The coordinator keeps it per
   * target, to probe and to replay the erasure without the raw id.
   */
  subjectHash: SubjectHash.optional(),
});
export type Ack = z.infer<typeof AckV1>;

/** One erased subject a probe asks about: by request id, never by id. */
export const ProbeItem = z.object({
  requestId: RequestId,
  subjectType: SubjectType,
  /** The keyed hash the service sent in its ack, for a service whose journal lost the entry (a restore). */
  subjectHash: SubjectHash.optional(),
});
export type ProbeItem = z.infer<typeof ProbeItem>;

/**
 * `probe.requested` v1: count what is still stored for subjects whose erasure completed. A service
 * finds each subject by the keyed hash in its deletion journal (or the one carried here), counts the
 * rows of its subject tables still linked to it, and answers with `probe.result` on the ack topic.
 * It changes nothing. Services that do not know this type dead-letter it (unsupported type).
 */
export const ProbeRequestedV1 = z.object({
  probeId: RequestId,
  requestedAt: Timestamp,
  /** The services that must answer (one per command as the coordinator sends them). */
  targets: z.array(ServiceName).min(1).max(100),
  /** Why: right after completion, a scheduled random sample of past erasures, or an operator. */
  trigger: z.enum(['completion', 'sample', 'manual']),
  items: z.array(ProbeItem).min(1).max(1000),
});
export type ProbeRequested = z.infer<typeof ProbeRequestedV1>;

export const ProbeItemStatus = z.enum(['clean', 'found', 'held', 'not_applicable', 'unknown']);
export type ProbeItemStatus = z.infer<typeof ProbeItemStatus>;

/** `probe.result` v1, on the ack topic keyed by probe id: what one service still stores per subject. */
export const ProbeResultV1 = z.object({
  probeId: RequestId,
  service: ServiceName,
  startedAt: Timestamp,
  finishedAt: Timestamp,
  policyHash: z.string().max(128).optional(),
  items: z
    .array(
      z.object({
        requestId: RequestId,
        /**
         * `clean`: nothing links to the subject; `found`: rows not under a hold still link to it (an
         * under-deletion); `held`: only rows kept by a legal hold; `not_applicable`: the service stores
         * no data of that subject type; `unknown`: neither the journal nor the probe had its hash.
         */
        status: ProbeItemStatus,
        remaining: z.int().min(0),
        held: z.int().min(0),
        tables: z.array(z.object({ table: Identifier, remaining: z.int().min(0), held: z.int().min(0) })).max(1000),
      }),
    )
    .max(1000),
});
export type ProbeResult = z.infer<typeof ProbeResultV1>;

/**
 * `replay.requested` v1: re-apply completed erasures after the service's database was restored from
 * a backup. Carries, per erasure the service acked since `since`, the keyed hash it sent in that
 * ack (the restore took the journal back too, so the service may not have it any more). The service
 * skips what its journal still has, finds the rest by hash, erases again and journals them.
 */
export const ReplayRequestedV1 = z.object({
  replayId: RequestId,
  requestedAt: Timestamp,
  targets: z.array(ServiceName).min(1).max(100),
  /** The backup's time, as the operator gave it: erasures acked since then are listed. */
  since: Timestamp,
  items: z
    .array(ProbeItem.extend({ subjectHash: SubjectHash }))
    .min(1)
    .max(1000),
});
export type ReplayRequested = z.infer<typeof ReplayRequestedV1>;

export const ReplayItemStatus = z.enum(['reapplied', 'already_journaled', 'nothing_left', 'held', 'not_applicable', 'failed']);
export type ReplayItemStatus = z.infer<typeof ReplayItemStatus>;

/** `replay.result` v1, on the ack topic keyed by replay id: what re-applying each erasure did. */
export const ReplayResultV1 = z.object({
  replayId: RequestId,
  service: ServiceName,
  startedAt: Timestamp,
  finishedAt: Timestamp,
  items: z
    .array(
      z.object({
        requestId: RequestId,
        /**
         * `reapplied`: rows linked to the subject were found and erased again; `already_journaled`: the
         * restored journal still has it (the backup was taken after it); `nothing_left`: no row links to
         * it (journaled again); `held`: a legal hold keeps rows (counted in `tables`); `not_applicable`:
         * no data of that type here; `failed`: see `error`.
         */
        status: ReplayItemStatus,
        tables: z.array(TableResult).max(1000).default([]),
        error: AckError.optional(),
      }),
    )
    .max(1000),
});
export type ReplayResult = z.infer<typeof ReplayResultV1>;

export const HoldScope = z.enum(['subject', 'policy', 'record']);
export type HoldScope = z.infer<typeof HoldScope>;

/**
 * The fields each hold scope needs. The decoders check them (superRefine below) and the AsyncAPI
 * document states them (`if`/`then` per scope, attached with `.meta`), both from this table.
 */
const HOLD_SCOPE_FIELDS = { subject: ['subject'], policy: ['policy'], record: ['table', 'recordKey'] } as const satisfies Record<HoldScope, readonly string[]>;

function requireScopeFields(h: { scope: HoldScope } & Partial<Record<string, unknown>>, ctx: z.RefinementCtx): void {
  const missing = HOLD_SCOPE_FIELDS[h.scope].filter((field) => h[field] === undefined);
  if (missing.length === 0) return;
  const message = h.scope === 'record' ? 'table and recordKey are required for a record hold' : `required for a ${h.scope} hold`;
  ctx.addIssue({ code: 'custom', path: [missing[0]!], message });
}

const holdScopeJsonSchema = {
  allOf: Object.entries(HOLD_SCOPE_FIELDS).map(([scope, fields]) => ({
    if: { properties: { scope: { const: scope } }, required: ['scope'] },
    then: { required: [...fields] },
  })),
};

/**
 * `hold.placed` v1, on the compacted holds topic keyed by hold id; a tombstone (null value)
 * releases the hold. A subject hold carries the subject id: the service must match its rows.
 */
export const HoldPlacedV1 = z
  .object({
    holdId: z.string().min(1).max(128),
    scope: HoldScope,
    subject: Subject.optional(),
    /** Restrict the hold to one service; absent = every service. */
    service: ServiceName.optional(),
    policy: PolicyName.optional(),
    table: Identifier.optional(),
    recordKey: z.string().min(1).max(256).optional(),
    reason: z.string().min(1).max(2000),
    placedBy: z.string().min(1).max(256),
    placedAt: Timestamp,
    expiresAt: Timestamp.optional(),
  })
  .superRefine(requireScopeFields)
  .meta(holdScopeJsonSchema);

/**
 * `hold.placed` v2: the subject id sealed like a command's (associated data
 * `retention-subject-v1:hold:<holdId>:<subject.type>`; the coordinator re-publishes an active hold
 * under each new command key), and no free-text reason: `reasonRef` is the HMAC of the reason the
 * coordinator keeps in an erasable table. 2.x readers also accept 1.x holds.
 */
export const HoldPlacedV2 = z
  .object({
    ...HoldPlacedV1.shape,
    subject: SealedSubject.optional(),
    // `not: {}`: the document says what the decoder does (JSON Schema has no `undefined`).
    reason: z.undefined({ error: 'a 2.x hold carries no reason text (reasonRef)' }).optional().meta({ not: {} }),
    /** HMAC-SHA256 (hex) of the reason, which only the coordinator's erasable table holds. */
    reasonRef: z.string().regex(/^[0-9a-f]{64}$/),
  })
  .superRefine(requireScopeFields)
  .meta(holdScopeJsonSchema);
/** A hold as a service's replica stores it: its subject id opened, no reason text. */
export type HoldPlaced = Omit<z.infer<typeof HoldPlacedV1>, 'reason'> & { reason?: string; reasonRef?: string };
/** A hold as it travels (2.x: sealed id, reason as HMAC; 1.x, from an older coordinator: id and reason in clear). */
export type SealedHoldPlaced = z.infer<typeof HoldPlacedV2> | z.infer<typeof HoldPlacedV1>;

export const ConditionOperator = z.enum(['eq', 'neq', 'in', 'not_in', 'is_null', 'is_not_null', 'lt', 'lte', 'gt', 'gte']);
export type ConditionOperator = z.infer<typeof ConditionOperator>;

export const ConditionValue = z.union([z.string(), z.number(), z.boolean(), z.array(z.union([z.string(), z.number()]))]);

export const Condition = z.object({
  column: Identifier,
  op: ConditionOperator,
  value: ConditionValue.optional(),
});
export type Condition = z.infer<typeof Condition>;

export const ManifestPolicy = z.object({
  name: PolicyName,
  table: Identifier,
  timestampColumn: Identifier,
  /** ISO 8601 period, e.g. `P90D`, `P13M`, `P7Y`: rows older than this (by `timestampColumn`) are due. */
  period: z.string().regex(/^P(?=\d)(\d+Y)?(\d+M)?(\d+D)?$/, 'must be an ISO 8601 period of years, months and days, e.g. P90D'),
  action: Action,
  legalBasis: z.string().min(1).max(500),
  conditions: z.array(Condition).default([]),
  /** Cron expression (UTC) for the scheduled sweep; absent = the coordinator's default. */
  schedule: z.string().max(100).optional(),
  /** Set for a directory policy: files (by modification time) instead of table rows. */
  directory: z.object({ path: z.string().max(500), suffixes: z.array(z.string().max(21)) }).optional(),
  /**
   * SHA-256 of the whole rule as the service applies it (per-record columns, anonymization,
   * markers, files, archive table… not only the fields above): a change to any of them is a new
   * definition, which runs dry until an admin enables it.
   */
  definitionHash: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
});
export type ManifestPolicy = z.infer<typeof ManifestPolicy>;

export const ManifestSubject = z.object({
  type: SubjectType,
  tables: z.array(z.object({ table: Identifier, column: Identifier, action: z.enum(['delete', 'anonymize']) })).min(1),
});

/** `service.registered` v1, on the compacted registry topic keyed by service name. */
export const ServiceRegisteredV1 = z.object({
  service: ServiceName,
  version: z.string().min(1).max(64),
  subjects: z.array(ManifestSubject).default([]),
  policies: z.array(ManifestPolicy).default([]),
  policyHash: z.string().min(1).max(128),
  publishedAt: Timestamp,
  /**
   * The key this service signs its acks and registrations with. The coordinator trusts it only once
   * an admin approved the registration, or when its own configuration already names it.
   */
  signingKey: z
    .object({
      keyId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/),
      publicKey: z.string().regex(CANONICAL_PUBLIC_KEY, 'must be the canonical base64url of 32 bytes'),
    })
    .optional(),
  /**
   * The consumer group that reads the command topic for this service, so the coordinator can see
   * whether it is behind; absent = the SDK's `retention.<service>` (with the topic prefix).
   */
  consumerGroup: z.string().min(1).max(255).optional(),
  /**
   * Since 1.3: the service's deletion journal as it starts (entries, newest `erased_at`). The
   * coordinator compares it with the erasures the service acked (with a keyed hash) before
   * `publishedAt`: fewer entries than that means the database was restored from a backup (or
   * lost), and the coordinator replays the erasures acked since the newest entry.
   */
  journal: z.object({ entries: z.int().min(0), lastErasedAt: Timestamp.optional() }).optional(),
});
export type ServiceRegistered = z.infer<typeof ServiceRegisteredV1>;

/** `dead-letter` v1: a message a consumer could not process, with the reason. */
export const DeadLetterV1 = z.object({
  consumer: z.string().min(1).max(128),
  reason: z.object({ code: z.string(), message: z.string() }),
  topic: z.string(),
  partition: z.int().min(0),
  offset: z.string(),
  /**
   * Always null since 1.1: a dead letter never copies the message's bytes (they may hold personal
   * data); `refs`, `payloadBytes` and `payloadSha256` identify it, and `topic`/`partition`/`offset`
   * find the original while its topic retains it. 1.0 writers put the value here.
   */
  payload: z.string().nullable(),
  /** Identifiers read from the message when it was JSON (each only if it has an identifier's shape). */
  refs: z
    .object({
      eventId: z.string().max(128).optional(),
      eventType: z.string().max(128).optional(),
      requestId: z.string().max(128).optional(),
      commandId: z.string().max(128).optional(),
      holdId: z.string().max(128).optional(),
      service: z.string().max(63).optional(),
    })
    .optional(),
  payloadBytes: z.int().min(0).optional(),
  /** SHA-256 (hex) of the original value; null for a message without one. */
  payloadSha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .nullable()
    .optional(),
  failedAt: Timestamp,
});
export type DeadLetter = z.infer<typeof DeadLetterV1>;
