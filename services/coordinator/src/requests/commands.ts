import { type CommandHold, commandSubjectAad, encodeEvent, EventTypes, sealWith, type SweepDefinition, type TopicNames } from '@retention/contracts';
import type { OutgoingMessage } from '@retention/kafka';
import type { CommandKeyHandle } from '../privacy/command-keys';
import type { SubjectVault } from '../privacy/subject-vault';

/**
 * What the coordinator stores of a request that it needs to (re)issue its command. `subjectId` is
 * the raw id, opened from its sealed form by {@link toStoredRequest}; it exists only in memory.
 */
export interface StoredRequest {
  id: string;
  kind: 'erasure' | 'sweep';
  dryRun: boolean;
  subjectType: string | null;
  subjectId: string | null;
  subjectRef: string | null;
  serviceFilter: string | null;
  policyFilter: string | null;
  asOf: Date | null;
  createdAt: Date;
  dueAt: Date;
  holds: CommandHold[];
  traceHeaders: Record<string, string>;
  /** A real sweep's enabled policy definitions (sweep.requested 1.1 `definitions`); null otherwise. */
  definitions?: SweepDefinition[] | null;
}

/**
 * The command for `targets`, as an outbox message, and its CloudEvent id. An erasure's subject id is
 * sealed with `commandKey` (the current command key: `privacy.commandKeys.current`), bound to the
 * request: erasure.requested 2.0.
 */
export function buildCommand(
  request: StoredRequest,
  targets: string[],
  attempt: number,
  topics: TopicNames,
  now: Date,
  commandKey?: CommandKeyHandle,
): { commandId: string; message: OutgoingMessage } {
  const source = { source: '/retention/coordinator', time: now };
  if (request.kind === 'erasure') {
    if (!request.subjectType || !request.subjectId || !request.subjectRef) throw new TypeError(`erasure request ${request.id} has no subject to deliver`);
    if (!commandKey) throw new TypeError(`erasure request ${request.id}: no command key to seal its subject with`);
    const { envelope, value } = encodeEvent(
      EventTypes.erasureRequested,
      {
        requestId: request.id,
        subject: { type: request.subjectType, sealedId: sealWith(commandKey, request.subjectId, commandSubjectAad(request.id, request.subjectType)) },
        dryRun: request.dryRun,
        requestedAt: request.createdAt.toISOString(),
        dueAt: request.dueAt.toISOString(),
        targets,
        attempt,
        holds: request.holds,
      },
      source,
    );
    // Keyed by the subject's hash: every command for one subject lands on one partition, in order.
    return { commandId: envelope.id, message: { topic: topics.commands, key: request.subjectRef, value, headers: request.traceHeaders } };
  }
  const { envelope, value } = encodeEvent(
    EventTypes.sweepRequested,
    {
      requestId: request.id,
      ...(request.serviceFilter ? { service: request.serviceFilter } : {}),
      ...(request.policyFilter ? { policy: request.policyFilter } : {}),
      dryRun: request.dryRun,
      requestedAt: request.createdAt.toISOString(),
      // Never a future instant, whatever the stored row says: services refuse one (cutoff_in_future).
      asOf: earliest(request.asOf ?? request.createdAt, now).toISOString(),
      targets,
      attempt,
      holds: request.holds,
      ...(request.definitions ? { definitions: request.definitions } : {}),
    },
    source,
  );
  return {
    commandId: envelope.id,
    message: { topic: topics.commands, key: `sweep:${request.serviceFilter ?? '*'}:${request.policyFilter ?? '*'}`, value, headers: request.traceHeaders },
  };
}

interface RequestRow {
  id: string;
  kind: 'erasure' | 'sweep';
  dry_run: boolean;
  subject_type: string | null;
  subject_id: string | null;
  subject_ref: string | null;
  service_filter: string | null;
  policy_filter: string | null;
  as_of: Date | null;
  created_at: Date;
  due_at: Date;
  hold_snapshot: CommandHold[];
  trace_headers: Record<string, string>;
  sweep_definitions?: SweepDefinition[] | null;
}

export const STORED_REQUEST_COLUMNS =
  'id, kind, dry_run, subject_type, subject_id, subject_ref, service_filter, policy_filter, as_of, created_at, due_at, hold_snapshot, trace_headers, sweep_definitions';

/** A stored request with its subject id opened (it is sealed at rest: `vault.seal('request', id, subjectId)`). */
export function toStoredRequest(r: RequestRow, vault: SubjectVault): StoredRequest {
  return {
    id: r.id,
    kind: r.kind,
    dryRun: r.dry_run,
    subjectType: r.subject_type,
    subjectId: vault.open('request', r.id, r.subject_id),
    subjectRef: r.subject_ref,
    serviceFilter: r.service_filter,
    policyFilter: r.policy_filter,
    asOf: r.as_of ? new Date(r.as_of) : null,
    createdAt: new Date(r.created_at),
    dueAt: new Date(r.due_at),
    holds: r.hold_snapshot,
    traceHeaders: r.trace_headers,
    definitions: r.sweep_definitions ?? null,
  };
}

function earliest(a: Date, b: Date): Date {
  return a.getTime() <= b.getTime() ? a : b;
}
