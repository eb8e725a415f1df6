import type { EntityManager } from 'typeorm';
import type { LedgerEntryInput } from '../ledger/ledger.repository';

export interface SettlingRequest {
  id: string;
  status: string;
  dryRun: boolean;
  kind: 'erasure' | 'sweep';
}

/**
 * Sets a request's status from its targets once none is pending, and returns the ledger entries
 * that record it: `held` (a real erasure whose other targets are done and some kept data under a
 * hold; resume-held.ts re-issues it when the holds end), `completed` (its raw subject id cleared), or
 * `failed`. Used wherever a target's status changes: an ack, a retired service.
 */
export async function settleRequest(manager: EntityManager, request: SettlingRequest, at: Date): Promise<LedgerEntryInput[]> {
  const [counts] = (await manager.query(
    `SELECT count(*) FILTER (WHERE status = 'pending')::int AS pending, count(*) FILTER (WHERE status = 'failed')::int AS failed,
       count(*) FILTER (WHERE status = 'held')::int AS held, count(*)::int AS total
     FROM request_targets WHERE request_id = $1`,
    [request.id],
  )) as Array<{ pending: number; failed: number; held: number; total: number }>;
  if (!counts || counts.pending > 0) return [];
  if (counts.failed === 0 && counts.held > 0 && !request.dryRun && request.kind === 'erasure') {
    if (request.status === 'held') return [];
    await manager.query(`UPDATE retention_requests SET status = 'held' WHERE id = $1`, [request.id]);
    const held = (await manager.query(
      `SELECT service, ack->'holdIds' AS hold_ids FROM request_targets WHERE request_id = $1 AND status = 'held' ORDER BY service`,
      [request.id],
    )) as Array<{ service: string; hold_ids: string[] | null }>;
    return [
      {
        requestId: request.id,
        type: 'request.held',
        body: { heldTargets: held.map((h) => ({ service: h.service, holdIds: h.hold_ids ?? [] })), targets: counts.total },
      },
    ];
  }
  if (counts.failed === 0 && request.status !== 'completed') {
    await manager.query(`UPDATE retention_requests SET status = 'completed', completed_at = $2, subject_id = NULL WHERE id = $1`, [request.id, at]);
    return [{ requestId: request.id, type: 'request.completed', body: { targets: counts.total } }];
  }
  if (counts.failed > 0 && request.status === 'pending') {
    await manager.query(`UPDATE retention_requests SET status = 'failed' WHERE id = $1`, [request.id]);
    return [{ requestId: request.id, type: 'request.failed', body: { failedTargets: counts.failed, targets: counts.total } }];
  }
  return [];
}
