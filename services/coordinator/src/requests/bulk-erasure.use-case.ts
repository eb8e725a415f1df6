import { createHash } from 'node:crypto';
import { TransientError, ValidationError } from '@retention/contracts';
import { BULK_MAX_SUBJECTS, type ApprovalSettings } from '../approvals/approval-rules';
import { TooManySubjectsError } from '../approvals/approval-errors';
import type { ApprovalsService, ApprovalView } from '../approvals/approvals.service';
import { subjectRef } from '../subject-ref';
import type { AwaitingApproval } from '../sweeps/request-sweep.use-case';
import type { RequestDeps } from './create-erasure-request.use-case';
import { type BulkErasure, type BulkLineResult, issueErasuresBulk } from './issue-erasures-bulk';

/** A bulk call's answer: every line with its request id, or the approval it waits for. */
export type BulkOutcome = { status: 'accepted'; created: number; existing: number; items: BulkLineResult[] } | AwaitingApproval;

/** How an approval is answered to the caller who asked for it. */
export const awaiting = (approval: ApprovalView): AwaitingApproval => ({
  id: approval.id,
  status: 'awaiting_approval',
  approval: approval as unknown as Record<string, unknown>,
});

/**
 * Many erasure requests in one call (at most {@link BULK_MAX_SUBJECTS}), in one transaction, each
 * line idempotent under the call's key and its line number. With the `bulk` approval rule, a call
 * of more than the threshold's subjects is stored (sealed) and waits for a second admin instead.
 */
export function bulkErasureUseCase(deps: RequestDeps & { approvals: ApprovalsService; settings: ApprovalSettings; maxBacklog: number }) {
  const now = deps.now ?? (() => new Date());
  return async function submitBulk(input: BulkErasure): Promise<BulkOutcome> {
    if (input.lines.length > BULK_MAX_SUBJECTS) {
      throw new TooManySubjectsError(
        `a bulk call takes at most ${BULK_MAX_SUBJECTS} subjects (this one has ${input.lines.length}); send them in several calls`,
      );
    }
    const seen = new Map<number, number>();
    const repeated = input.lines.flatMap((l, i) => {
      const first = seen.get(l.line);
      seen.set(l.line, i);
      return first === undefined ? [] : [{ path: `items.${i}.line`, message: `line ${l.line} appears twice (also items.${first}.line)` }];
    });
    if (repeated.length > 0) throw new ValidationError('invalid bulk erasure', repeated.slice(0, 20));

    if (deps.settings.rules.has('bulk') && input.lines.length > deps.settings.bulkThreshold) {
      // One approval per call content: a CLI sends every chunk of a file with one key, and each chunk
      // is its own approval (the same chunk again finds its approval; other lines never do).
      const approvalKey = input.idempotencyKey ? `${input.idempotencyKey}#${chunkDigest(input, deps.hmacKey)}` : undefined;
      return deps.dataSource.transaction(async (manager) => {
        if (approvalKey) {
          await manager.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`idem-bulk:${input.requestedBy}:${approvalKey}`]);
          const before = await deps.approvals.byKey(manager, input.requestedBy, approvalKey);
          if (before) return awaitingOrDone(before);
        }
        const types = [...new Set(input.lines.map((l) => l.subject.type))];
        const stored = (await manager.query(
          `SELECT DISTINCT t FROM unnest($1::text[]) t JOIN registered_services s ON s.status = 'active' AND t = ANY(s.subject_types)`,
          [types],
        )) as Array<{ t: string }>;
        const unknown = types.filter((t) => !stored.some((s) => s.t === t));
        if (unknown.length > 0) {
          throw new ValidationError(
            'invalid bulk erasure',
            unknown.map((t) => ({
              path: `items.${input.lines.findIndex((l) => l.subject.type === t)}.subject.type`,
              message: `no registered service stores subjects of type "${t}"`,
            })),
          );
        }
        const subjectTypes: Record<string, number> = {};
        for (const l of input.lines) subjectTypes[l.subject.type] = (subjectTypes[l.subject.type] ?? 0) + 1;
        const approval = await deps.approvals.ask(manager, {
          kind: 'bulk_erasure',
          action: {
            subjects: input.lines.length,
            subjectTypes,
            dryRun: input.dryRun,
            ...(input.reason === undefined ? {} : { reason: input.reason }),
            // The call's own key: the approved lines are idempotent under `<key>#<line>` like an ungated call's.
            ...(input.idempotencyKey === undefined ? {} : { idempotencyKey: input.idempotencyKey }),
          },
          requestedBy: input.requestedBy,
          idempotencyKey: approvalKey,
          subjects: input.lines.map((l) => ({ ...l, ref: subjectRef(deps.hmacKey, l.subject) })),
        });
        return awaiting(approval);
      });
    }

    // Backpressure: commands leave the outbox in order, so a bulk call never piles up more than
    // `maxBacklog` of them ahead of other work (the caller retries after Retry-After; lines are idempotent).
    const [backlog] = (await deps.dataSource.query(`SELECT count(*)::int AS n FROM retention_outbox WHERE parked_at IS NULL`)) as Array<{ n: number }>;
    if ((backlog?.n ?? 0) > deps.maxBacklog) {
      throw new TransientError(
        `${backlog!.n} commands wait to be published (RETENTION_BULK_MAX_BACKLOG ${deps.maxBacklog}); send this call again after Retry-After`,
      );
    }
    const items = await deps.dataSource.transaction((manager) => issueErasuresBulk(manager, input, deps, now()));
    const created = items.filter((i) => i.created).length;
    if (created > 0) deps.onQueued();
    return { status: 'accepted', created, existing: items.length - created, items };
  };
}

/** A call repeated with the key of an approval it made: the approval, or what approving it did. */
function awaitingOrDone(approval: ApprovalView): BulkOutcome {
  if (approval.status === 'approved' && Array.isArray(approval.result?.items)) {
    const items = (approval.result.items as Array<{ line: number; id: string }>).map((i) => ({ ...i, created: false }));
    return { status: 'accepted', created: 0, existing: items.length, items };
  }
  return awaiting(approval);
}

/** Lines and their subjects (by keyed subject ref, never the id), in line order, as one short digest. */
function chunkDigest(input: BulkErasure, hmacKey: string): string {
  const lines = [...input.lines].sort((a, b) => a.line - b.line);
  const digest = createHash('sha256')
    .update(JSON.stringify([input.dryRun, lines.map((l) => [l.line, subjectRef(hmacKey, l.subject)])]))
    .digest('hex')
    .slice(0, 32);
  return `${lines[0]?.line ?? 0}-${lines.at(-1)?.line ?? 0}:${digest}`;
}
