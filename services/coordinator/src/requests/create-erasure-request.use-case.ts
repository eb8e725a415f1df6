import { randomUUID } from 'node:crypto';
import { ConflictError, type Subject, type TopicNames, ValidationError } from '@retention/contracts';
import type { DataSource } from 'typeorm';
import { activeSubjectHolds } from '../holds/legal-holds.service';
import type { CoordinatorPrivacy } from '../privacy/coordinator-privacy';
import { servicesStoring } from '../registry/registry.repository';
import { subjectRef } from '../subject-ref';
import { issueRequest } from './issue-request';
import { getRequest } from './requests.repository';
import type { RequestView } from './request.views';

export interface CreateErasureRequest {
  subject: Subject;
  reason?: string;
  dryRun: boolean;
  requestedBy: string;
  idempotencyKey?: string;
  /** Send it no earlier than this (a grace period during which it may be cancelled). */
  notBefore?: Date;
}

export interface RequestDeps {
  dataSource: DataSource;
  topics: TopicNames;
  hmacKey: string;
  /** Seals subject ids (at rest and in commands) and names reasons by their HMAC. */
  privacy: CoordinatorPrivacy;
  deadlineDays: number;
  /** Delay before the first redelivery to a target that has not acked. */
  retryBaseSeconds: number;
  /** Grace period of a request that names no `notBefore` (0: sent at once). */
  graceSeconds?: number;
  /** The latest `notBefore`, in seconds after the request is made. */
  maxGraceSeconds?: number;
  /** Called after commit so the outbox relay publishes at once. */
  onQueued: () => void;
  now?: () => Date;
}

/**
 * Records an erasure request, its targets (every registered service that stores the subject
 * type), the subject holds in force and its command, in one transaction; the outbox relay
 * publishes the command. With the same `Idempotency-Key` from the same caller (`requestedBy`), the
 * same request is returned; another caller's key is never looked at.
 */
export function createErasureRequestUseCase(deps: RequestDeps) {
  const now = deps.now ?? (() => new Date());
  return async function createErasureRequest(input: CreateErasureRequest): Promise<{ created: boolean; request: RequestView }> {
    const ref = subjectRef(deps.hmacKey, input.subject);
    const result = await deps.dataSource.transaction(async (manager) => {
      if (input.idempotencyKey) {
        // A key is the caller's own: the same key from another token is another request. Requests
        // carrying the same key from the same caller are serialized, so two concurrent retries create one.
        await manager.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`idem:${input.requestedBy}:${input.idempotencyKey}`]);
        const [existing] = (await manager.query(
          `SELECT id, subject_ref, dry_run, kind FROM retention_requests WHERE requested_by = $1 AND idempotency_key = $2`,
          [input.requestedBy, input.idempotencyKey],
        )) as Array<{
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
        throw new ValidationError('invalid erasure request', [
          { path: 'subject.type', message: `no registered service stores subjects of type "${input.subject.type}"` },
        ]);
      }
      const id = randomUUID();
      const createdAt = now();
      const dueAt = new Date(createdAt.getTime() + deps.deadlineDays * 86_400_000);
      const notBefore = graceUntil(input.notBefore, createdAt, dueAt, deps);
      await issueRequest(
        manager,
        {
          id,
          kind: 'erasure',
          dryRun: input.dryRun,
          subjectType: input.subject.type,
          subjectId: input.subject.id,
          subjectRef: ref,
          serviceFilter: null,
          policyFilter: null,
          asOf: null,
          createdAt,
          dueAt,
          notBefore,
          holds: await activeSubjectHolds(manager, ref),
          targets,
          reason: input.reason ?? null,
          requestedBy: input.requestedBy,
          idempotencyKey: input.idempotencyKey ?? null,
          firstRetryAt: new Date(createdAt.getTime() + deps.retryBaseSeconds * 1000),
        },
        deps.topics,
        deps.privacy,
      );
      return { created: true, id };
    });
    if (result.created) deps.onQueued();
    return { created: result.created, request: await getRequest(deps.dataSource, result.id, now()) };
  };
}

/**
 * When a new erasure may be sent: `null` for at once (no grace, or a `notBefore` already past),
 * else the instant it waits for. A `notBefore` later than the maximum grace, or not before the due
 * date (the deadline runs from the request, grace included), is refused.
 */
export function graceUntil(requested: Date | undefined, createdAt: Date, dueAt: Date, o: Pick<RequestDeps, 'graceSeconds' | 'maxGraceSeconds'>): Date | null {
  const at = requested ?? new Date(createdAt.getTime() + (o.graceSeconds ?? 0) * 1000);
  if (at.getTime() <= createdAt.getTime()) return null;
  const max = o.maxGraceSeconds ?? 0;
  if (at.getTime() > createdAt.getTime() + max * 1000) {
    throw new ValidationError('invalid erasure request', [
      { path: 'notBefore', message: `must be at most ${max} seconds from now (RETENTION_ERASURE_MAX_GRACE_SECONDS)` },
    ]);
  }
  if (at.getTime() >= dueAt.getTime()) {
    throw new ValidationError('invalid erasure request', [{ path: 'notBefore', message: `must be before the request's due date (${dueAt.toISOString()})` }]);
  }
  return at;
}
