import { randomUUID } from 'node:crypto';
import { type CommandHold, ConflictError, type Issue, type Subject, ValidationError } from '@retention/contracts';
import { currentTraceHeaders } from '@retention/observability';
import type { OutgoingMessage } from '@retention/kafka';
import { enqueueOutbox } from '@retention/outbox';
import type { EntityManager } from 'typeorm';
import { appendLedger, type LedgerEntryInput } from '../ledger/ledger.repository';
import { subjectRef } from '../subject-ref';
import { buildCommand } from './commands';
import type { RequestDeps } from './create-erasure-request.use-case';
import { EXTERNAL_CASE } from './issue-request';

/** One subject of a bulk erasure, with the line it came from (a CSV line, or its place in the call). */
export interface BulkLine {
  line: number;
  subject: Subject;
}

export interface BulkErasure {
  lines: readonly BulkLine[];
  reason?: string;
  dryRun: boolean;
  requestedBy: string;
  /** The call's key: line `n` is idempotent under `${key}#${n}`. */
  idempotencyKey?: string;
}

export interface BulkLineResult {
  line: number;
  id: string;
  /** false: this line was accepted before (same key and line). */
  created: boolean;
}

/** The idempotency key of one line of a call made with `key`. */
export const lineKey = (key: string, line: number): string => `${key}#${line}`;

/**
 * Records many erasure requests in the caller's transaction, as {@link issueRequest} records one:
 * each its own row (subject id sealed), its targets, its command in the outbox and its two ledger
 * entries (`request.created`, `command.sent`), but with one multi-row statement per table instead
 * of one round trip per row. A line whose key (`${idempotencyKey}#${line}`) was accepted before is
 * not created again: it answers with the existing request (or 409 if that was another subject).
 */
