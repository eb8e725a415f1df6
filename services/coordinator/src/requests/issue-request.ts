import type { TopicNames } from '@retention/contracts';
import { currentTraceHeaders } from '@retention/observability';
import { enqueueOutbox } from '@retention/outbox';
import type { EntityManager } from 'typeorm';
import { appendLedger, type LedgerEntryInput } from '../ledger/ledger.repository';
import type { CoordinatorPrivacy } from '../privacy/coordinator-privacy';
import { buildCommand, type StoredRequest } from './commands';

/** `external` for a webhook or manual target, `kafka` otherwise, as SQL over a row `t` with a `service` column. */
export const EXTERNAL_CASE = (external: string, kafka: string): string =>
  `CASE WHEN EXISTS (SELECT 1 FROM registered_services s WHERE s.service = t.service AND s.target_kind <> 'kafka') THEN ${external} ELSE ${kafka} END`;

export interface IssueRequest extends Omit<StoredRequest, 'traceHeaders'> {
  targets: string[];
  reason: string | null;
  requestedBy: string;
  idempotencyKey: string | null;
  /** First redelivery of a target that has not acked. */
  firstRetryAt: Date;
  /**
   * An erasure's grace period: when set, nothing is sent now; the request is `scheduled` until then
   * (release-scheduled.ts sends it) and may be cancelled meanwhile.
   */
  notBefore?: Date | null;
}

/**
 * Records a request with its targets, its command in the outbox and its ledger entries, in the
 * caller's transaction: either all of it exists, or none. The subject id is stored sealed, the
 * command carries it sealed with the current command key, and the ledger names the reason by its
 * HMAC only (the text stays in the row, which is erased).
 */
export async function issueRequest(manager: EntityManager, r: IssueRequest, topics: TopicNames, privacy: CoordinatorPrivacy): Promise<void> {
  const traceHeaders = currentTraceHeaders();
  const scheduled = Boolean(r.notBefore);
  await manager.query(
    `INSERT INTO retention_requests (id, kind, status, dry_run, subject_type, subject_ref, subject_id, service_filter, policy_filter, as_of, reason,
       requested_by, idempotency_key, trace_headers, created_at, due_at, hold_snapshot, not_before)
     VALUES ($1, $2, $17, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $18)`,
    [
      r.id,
      r.kind,
      r.dryRun,
      r.subjectType,
      r.subjectRef,
      r.subjectId === null ? null : privacy.vault.seal('request', r.id, r.subjectId),
      r.serviceFilter,
      r.policyFilter,
      r.asOf,
      r.reason,
      r.requestedBy,
      r.idempotencyKey,
      traceHeaders,
      r.createdAt,
      r.dueAt,
      JSON.stringify(r.holds),
      scheduled ? 'scheduled' : 'pending',
      r.notBefore ?? null,
    ],
  );
  if (scheduled) {
    // Nothing sent yet: no attempt, no redelivery time.
    await manager.query(
      `INSERT INTO request_targets (request_id, service, status, attempts, last_sent_at, next_attempt_at) SELECT $1, unnest($2::text[]), 'scheduled', 0, $3, NULL`,
      [r.id, r.targets, r.createdAt],
    );
  } else {
    // A webhook or manual target was not reached by the Kafka command: no attempt yet, due at once
    // (deliver-external.ts). A Kafka target's first attempt is the command in the outbox.
    await manager.query(
      `INSERT INTO request_targets (request_id, service, status, attempts, last_sent_at, next_attempt_at)
       SELECT $1, t.service, 'pending', ${EXTERNAL_CASE('0', '1')}, $3, ${EXTERNAL_CASE('$3::timestamptz', '$4::timestamptz')}
       FROM unnest($2::text[]) AS t(service)`,
      [r.id, r.targets, r.createdAt, r.firstRetryAt],
    );
  }
  const created: LedgerEntryInput = {
    requestId: r.id,
    type: 'request.created',
    body: {
      kind: r.kind,
      dryRun: r.dryRun,
      subjectType: r.subjectType,
      subjectRef: r.subjectRef,
      service: r.serviceFilter,
      policy: r.policyFilter,
      asOf: r.asOf?.toISOString() ?? null,
      targets: r.targets,
      dueAt: r.dueAt.toISOString(),
      requestedBy: r.requestedBy,
      reasonRef: r.reason === null ? null : privacy.reasonRef(r.reason),
      holds: r.holds.map((h) => h.holdId),
      ...(scheduled ? { notBefore: r.notBefore!.toISOString() } : {}),
    },
  };
  if (scheduled) {
    await appendLedger(manager, [created], r.createdAt);
    return;
  }
  const commandKey = r.kind === 'erasure' ? await privacy.commandKeys.current(manager, r.createdAt) : undefined;
  const { commandId, message } = buildCommand({ ...r, traceHeaders }, r.targets, 1, topics, r.createdAt, commandKey);
  await enqueueOutbox(manager, [message]);
  await appendLedger(manager, [created, { requestId: r.id, type: 'command.sent', body: { commandId, attempt: 1, targets: r.targets } }], r.createdAt);
}
