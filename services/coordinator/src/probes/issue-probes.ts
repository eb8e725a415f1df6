import { randomUUID } from 'node:crypto';
import { encodeEvent, EventTypes, type ProbeItem, type TopicNames } from '@retention/contracts';
import { enqueueOutbox } from '@retention/outbox';
import type { DataSource, EntityManager } from 'typeorm';

export type ProbeTrigger = 'completion' | 'sample' | 'manual';

export interface ProbeSchedule {
  /** Probe each real erasure's targets once right after it completes. */
  afterCompletion: boolean;
  /** Completed real erasures probed again, at random, once per `intervalMs` (0: none). */
  sample: number;
  intervalMs: number;
}

/** Completed erasures older than this are left to the sampled probes (an upgrade does not probe the whole history at once). */
const COMPLETION_WINDOW_MS = 24 * 3_600_000;
/** Subjects per probe command: one pass over each subject column answers all of them. */
const ITEMS_PER_PROBE = 1000;

/**
 * Sends the probes that are due: one `probe.requested` per target service, naming the completed
 * real erasures it acked `completed` (by request id and the keyed hash from its ack, never an id),
 * and records each as pending. Runs on the leader, in one transaction with the outbox.
 */
export async function issueDueProbes(
  dataSource: DataSource,
  topics: TopicNames,
  schedule: ProbeSchedule,
  at: Date,
): Promise<{ completion: number; sample: number }> {
  return dataSource.transaction(async (manager) => {
    let completion = 0;
    let sample = 0;
    if (schedule.afterCompletion) {
      const ids = (
        (await manager.query(
          `SELECT r.id FROM retention_requests r
           WHERE r.kind = 'erasure' AND NOT r.dry_run AND r.status = 'completed' AND r.completed_at > $1
             AND NOT EXISTS (SELECT 1 FROM erasure_probes p WHERE p.request_id = r.id AND p.trigger = 'completion')
           ORDER BY r.completed_at LIMIT 5000`,
          [new Date(at.getTime() - COMPLETION_WINDOW_MS)],
        )) as Array<{ id: string }>
      ).map((r) => r.id);
      completion = await sendProbes(manager, topics, ids, 'completion', at);
    }
    if (schedule.sample > 0) {
      const [last] = (await manager.query(`SELECT max(sent_at) AS at FROM erasure_probes WHERE trigger = 'sample'`)) as Array<{ at: Date | null }>;
      if (!last?.at || new Date(last.at).getTime() + schedule.intervalMs <= at.getTime()) {
        const ids = (
          (await manager.query(`SELECT id FROM retention_requests WHERE kind = 'erasure' AND NOT dry_run AND status = 'completed' ORDER BY random() LIMIT $1`, [
            schedule.sample,
          ])) as Array<{ id: string }>
        ).map((r) => r.id);
        sample = await sendProbes(manager, topics, ids, 'sample', at);
      }
    }
    return { completion, sample };
  });
}

/**
 * Queues probes of `requestIds` (completed real erasures) to every target that acked them
 * `completed`, in the caller's transaction; returns how many (request, target) pairs were probed.
 */
export async function sendProbes(manager: EntityManager, topics: TopicNames, requestIds: readonly string[], trigger: ProbeTrigger, at: Date): Promise<number> {
  if (requestIds.length === 0) return 0;
  const targets = (await manager.query(
    `SELECT t.request_id, t.service, r.subject_type, t.ack->>'subjectHash' AS subject_hash
     FROM request_targets t JOIN retention_requests r ON r.id = t.request_id
     WHERE t.request_id = ANY($1::uuid[]) AND t.status = 'completed' AND r.subject_type IS NOT NULL
       -- Webhook and manual targets keep no deletion journal and read no probes.
       AND NOT EXISTS (SELECT 1 FROM registered_services s WHERE s.service = t.service AND s.target_kind <> 'kafka')
     ORDER BY t.service, t.request_id`,
    [requestIds],
  )) as Array<{ request_id: string; service: string; subject_type: string; subject_hash: string | null }>;
  const byService = new Map<string, ProbeItem[]>();
  for (const t of targets) {
    const items = byService.get(t.service) ?? [];
    items.push({ requestId: t.request_id, subjectType: t.subject_type, ...(t.subject_hash ? { subjectHash: t.subject_hash } : {}) });
    byService.set(t.service, items);
  }
  for (const [service, items] of byService) {
    for (let i = 0; i < items.length; i += ITEMS_PER_PROBE) {
      const chunk = items.slice(i, i + ITEMS_PER_PROBE);
      const probeId = randomUUID();
      await manager.query(`INSERT INTO erasure_probes (probe_id, request_id, service, trigger, sent_at) SELECT $1, unnest($2::uuid[]), $3, $4, $5`, [
        probeId,
        chunk.map((c) => c.requestId),
        service,
        trigger,
        at,
      ]);
      const { value } = encodeEvent(
        EventTypes.probeRequested,
        { probeId, requestedAt: at.toISOString(), targets: [service], trigger, items: chunk },
        { source: '/retention/coordinator', time: at },
      );
      await enqueueOutbox(manager, [{ topic: topics.commands, key: `probe:${service}`, value }]);
    }
  }
  return targets.length;
}
