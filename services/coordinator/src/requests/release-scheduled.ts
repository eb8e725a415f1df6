import type { TopicNames } from '@retention/contracts';
import { enqueueOutbox } from '@retention/outbox';
import type { DataSource } from 'typeorm';
import { activeSubjectHolds } from '../holds/legal-holds.service';
import { appendLedger, type LedgerEntryInput } from '../ledger/ledger.repository';
import type { CoordinatorPrivacy } from '../privacy/coordinator-privacy';
import { buildCommand, STORED_REQUEST_COLUMNS, toStoredRequest } from './commands';
import { EXTERNAL_CASE } from './issue-request';

export interface ReleaseOptions {
  /** Seconds before the command is redelivered if a target does not ack. */
  retryBaseSeconds: number;
  /** Opens the stored subject id and seals it under the current command key. */
  privacy: CoordinatorPrivacy;
  /** Requests released per call at most (the rest wait for the next call). */
  limit?: number;
}

/**
 * Sends the erasures whose grace period has ended (`scheduled`, `not_before` reached): per request,
 * its command through the outbox (to its targets still registered, naming the subject holds in force
 * now), targets and request `pending`, ledger `request.released` and `command.sent`, all in one
 * transaction. The status change is what makes it happen once: a request is locked (skipped when
 * another transaction holds it: a cancel, another replica) and re-read as `scheduled` first, so a
 * tick that repeats after a crash or on another replica finds nothing left to send. Targets whose
 * service was retired in the meantime are closed as `retired`; a request left with none completes.
 * Returns how many requests were released.
 */
export async function releaseScheduled(dataSource: DataSource, topics: TopicNames, now: Date, options: ReleaseOptions): Promise<number> {
  return dataSource.transaction(async (manager) => {
    const rows = (await manager.query(
      `SELECT ${STORED_REQUEST_COLUMNS} FROM retention_requests WHERE status = 'scheduled' AND not_before <= $1
       ORDER BY not_before LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [now, options.limit ?? 200],
    )) as Parameters<typeof toStoredRequest>[0][];
    if (rows.length === 0) return 0;
    const commandKey = await options.privacy.commandKeys.current(manager, now);
    const entries: LedgerEntryInput[] = [];
    for (const row of rows) {
      const request = toStoredRequest(row, options.privacy.vault);
      const targets = (await manager.query(
        `SELECT t.service, s.status = 'active' AS active FROM request_targets t LEFT JOIN registered_services s ON s.service = t.service
         WHERE t.request_id = $1 AND t.status = 'scheduled' ORDER BY t.service`,
        [request.id],
      )) as Array<{ service: string; active: boolean | null }>;
      const send = targets.filter((t) => t.active).map((t) => t.service);
      const gone = targets.filter((t) => !t.active).map((t) => t.service);
      if (gone.length > 0) {
        await manager.query(`UPDATE request_targets SET status = 'retired', acked_at = $3 WHERE request_id = $1 AND service = ANY($2::text[])`, [
          request.id,
          gone,
          now,
        ]);
      }
      // Its subject id is gone (it cannot be, short of a bug): nothing can be sent; fail it visibly.
      if (send.length > 0 && (!request.subjectId || !request.subjectRef)) {
        await manager.query(`UPDATE request_targets SET status = 'failed' WHERE request_id = $1 AND status = 'scheduled'`, [request.id]);
        await manager.query(`UPDATE retention_requests SET status = 'failed' WHERE id = $1`, [request.id]);
        entries.push({ requestId: request.id, type: 'request.failed', body: { reason: 'subject_forgotten', previousStatus: 'scheduled' } });
        continue;
      }
      entries.push({ requestId: request.id, type: 'request.released', body: { targets: send, retiredTargets: gone } });
      if (send.length === 0) {
        await manager.query(`UPDATE retention_requests SET status = 'completed', completed_at = $2, subject_id = NULL, reason = NULL WHERE id = $1`, [
          request.id,
          now,
        ]);
        entries.push({ requestId: request.id, type: 'request.completed', body: { targets: targets.length } });
        continue;
      }
      const holds = request.subjectRef ? await activeSubjectHolds(manager, request.subjectRef) : [];
      const { commandId, message } = buildCommand({ ...request, holds }, send, 1, topics, now, commandKey);
      await enqueueOutbox(manager, [message]);
      await manager.query(
        `UPDATE request_targets t SET status = 'pending', attempts = ${EXTERNAL_CASE('0', '1')}, last_sent_at = $3,
           next_attempt_at = ${EXTERNAL_CASE('$3::timestamptz', '$4::timestamptz')} WHERE request_id = $1 AND service = ANY($2::text[])`,
        [request.id, send, now, new Date(now.getTime() + options.retryBaseSeconds * 1000)],
      );
      await manager.query(`UPDATE retention_requests SET status = 'pending', hold_snapshot = $2 WHERE id = $1`, [request.id, JSON.stringify(holds)]);
      entries.push({ requestId: request.id, type: 'command.sent', body: { commandId, attempt: 1, targets: send } });
    }
    await appendLedger(manager, entries, now);
    return rows.length;
  });
}
