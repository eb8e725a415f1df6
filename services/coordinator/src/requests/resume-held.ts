import type { TopicNames } from '@retention/contracts';
import { enqueueOutbox } from '@retention/outbox';
import type { DataSource, EntityManager } from 'typeorm';
import { activeSubjectHolds } from '../holds/legal-holds.service';
import { appendLedger, type LedgerEntryInput } from '../ledger/ledger.repository';
import type { CoordinatorPrivacy } from '../privacy/coordinator-privacy';
import { buildCommand, STORED_REQUEST_COLUMNS, toStoredRequest } from './commands';
import { EXTERNAL_CASE } from './issue-request';

/**
 * A held target may resume when it named at least one hold and none of the holds it named is in
 * force any more (released, expired, or purged). A held ack that names no hold cannot tell when
 * it ends: it waits for an operator.
 */
const HOLDS_ENDED = `jsonb_array_length(COALESCE(t.ack->'holdIds', '[]'::jsonb)) > 0
  AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(t.ack->'holdIds') AS h(id) JOIN legal_holds l ON l.id::text = h.id
                  WHERE l.released_at IS NULL AND (l.expires_at IS NULL OR l.expires_at > $1))`;

export interface ResumeOptions {
  /** Seconds before the resumed command is redelivered if its target does not ack. */
  retryBaseSeconds: number;
  /** Requests resumed per call at most (the rest wait for the next call). */
  limit?: number;
  /** Opens the stored subject id and seals it under the current command key. */
  privacy: CoordinatorPrivacy;
}

/**
 * Re-issues held erasures whose holds have all ended, in the caller's transaction: a new command
 * (through the outbox) to the targets that were held, naming the holds in force now; those targets
 * are pending again (attempts + 1) and the request too, so it completes, fails or is held again
 * through the normal ack path. Ledger: `request.resumed` and `command.sent` per request. Requests
 * are locked before their targets (the ack handler's order) and skipped when another transaction
 * holds them. Returns how many targets were resumed.
 */
export async function resumeHeldTargets(manager: EntityManager, topics: TopicNames, now: Date, options: ResumeOptions): Promise<number> {
  const candidates = (await manager.query(
    `SELECT DISTINCT t.request_id FROM request_targets t JOIN retention_requests r ON r.id = t.request_id
     WHERE t.status = 'held' AND r.status = 'held' AND r.kind = 'erasure' AND NOT r.dry_run AND ${HOLDS_ENDED}
     LIMIT $2`,
    [now, options.limit ?? 200],
  )) as Array<{ request_id: string }>;
  if (candidates.length === 0) return 0;
  const rows = (await manager.query(
    `SELECT ${STORED_REQUEST_COLUMNS} FROM retention_requests WHERE id = ANY($1::uuid[]) AND status = 'held' ORDER BY id FOR UPDATE SKIP LOCKED`,
    [candidates.map((c) => c.request_id)],
  )) as Parameters<typeof toStoredRequest>[0][];
  const entries: LedgerEntryInput[] = [];
  let resumed = 0;
  for (const row of rows) {
    const request = toStoredRequest(row, options.privacy.vault);
    const targets = (await manager.query(
      `SELECT t.service, t.attempts, t.ack->'holdIds' AS hold_ids FROM request_targets t
       WHERE t.request_id = $2 AND t.status = 'held' AND ${HOLDS_ENDED} ORDER BY t.service FOR UPDATE`,
      [now, request.id],
    )) as Array<{ service: string; attempts: number; hold_ids: string[] }>;
    // Kept only while a request is open; a held request without it cannot be re-issued (created before held requests kept it).
    if (targets.length === 0 || !request.subjectRef || !request.subjectId) continue;
    // The holds in force now (the snapshot taken at creation names the ones that just ended).
    const holds = await activeSubjectHolds(manager, request.subjectRef);
    const services = targets.map((t) => t.service);
    const attempt = Math.max(...targets.map((t) => t.attempts)) + 1;
    const { commandId, message } = buildCommand({ ...request, holds }, services, attempt, topics, now, await options.privacy.commandKeys.current(manager, now));
    await enqueueOutbox(manager, [message]);
    await manager.query(
      `UPDATE request_targets t SET status = 'pending', attempts = attempts + ${EXTERNAL_CASE('0', '1')}, last_sent_at = $3,
         next_attempt_at = ${EXTERNAL_CASE('$3::timestamptz', '$4::timestamptz')}, acked_at = NULL, ack = NULL
       WHERE request_id = $1 AND service = ANY($2::text[])`,
      [request.id, services, now, new Date(now.getTime() + options.retryBaseSeconds * 1000)],
    );
    await manager.query(`UPDATE retention_requests SET status = 'pending', hold_snapshot = $2 WHERE id = $1`, [request.id, JSON.stringify(holds)]);
    const ended = [...new Set(targets.flatMap((t) => t.hold_ids))].sort();
    entries.push(
      { requestId: request.id, type: 'request.resumed', body: { services, endedHolds: ended, holds: holds.map((h) => h.holdId) } },
      { requestId: request.id, type: 'command.sent', body: { commandId, attempt, targets: services, resumed: true } },
    );
    resumed += services.length;
  }
  await appendLedger(manager, entries, now);
  return resumed;
}

/** {@link resumeHeldTargets} in a transaction of its own (the leader's maintenance loop: holds that expired). */
export function resumeHeld(dataSource: DataSource, topics: TopicNames, now: Date, options: ResumeOptions): Promise<number> {
  return dataSource.transaction((manager) => resumeHeldTargets(manager, topics, now, options));
}
