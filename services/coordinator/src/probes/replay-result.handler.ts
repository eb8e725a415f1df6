import type { ReplayResult } from '@retention/contracts';
import type { DataSource } from 'typeorm';
import { appendLedger, type LedgerEntryInput } from '../ledger/ledger.repository';

/**
 * Records a service's answer to a replay: the `erasure_replays` row takes the result, and each
 * erasure it names (and the replay asked about) gets a `replay.result` ledger entry with what
 * re-applying it did. A repeated answer changes nothing; one for a replay never sent to this
 * service is `unknown_replay` (dead-lettered by the caller).
 */
export function createReplayResultHandler(deps: { dataSource: DataSource; now?: () => Date }) {
  const now = deps.now ?? (() => new Date());
  return async function replayAnswered(result: ReplayResult): Promise<'applied' | 'duplicate' | 'unknown_replay'> {
    const at = now();
    return deps.dataSource.transaction(async (manager) => {
      const [row] = (await manager.query(`SELECT status, request_ids FROM erasure_replays WHERE replay_id = $1 AND service = $2 FOR UPDATE`, [
        result.replayId,
        result.service,
      ])) as Array<{ status: string; request_ids: string[] }>;
      if (!row) return 'unknown_replay';
      if (row.status !== 'pending') return 'duplicate';
      const asked = new Set(row.request_ids);
      const items = result.items.filter((i) => asked.has(i.requestId));
      const counts: Record<string, number> = {};
      for (const i of items) counts[i.status] = (counts[i.status] ?? 0) + 1;
      await manager.query(`UPDATE erasure_replays SET status = 'answered', result = $2, answered_at = $3 WHERE replay_id = $1`, [
        result.replayId,
        JSON.stringify({ counts, startedAt: result.startedAt, finishedAt: result.finishedAt }),
        at,
      ]);
      const entries: LedgerEntryInput[] = items.map((i) => ({
        requestId: i.requestId,
        type: 'replay.result',
        service: result.service,
        body: { replayId: result.replayId, status: i.status, tables: i.tables, error: i.error ?? null, finishedAt: result.finishedAt },
      }));
      await appendLedger(manager, entries, at);
      return 'applied';
    });
  };
}
