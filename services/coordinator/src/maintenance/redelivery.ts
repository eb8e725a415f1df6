import type { TopicNames } from '@retention/contracts';
import { enqueueOutbox } from '@retention/outbox';
import type { DataSource } from 'typeorm';
import { appendLedger } from '../ledger/ledger.repository';
import type { CoordinatorPrivacy } from '../privacy/coordinator-privacy';
import { buildCommand, STORED_REQUEST_COLUMNS, toStoredRequest } from '../requests/commands';

export interface RedeliveryOptions {
  baseSeconds: number;
  maxSeconds: number;
  maxAttempts: number;
  /** Opens the stored subject ids and seals them again under the current command key. */
  privacy: CoordinatorPrivacy;
}

/** Delay before the next delivery after `attempts` deliveries: base × 2^(attempts-1), capped. */
export function nextDelaySeconds(attempts: number, o: Pick<RedeliveryOptions, 'baseSeconds' | 'maxSeconds'>): number {
  return Math.min(o.maxSeconds, o.baseSeconds * 2 ** Math.max(0, attempts - 1));
}

/**
 * Re-publishes the command of every target that has not acked by its next attempt time, with
 * exponential backoff, up to `maxAttempts` deliveries (after that the target waits, visible as
 * pending and, past its due date, overdue). Targets whose service has not consumed its command
 * topic to the end are skipped: their command is still queued, not lost (the benchmark showed a
 * backlog turning into tens of thousands of duplicate commands otherwise). Returns the number of
 * targets redelivered.
 */
export async function redeliverDue(
  dataSource: DataSource,
  topics: TopicNames,
  options: RedeliveryOptions,
  now: Date,
  /** Services still working through their command backlog: re-sending to them only adds to it. */
  behind: readonly string[] = [],
): Promise<number> {
  return dataSource.transaction(async (manager) => {
    const due = (await manager.query(
      `SELECT t.request_id, t.service, t.attempts FROM request_targets t JOIN retention_requests r ON r.id = t.request_id
       WHERE t.status = 'pending' AND r.status = 'pending' AND t.next_attempt_at <= $1 AND NOT (t.service = ANY($2::text[]))
         -- Webhook and manual targets are delivered by deliver-external.ts, not by Kafka.
         AND NOT EXISTS (SELECT 1 FROM registered_services s WHERE s.service = t.service AND s.target_kind <> 'kafka')
       ORDER BY t.next_attempt_at LIMIT 500 FOR UPDATE OF t SKIP LOCKED`,
      [now, behind],
    )) as Array<{ request_id: string; service: string; attempts: number }>;
    if (due.length === 0) return 0;
    const byRequest = new Map<string, Array<{ service: string; attempts: number }>>();
    for (const d of due) byRequest.set(d.request_id, [...(byRequest.get(d.request_id) ?? []), { service: d.service, attempts: d.attempts }]);
    const [rows] = [
      (await manager.query(`SELECT ${STORED_REQUEST_COLUMNS} FROM retention_requests WHERE id = ANY($1::uuid[])`, [[...byRequest.keys()]])) as Parameters<
        typeof toStoredRequest
      >[0][],
    ];
    const commandKey = await options.privacy.commandKeys.current(manager, now);
    for (const row of rows) {
      const request = toStoredRequest(row, options.privacy.vault);
      // Its subject id forgotten (age limit) in between: nothing to deliver; the purge failed it.
      if (request.kind === 'erasure' && !request.subjectId) continue;
      const targets = byRequest.get(request.id)!;
      const attempt = Math.max(...targets.map((t) => t.attempts)) + 1;
      const { commandId, message } = buildCommand(
        request,
        targets.map((t) => t.service),
        attempt,
        topics,
        now,
        commandKey,
      );
      await enqueueOutbox(manager, [message]);
      for (const t of targets) {
        const exhausted = t.attempts + 1 >= options.maxAttempts;
        const next = exhausted ? null : new Date(now.getTime() + nextDelaySeconds(t.attempts + 1, options) * 1000);
        await manager.query(
          `UPDATE request_targets SET attempts = attempts + 1, last_sent_at = $3, next_attempt_at = $4 WHERE request_id = $1 AND service = $2`,
          [request.id, t.service, now, next],
        );
      }
      await appendLedger(
        manager,
        [{ requestId: request.id, type: 'command.sent', body: { commandId, attempt, targets: targets.map((t) => t.service), redelivery: true } }],
        now,
      );
    }
    return due.length;
  });
}

/** Marks pending requests past their due date, once, with a ledger entry. Returns how many. */
export async function flagOverdue(dataSource: DataSource, now: Date): Promise<number> {
  return dataSource.transaction(async (manager) => {
    const [rows] = (await manager.query(
      `UPDATE retention_requests SET overdue_flagged_at = $1 WHERE status = 'pending' AND due_at < $1 AND overdue_flagged_at IS NULL RETURNING id, due_at`,
      [now],
    )) as [Array<{ id: string; due_at: Date }>, number];
    await appendLedger(
      manager,
      rows.map((r) => ({ requestId: r.id, type: 'request.overdue' as const, body: { dueAt: new Date(r.due_at).toISOString() } })),
      now,
    );
    return rows.length;
  });
}
