import { ConflictError, ForbiddenError, NotFoundError } from '@retention/contracts';
import type { DataSource } from 'typeorm';
import { appendLedger } from '../ledger/ledger.repository';

export interface CancelBy {
  /** The caller's principal name. */
  name: string;
  /** An admin may cancel anyone's request; a requester only the ones it made. */
  admin: boolean;
}

/**
 * Cancels an erasure still in its grace period (`scheduled`): it and its targets become
 * `cancelled`, its subject id and reason text are forgotten at once (as for a finished request),
 * and the ledger records `request.cancelled` (by whom). Locks the request first, so a cancel and
 * the leader's release (release-scheduled.ts) cannot both happen: whichever commits first wins, the
 * other sees the new status. A request already sent (or finished) is a 409 that says so.
 */
export async function cancelScheduledRequest(
  dataSource: DataSource,
  id: string,
  by: CancelBy,
  now: Date,
): Promise<{ id: string; status: 'cancelled'; cancelledAt: string }> {
  return dataSource.transaction(async (manager) => {
    const [row] = (await manager.query(`SELECT kind, status, requested_by, not_before FROM retention_requests WHERE id = $1 FOR UPDATE`, [id])) as Array<{
      kind: string;
      status: string;
      requested_by: string;
      not_before: Date | null;
    }>;
    if (!row || row.kind !== 'erasure') throw new NotFoundError(`erasure request ${id} does not exist`);
    if (!by.admin && row.requested_by !== by.name) throw new ForbiddenError('only the requester who made this request (or an admin) may cancel it');
    if (row.status === 'cancelled') throw new ConflictError(`erasure request ${id} is already cancelled`);
    if (row.status !== 'scheduled') {
      throw new ConflictError(
        `erasure request ${id} can no longer be cancelled: its command was already sent to its targets (status ${row.status}); only a request still in its grace period (scheduled) can be`,
      );
    }
    await manager.query(
      `UPDATE retention_requests SET status = 'cancelled', cancelled_at = $2, cancelled_by = $3, subject_id = NULL, reason = NULL WHERE id = $1`,
      [id, now, by.name],
    );
    await manager.query(`UPDATE request_targets SET status = 'cancelled', next_attempt_at = NULL WHERE request_id = $1 AND status = 'scheduled'`, [id]);
    await appendLedger(
      manager,
      [{ requestId: id, type: 'request.cancelled', body: { by: by.name, notBefore: row.not_before ? new Date(row.not_before).toISOString() : null } }],
      now,
    );
    return { id, status: 'cancelled' as const, cancelledAt: now.toISOString() };
  });
}
