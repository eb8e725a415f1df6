import { randomUUID } from 'node:crypto';
import { ConflictError, encodeEvent, EventTypes, type Subject, type TopicNames, ValidationError } from '@retention/contracts';
import { currentTraceHeaders } from '@retention/observability';
import { enqueueOutbox } from '@retention/outbox';
import type { DataSource } from 'typeorm';
import { appendLedger } from '../ledger/ledger.repository';
import { servicesStoring } from '../registry/registry.repository';
import { subjectRef } from '../subject-ref';
import { getRequest } from './requests.repository';
import type { RequestView } from './request.views';

export interface CreateErasureRequest {
  subject: Subject;
  reason?: string;
  dryRun: boolean;
  requestedBy: string;
  idempotencyKey?: string;
}

export interface CreateErasureDeps {
  dataSource: DataSource;
  topics: TopicNames;
  hmacKey: string;
  deadlineDays: number;
  /** Called after commit so the outbox relay publishes at once. */
  onQueued: () => void;
  now?: () => Date;
}

/**
 * Records an erasure request, its targets (every registered service that stores the subject
 * type) and its command in one transaction; the outbox relay publishes the command. With the
 * same `Idempotency-Key`, the same request is returned and nothing new is created.
 */
export function createErasureRequestUseCase(deps: CreateErasureDeps) {
  const now = deps.now ?? (() => new Date());
  return async function createErasureRequest(input: CreateErasureRequest): Promise<{ created: boolean; request: RequestView }> {
    const ref = subjectRef(deps.hmacKey, input.subject);
    const result = await deps.dataSource.transaction(async (manager) => {
      if (input.idempotencyKey) {
        // Serialize requests carrying the same key, so two concurrent retries create one request.
        await manager.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`idem:${input.idempotencyKey}`]);
        const [existing] = (await manager.query(`SELECT id, subject_ref, dry_run, kind FROM retention_requests WHERE idempotency_key = $1`, [input.idempotencyKey])) as Array<{
          id: string;
          subject_ref: string | null;
          dry_run: boolean;
          kind: string;
        }>;
        if (existing) {
          if (existing.kind !== 'erasure' || existing.subject_ref !== ref || existing.dry_run !== input.dryRun) {
            throw new ConflictError('Idempotency-Key was already used for a different request');
          }
          return { created: false, id: existing.id };
        }
      }
      const targets = await servicesStoring(manager, input.subject.type);
      if (targets.length === 0) {
        throw new ValidationError('invalid erasure request', [{ path: 'subject.type', message: `no registered service stores subjects of type "${input.subject.type}"` }]);
      }
      const id = randomUUID();
      const createdAt = now();
      const dueAt = new Date(createdAt.getTime() + deps.deadlineDays * 86_400_000);
      const traceHeaders = currentTraceHeaders();
      await manager.query(
        `INSERT INTO retention_requests (id, kind, status, dry_run, subject_type, subject_ref, subject_id, reason, requested_by, idempotency_key, trace_headers, created_at, due_at)
         VALUES ($1, 'erasure', 'pending', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [id, input.dryRun, input.subject.type, ref, input.subject.id, input.reason ?? null, input.requestedBy, input.idempotencyKey ?? null, traceHeaders, createdAt, dueAt],
      );
      await manager.query(
        `INSERT INTO request_targets (request_id, service, status, last_sent_at) SELECT $1, unnest($2::text[]), 'pending', $3`,
        [id, targets, createdAt],
      );
      const { envelope, value } = encodeEvent(
        EventTypes.erasureRequested,
        { requestId: id, subject: input.subject, dryRun: input.dryRun, requestedAt: createdAt.toISOString(), dueAt: dueAt.toISOString(), targets, attempt: 1 },
        { source: '/retention/coordinator', time: createdAt },
      );
      await enqueueOutbox(manager, [{ topic: deps.topics.commands, key: ref, value, headers: traceHeaders }]);
      await appendLedger(
        manager,
        [
          {
            requestId: id,
            type: 'request.created',
            body: { kind: 'erasure', subjectType: input.subject.type, subjectRef: ref, dryRun: input.dryRun, targets, dueAt: dueAt.toISOString(), requestedBy: input.requestedBy, reason: input.reason ?? null },
          },
          { requestId: id, type: 'command.sent', body: { commandId: envelope.id, attempt: 1, targets } },
        ],
        createdAt,
      );
      return { created: true, id };
    });
    if (result.created) deps.onQueued();
    return { created: result.created, request: await getRequest(deps.dataSource, result.id, now()) };
  };
}
