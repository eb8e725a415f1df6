import { randomUUID } from 'node:crypto';
import { ConflictError, encodeEvent, EventTypes, NotFoundError, type TopicNames } from '@retention/contracts';
import { enqueueOutbox } from '@retention/outbox';
import type { DataSource } from 'typeorm';
import { appendLedger } from '../ledger/ledger.repository';

/** Erasures per replay command (each answered by one `replay.result`). */
const ITEMS_PER_REPLAY = 1000;

export interface ReplayRequest {
  service: string;
  /** The backup's time: erasures the service acked `completed` since then are re-applied. */
  since: Date;
  requestedBy: string;
  trigger: 'operator' | 'restore_detected';
}

export interface ReplayIssued {
  service: string;
  since: string;
  /** Erasures sent for re-application (with the keyed hash the service sent in its ack). */
  requests: number;
  /** Erasures acked since then without a keyed hash (a service before ack 1.1): not replayable, resubmit them. */
  withoutHash: number;
  replays: Array<{ id: string; requests: number }>;
}

/**
 * Sends `replay.requested` to one service: every real erasure it acked `completed` since `since`,
 * by request id and the keyed hash from its own ack (its restored journal may have lost them), in
 * commands of up to 1,000. Recorded in `erasure_replays` and the ledger (`replay.requested`), with
 * the outbox, in one transaction.
 */
export async function requestReplay(dataSource: DataSource, topics: TopicNames, r: ReplayRequest, at: Date): Promise<ReplayIssued> {
  return dataSource.transaction(async (manager) => {
    const [known] = (await manager.query(`SELECT target_kind FROM registered_services WHERE service = $1`, [r.service])) as Array<{ target_kind: string }>;
    if (!known) throw new NotFoundError(`no service "${r.service}" is registered`);
    // No deletion journal and no command topic: a restored system re-applies its erasures itself.
    if (known.target_kind !== 'kafka') throw new ConflictError(`"${r.service}" is a ${known.target_kind} target: replays apply to Kafka services only`);
    const rows = (await manager.query(
      `SELECT t.request_id, r.subject_type, t.ack->>'subjectHash' AS subject_hash
       FROM request_targets t JOIN retention_requests r ON r.id = t.request_id
       WHERE t.service = $1 AND t.status = 'completed' AND t.acked_at >= $2 AND r.kind = 'erasure' AND NOT r.dry_run AND r.subject_type IS NOT NULL
       ORDER BY t.acked_at, t.request_id`,
      [r.service, r.since],
    )) as Array<{ request_id: string; subject_type: string; subject_hash: string | null }>;
    const items = rows.filter((x) => x.subject_hash).map((x) => ({ requestId: x.request_id, subjectType: x.subject_type, subjectHash: x.subject_hash! }));
    const replays: ReplayIssued['replays'] = [];
    for (let i = 0; i < items.length; i += ITEMS_PER_REPLAY) {
      const chunk = items.slice(i, i + ITEMS_PER_REPLAY);
      const replayId = randomUUID();
      await manager.query(
        `INSERT INTO erasure_replays (replay_id, service, since, requested_by, trigger, requests, request_ids, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [replayId, r.service, r.since, r.requestedBy, r.trigger, chunk.length, chunk.map((c) => c.requestId), at],
      );
      const { value } = encodeEvent(
        EventTypes.replayRequested,
        { replayId, requestedAt: at.toISOString(), targets: [r.service], since: r.since.toISOString(), items: chunk },
        { source: '/retention/coordinator', time: at },
      );
      await enqueueOutbox(manager, [{ topic: topics.commands, key: `replay:${r.service}`, value }]);
      replays.push({ id: replayId, requests: chunk.length });
    }
    const withoutHash = rows.length - items.length;
    await appendLedger(
      manager,
      [
        {
          requestId: null,
          type: 'replay.requested',
          service: r.service,
          body: {
            since: r.since.toISOString(),
            requestedBy: r.requestedBy,
            trigger: r.trigger,
            requests: items.length,
            withoutHash,
            replays: replays.map((x) => x.id),
          },
        },
      ],
      at,
    );
    return { service: r.service, since: r.since.toISOString(), requests: items.length, withoutHash, replays };
  });
}
