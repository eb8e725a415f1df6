import { randomUUID } from 'node:crypto';
import { ConflictError, NotFoundError } from '@retention/contracts';
import type { DataSource, EntityManager } from 'typeorm';
import { appendLedger } from '../ledger/ledger.repository';
import type { CoordinatorPrivacy } from '../privacy/coordinator-privacy';
import type { BulkLine } from '../requests/issue-erasures-bulk';
import { SelfApprovalError } from './approval-errors';

export type ApprovalKind = 'sweep' | 'bulk_erasure' | 'hold_release';
export type ApprovalStatus = 'pending' | 'approved' | 'rejected';

export interface ApprovalView {
  id: string;
  kind: ApprovalKind;
  status: ApprovalStatus;
  /** What will be done once approved (a bulk erasure: how many subjects of which types, never their ids). */
  action: Record<string, unknown>;
  requestedBy: string;
  requestedAt: string;
  decidedBy: string | null;
  decidedAt: string | null;
  note: string | null;
  /** What approving did (the sweep's id, the bulk erasure's request ids, the released hold). */
  result: Record<string, unknown> | null;
}

interface ApprovalRow {
  id: string;
  kind: ApprovalKind;
  status: ApprovalStatus;
  action: Record<string, unknown>;
  requested_by: string;
  requested_at: Date;
  idempotency_key: string | null;
  decided_by: string | null;
  decided_at: Date | null;
  note: string | null;
  result: Record<string, unknown> | null;
}

/** A pending approval, as handed to the code that carries it out. */
export interface ApprovedAction {
  id: string;
  action: Record<string, unknown>;
  requestedBy: string;
  idempotencyKey: string | null;
  /** A bulk erasure's subjects, opened (they are sealed at rest). */
  lines(): Promise<BulkLine[]>;
}

/** What each kind of approval does once approved, in the approval's transaction. */
export type ApprovalExecutors = Record<ApprovalKind, (manager: EntityManager, approved: ApprovedAction, at: Date) => Promise<Record<string, unknown>>>;

const toView = (r: ApprovalRow): ApprovalView => ({
  id: r.id,
  kind: r.kind,
  status: r.status,
  action: r.action,
  requestedBy: r.requested_by,
  requestedAt: new Date(r.requested_at).toISOString(),
  decidedBy: r.decided_by,
  decidedAt: r.decided_at ? new Date(r.decided_at).toISOString() : null,
  note: r.note,
  result: r.result,
});

/** The `action` as the ledger records it: a free-text reason only by its HMAC. */
function ledgerAction(action: Record<string, unknown>, privacy: CoordinatorPrivacy): Record<string, unknown> {
  const { reason, ...rest } = action;
  return { ...rest, reasonRef: typeof reason === 'string' ? privacy.reasonRef(reason) : null };
}

/**
 * Four eyes: actions a rule holds back wait here, recorded in the ledger (`approval.requested`),
 * until an admin other than the one who asked approves them (`approval.approved`: the action is
 * carried out in the same transaction) or rejects them (`approval.rejected`: nothing is sent). A
 * caller is identified by its token's non-secret name (role and SHA-256 prefix, as `requestedBy`).
 */