export async function issueErasuresBulk(manager: EntityManager, input: BulkErasure, deps: RequestDeps, now: Date): Promise<BulkLineResult[]> {
  const keyOf = (line: number): string | null => (input.idempotencyKey ? lineKey(input.idempotencyKey, line) : null);
  const refs = input.lines.map((l) => subjectRef(deps.hmacKey, l.subject));
  const existing = new Map<string, { id: string; subject_ref: string | null; dry_run: boolean; kind: string }>();
  if (input.idempotencyKey) {
    // Calls with the same key from the same caller are serialized: a retried call creates nothing twice.
    await manager.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`idem-bulk:${input.requestedBy}:${input.idempotencyKey}`]);
    const rows = (await manager.query(
      `SELECT id, subject_ref, dry_run, kind, idempotency_key FROM retention_requests WHERE requested_by = $1 AND idempotency_key = ANY($2::text[])`,
      [input.requestedBy, input.lines.map((l) => keyOf(l.line))],
    )) as Array<{ id: string; subject_ref: string | null; dry_run: boolean; kind: string; idempotency_key: string }>;
    for (const r of rows) existing.set(r.idempotency_key, r);
  }
  const conflicts: number[] = [];
  const fresh: Array<{ index: number; line: BulkLine; ref: string }> = [];
  input.lines.forEach((line, index) => {
    const key = keyOf(line.line);
    const before = key ? existing.get(key) : undefined;
    if (!before) return fresh.push({ index, line, ref: refs[index]! });
    if (before.kind !== 'erasure' || before.subject_ref !== refs[index] || before.dry_run !== input.dryRun) conflicts.push(line.line);
  });
  if (conflicts.length > 0) {
    throw new ConflictError(
      `Idempotency-Key lines already used for a different request: ${conflicts.slice(0, 20).join(', ')}${conflicts.length > 20 ? ` and ${conflicts.length - 20} more` : ''}`,
    );
  }

  // Targets per subject type: every active service that stores it.
  const types = [...new Set(fresh.map((f) => f.line.subject.type))];
  const typeRows = (await manager.query(
    `SELECT t AS type, array_remove(array_agg(s.service ORDER BY s.service), NULL) AS services
     FROM unnest($1::text[]) t LEFT JOIN registered_services s ON s.status = 'active' AND t = ANY(s.subject_types) GROUP BY t`,
    [types],
  )) as Array<{ type: string; services: string[] }>;
  const targetsOf = new Map(typeRows.map((r) => [r.type, r.services]));
  const unknown: Issue[] = fresh
    .filter((f) => (targetsOf.get(f.line.subject.type) ?? []).length === 0)
    .slice(0, 20)
    .map((f) => ({ path: `items.${f.index}.subject.type`, message: `no registered service stores subjects of type "${f.line.subject.type}"` }));
  if (unknown.length > 0) throw new ValidationError('invalid bulk erasure', unknown);

  const results: BulkLineResult[] = input.lines.map((l) => {
    const key = keyOf(l.line);
    const before = key ? existing.get(key) : undefined;
    return { line: l.line, id: before?.id ?? '', created: !before };
  });
  if (fresh.length === 0) return results;

  // Subject holds in force, for every new subject at once.
  const holdRows = (await manager.query(
    `SELECT subject_ref, id, service FROM legal_holds
     WHERE scope = 'subject' AND subject_ref = ANY($1::text[]) AND released_at IS NULL AND (expires_at IS NULL OR expires_at > now())`,
    [[...new Set(fresh.map((f) => f.ref))]],
  )) as Array<{ subject_ref: string; id: string; service: string | null }>;
  const holdsOf = new Map<string, CommandHold[]>();
  for (const h of holdRows) {
    const list = holdsOf.get(h.subject_ref) ?? [];
    list.push({ holdId: h.id, scope: 'subject', ...(h.service ? { service: h.service } : {}) });
    holdsOf.set(h.subject_ref, list);
  }

  const createdAt = now;
  const dueAt = new Date(createdAt.getTime() + deps.deadlineDays * 86_400_000);
  const firstRetryAt = new Date(createdAt.getTime() + deps.retryBaseSeconds * 1000);
  // The configured grace period applies to each request as to a single one: `scheduled` until then
  // (release-scheduled.ts sends it), cancellable meanwhile; nothing is sent now.
  const graceMs = (deps.graceSeconds ?? 0) * 1000;
  const notBefore = graceMs > 0 ? new Date(createdAt.getTime() + graceMs) : null;
  const traceHeaders = currentTraceHeaders();
  const commandKey = notBefore ? undefined : await deps.privacy.commandKeys.current(manager, createdAt);
  const reasonRef = input.reason === undefined ? null : deps.privacy.reasonRef(input.reason);
  const rows = fresh.map((f) => {
    const id = randomUUID();
    results[f.index]!.id = id;
    return { id, subject: f.line.subject, ref: f.ref, key: keyOf(f.line.line), holds: holdsOf.get(f.ref) ?? [], targets: targetsOf.get(f.line.subject.type)! };
  });

  await manager.query(
    `INSERT INTO retention_requests (id, kind, status, dry_run, subject_type, subject_ref, subject_id, reason, requested_by, idempotency_key,
       trace_headers, created_at, due_at, hold_snapshot, not_before)
     SELECT r.id, 'erasure', $13, $1, r.subject_type, r.subject_ref, r.subject_id, $2, $3, r.idempotency_key, $4::jsonb, $5, $6, r.holds::jsonb, $14
     FROM unnest($7::uuid[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[]) AS r(id, subject_type, subject_ref, subject_id, idempotency_key, holds)`,
    [
      input.dryRun,
      input.reason ?? null,
      input.requestedBy,
      JSON.stringify(traceHeaders),
      createdAt,
      dueAt,
      rows.map((r) => r.id),
      rows.map((r) => r.subject.type),
      rows.map((r) => r.ref),
      rows.map((r) => deps.privacy.vault.seal('request', r.id, r.subject.id)),
      rows.map((r) => r.key),
      rows.map((r) => JSON.stringify(r.holds)),
      notBefore ? 'scheduled' : 'pending',
      notBefore,
    ],
  );
  const targetIds = rows.flatMap((r) => r.targets.map(() => r.id));
  const targetServices = rows.flatMap((r) => r.targets);
  // Scheduled targets: nothing sent yet, no attempt, no redelivery time.
  await manager.query(
    `INSERT INTO request_targets (request_id, service, status, attempts, last_sent_at, next_attempt_at)
     SELECT t.request_id, t.service, $5, CASE WHEN $4::timestamptz IS NULL THEN 0 ELSE ${EXTERNAL_CASE('0', '1')} END, $3,
       CASE WHEN $4::timestamptz IS NULL THEN NULL ELSE ${EXTERNAL_CASE('$3::timestamptz', '$4::timestamptz')} END
     FROM unnest($1::uuid[], $2::text[]) AS t(request_id, service)`,
    // A webhook or manual target has no attempt yet and is due at once (deliver-external.ts).
    [targetIds, targetServices, createdAt, notBefore ? null : firstRetryAt, notBefore ? 'scheduled' : 'pending'],
  );

  const ledger: LedgerEntryInput[] = [];
  const messages: OutgoingMessage[] = [];
  for (const r of rows) {
    const created: LedgerEntryInput = {
      requestId: r.id,
      type: 'request.created',
      body: {
        kind: 'erasure',
        dryRun: input.dryRun,
        subjectType: r.subject.type,
        subjectRef: r.ref,
        service: null,
        policy: null,
        asOf: null,
        targets: r.targets,
        dueAt: dueAt.toISOString(),
        requestedBy: input.requestedBy,
        reasonRef,
        holds: r.holds.map((h) => h.holdId),
        ...(notBefore ? { notBefore: notBefore.toISOString() } : {}),
      },
    };
    if (notBefore) {
      ledger.push(created);
      continue;
    }
    const { commandId, message } = buildCommand(
      {
        id: r.id,
        kind: 'erasure',
        dryRun: input.dryRun,
        subjectType: r.subject.type,
        subjectId: r.subject.id,
        subjectRef: r.ref,
        serviceFilter: null,
        policyFilter: null,
        asOf: null,
        createdAt,
        dueAt,
        holds: r.holds,
        traceHeaders,
      },
      r.targets,
      1,
      deps.topics,
      createdAt,
      commandKey,
    );
    ledger.push(created, { requestId: r.id, type: 'command.sent', body: { commandId, attempt: 1, targets: r.targets } });
    messages.push(message);
  }
  await enqueueOutbox(manager, messages);
  await appendLedger(manager, ledger, createdAt);
  return results;
}