export function createApprovalsService(deps: {
  dataSource: DataSource;
  privacy: CoordinatorPrivacy;
  executors: ApprovalExecutors;
  onQueued: () => void;
  now?: () => Date;
}) {
  const now = deps.now ?? (() => new Date());

  /** Records a pending approval in the caller's transaction. */
  async function ask(
    manager: EntityManager,
    input: {
      kind: ApprovalKind;
      action: Record<string, unknown>;
      requestedBy: string;
      idempotencyKey?: string;
      subjects?: readonly (BulkLine & { ref: string })[];
    },
  ): Promise<ApprovalView> {
    const id = randomUUID();
    const at = now();
    await manager.query(
      `INSERT INTO approvals (id, kind, status, action, requested_by, requested_at, idempotency_key) VALUES ($1, $2, 'pending', $3, $4, $5, $6)`,
      [id, input.kind, JSON.stringify(input.action), input.requestedBy, at, input.idempotencyKey ?? null],
    );
    const subjects = input.subjects ?? [];
    if (subjects.length > 0) {
      await manager.query(
        `INSERT INTO approval_subjects (approval_id, line, subject_type, subject_ref, subject_id)
         SELECT $1, s.line, s.subject_type, s.subject_ref, s.subject_id FROM unnest($2::int[], $3::text[], $4::text[], $5::text[]) AS s(line, subject_type, subject_ref, subject_id)`,
        [
          id,
          subjects.map((s) => s.line),
          subjects.map((s) => s.subject.type),
          subjects.map((s) => s.ref),
          subjects.map((s) => deps.privacy.vault.seal('approval', `${id}:${s.line}`, s.subject.id)),
        ],
      );
    }
    await appendLedger(
      manager,
      [
        {
          requestId: null,
          type: 'approval.requested',
          body: { approvalId: id, kind: input.kind, requestedBy: input.requestedBy, action: ledgerAction(input.action, deps.privacy) },
        },
      ],
      at,
    );
    const [row] = (await manager.query(`SELECT * FROM approvals WHERE id = $1`, [id])) as ApprovalRow[];
    return toView(row!);
  }

  /** A pending approval of `kind` whose action has `field` = `value` (so the same action is not asked twice). */
  async function pendingFor(manager: EntityManager, kind: ApprovalKind, field: string, value: string): Promise<ApprovalView | undefined> {
    const [row] = (await manager.query(`SELECT * FROM approvals WHERE kind = $1 AND status = 'pending' AND action->>$2 = $3 ORDER BY requested_at LIMIT 1`, [
      kind,
      field,
      value,
    ])) as ApprovalRow[];
    return row ? toView(row) : undefined;
  }

  /** The approval a caller asked for with `idempotencyKey`, if any. */
  async function byKey(manager: EntityManager, requestedBy: string, idempotencyKey: string): Promise<ApprovalView | undefined> {
    const [row] = (await manager.query(`SELECT * FROM approvals WHERE requested_by = $1 AND idempotency_key = $2`, [
      requestedBy,
      idempotencyKey,
    ])) as ApprovalRow[];
    return row ? toView(row) : undefined;
  }

  async function decide(id: string, by: string, decision: 'approved' | 'rejected', note: string | undefined): Promise<ApprovalView> {
    const at = now();
    const view = await deps.dataSource.transaction(async (manager) => {
      const [row] = (await manager.query(`SELECT * FROM approvals WHERE id = $1 FOR UPDATE`, [id])) as ApprovalRow[];
      if (!row) throw new NotFoundError(`approval ${id} does not exist`);
      if (row.status !== 'pending') throw new ConflictError(`approval ${id} is already ${row.status} (by ${row.decided_by ?? 'nobody'})`);
      if (row.requested_by === by) {
        throw new SelfApprovalError(
          `approval ${id} was asked for by this token (${by}); another admin token must ${decision === 'approved' ? 'approve' : 'reject'} it`,
        );
      }
      let result: Record<string, unknown> | null = null;
      if (decision === 'approved') {
        result = await deps.executors[row.kind](
          manager,
          {
            id,
            action: row.action,
            requestedBy: row.requested_by,
            idempotencyKey: row.idempotency_key,
            lines: async () => {
              const lines = (await manager.query(`SELECT line, subject_type, subject_id FROM approval_subjects WHERE approval_id = $1 ORDER BY line`, [
                id,
              ])) as Array<{
                line: number;
                subject_type: string;
                subject_id: string;
              }>;
              return lines.map((l) => ({
                line: l.line,
                subject: { type: l.subject_type, id: deps.privacy.vault.open('approval', `${id}:${l.line}`, l.subject_id)! },
              }));
            },
          },
          at,
        );
      }
      // The subjects waited only for this decision; the reason text stays only by its HMAC (the ledger's).
      await manager.query(`DELETE FROM approval_subjects WHERE approval_id = $1`, [id]);
      const [updated] = (await manager.query(
        `UPDATE approvals SET status = $2, decided_by = $3, decided_at = $4, note = $5, result = $6, action = action - 'reason' WHERE id = $1 RETURNING *`,
        [id, decision, by, at, note ?? null, result === null ? null : JSON.stringify(result)],
      )) as [ApprovalRow[], number];
      await appendLedger(
        manager,
        [
          {
            requestId: typeof result?.requestId === 'string' ? result.requestId : null,
            type: decision === 'approved' ? 'approval.approved' : 'approval.rejected',
            body: {
              approvalId: id,
              kind: row.kind,
              requestedBy: row.requested_by,
              requestedAt: new Date(row.requested_at).toISOString(),
              [decision === 'approved' ? 'approvedBy' : 'rejectedBy']: by,
              noteRef: note === undefined ? null : deps.privacy.reasonRef(note),
              ...(result ? { result: ledgerResult(result) } : {}),
            },
          },
        ],
        at,
      );
      return toView(updated[0]!);
    });
    if (decision === 'approved') deps.onQueued();
    return view;
  }

  /**
   * Pending approvals asked for before `askedBefore` expire (RETENTION_SUBJECT_ID_MAX_AGE_SECONDS,
   * as an open request forgets its subject): rejected by `expired`, a bulk erasure's sealed ids
   * deleted, `approval.rejected` with `expired: true` in the ledger. Nothing is sent. Returns how many.
   */
  async function expire(askedBefore: Date, at: Date): Promise<number> {
    return deps.dataSource.transaction(async (manager) => {
      const [rows] = (await manager.query(
        `UPDATE approvals SET status = 'rejected', decided_by = 'expired', decided_at = $2, action = action - 'reason'
         WHERE status = 'pending' AND requested_at < $1 RETURNING id, kind, requested_by, requested_at`,
        [askedBefore, at],
      )) as [Array<{ id: string; kind: ApprovalKind; requested_by: string; requested_at: Date }>, number];
      if (rows.length === 0) return 0;
      await manager.query(`DELETE FROM approval_subjects WHERE approval_id = ANY($1::uuid[])`, [rows.map((r) => r.id)]);
      await appendLedger(
        manager,
        rows.map((r) => ({
          requestId: null,
          type: 'approval.rejected' as const,
          body: {
            approvalId: r.id,
            kind: r.kind,
            requestedBy: r.requested_by,
            requestedAt: new Date(r.requested_at).toISOString(),
            rejectedBy: 'expired',
            expired: true,
            noteRef: null,
          },
        })),
        at,
      );
      return rows.length;
    });
  }

  async function get(id: string): Promise<ApprovalView> {
    const [row] = (await deps.dataSource.query(`SELECT * FROM approvals WHERE id = $1`, [id])) as ApprovalRow[];
    if (!row) throw new NotFoundError(`approval ${id} does not exist`);
    return toView(row);
  }

  async function list(filter: { status?: ApprovalStatus; limit: number }): Promise<ApprovalView[]> {
    const rows = (await deps.dataSource.query(`SELECT * FROM approvals WHERE ($1::text IS NULL OR status = $1) ORDER BY requested_at DESC, id DESC LIMIT $2`, [
      filter.status ?? null,
      filter.limit,
    ])) as ApprovalRow[];
    return rows.map(toView);
  }

  return {
    ask,
    expire,
    pendingFor,
    byKey,
    get,
    list,
    approve: (id: string, by: string, note?: string) => decide(id, by, 'approved', note),
    reject: (id: string, by: string, note?: string) => decide(id, by, 'rejected', note),
  };
}

export type ApprovalsService = ReturnType<typeof createApprovalsService>;

/** The result as the ledger records it: a bulk erasure's request ids are in their own entries, so only their count. */
function ledgerResult(result: Record<string, unknown>): Record<string, unknown> {
  const { items, ...rest } = result;
  return Array.isArray(items) ? { ...rest, requests: items.length } : rest;
}
