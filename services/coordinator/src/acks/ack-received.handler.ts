import type { Ack } from '@retention/contracts';
import type { DataSource, EntityManager } from 'typeorm';
import { settleRequest } from '../requests/settle-request';
import { appendLedger, type LedgerEntryInput } from '../ledger/ledger.repository';

export type AckOutcome = 'applied' | 'duplicate' | AckRejection;

/**
 * Acks that parse but are wrong, as stable codes (metric label and dead-letter reason): the request
 * is unknown, the service is not one of its targets, the kind or dry-run flag differs from the
 * request's, or the ack contradicts what the target already reported (a different outcome of a
 * target that is done). None of them changes the request.
 */
export type AckRejection = 'unknown_request' | 'unknown_target' | 'mismatch' | 'contradiction';

export interface AckResult {
  outcome: AckOutcome;
  /** For a rejected ack: what is wrong, without identifiers (the request id is the message key). */
  detail?: string;
  /** For an applied ack: seconds from the request's creation to this ack. */
  latencySeconds?: number;
  kind?: 'erasure' | 'sweep';
}

// `retired`: closed by an admin retiring the service; a late ack from it changes nothing.
const DONE = ['completed', 'held', 'not_applicable', 'retired'];

/**
 * Reconciles acknowledgements into the ledger. Safe to replay: an ack for a target that has
 * already succeeded changes nothing; an ack for an unknown request or target is reported, never
 * thrown. The request completes only when every recorded target has succeeded.
 *
 * `many` reconciles a run of acks in one transaction with one ledger append (one commit and one
 * ledger lock instead of one per ack: the fan-out benchmark found the per-ack form capped the
 * coordinator at ~100 acks/s). Acks are applied in order, so several acks of one request in the
 * same run complete it exactly once. If the run fails, nothing of it is kept.
 */
export function createAckReceivedHandler(deps: { dataSource: DataSource; now?: () => Date }) {
  const now = deps.now ?? (() => new Date());

  async function apply(manager: EntityManager, ack: Ack, at: Date, entries: LedgerEntryInput[]): Promise<AckResult> {
    const [request] = (await manager.query(`SELECT id, status, dry_run, kind, created_at FROM retention_requests WHERE id = $1 FOR UPDATE`, [
      ack.requestId,
    ])) as Array<{
      id: string;
      status: string;
      dry_run: boolean;
      kind: 'erasure' | 'sweep';
      created_at: Date;
    }>;
    if (!request) return { outcome: 'unknown_request', detail: 'no request has this id' };
    if (request.kind !== ack.kind) return { outcome: 'mismatch', detail: `the request is a ${request.kind}, the ack says ${ack.kind}` };
    if (request.dry_run !== ack.dryRun) return { outcome: 'mismatch', detail: `the request has dryRun ${request.dry_run}, the ack says ${ack.dryRun}` };
    const [target] = (await manager.query(`SELECT status, ack FROM request_targets WHERE request_id = $1 AND service = $2`, [
      ack.requestId,
      ack.service,
    ])) as Array<{
      status: string;
      ack: Ack | null;
    }>;
    if (!target) return { outcome: 'unknown_target', detail: `service "${ack.service}" is not a target of this request` };
    // Nothing was sent to it (in its grace period, or cancelled then): no ack can answer a command.
    if (target.status === 'scheduled' || target.status === 'cancelled') {
      return { outcome: 'contradiction', detail: `no command was sent to this target (it is ${target.status}); this ack answers none` };
    }
    if (DONE.includes(target.status)) {
      if (sameAck(target.ack, ack)) return { outcome: 'duplicate' };
      // A held target can report held again (a redelivered command ran again while the hold lasts):
      // nothing changes, the resume waits for the holds it names first.
      if (target.status === 'held' && ack.status === 'held') return { outcome: 'duplicate' };
      return { outcome: 'contradiction', detail: `the target already reported ${target.status}; this ack (${ack.status}) is not that report` };
    }
    if (target.status === 'failed' && ack.status === 'failed' && target.ack?.commandId === ack.commandId) return { outcome: 'duplicate' };

    await manager.query(`UPDATE request_targets SET status = $3, acked_at = $4, ack = $5, next_attempt_at = NULL WHERE request_id = $1 AND service = $2`, [
      ack.requestId,
      ack.service,
      ack.status,
      at,
      ack,
    ]);
    entries.push({
      requestId: ack.requestId,
      type: 'ack.received',
      service: ack.service,
      body: {
        status: ack.status,
        dryRun: ack.dryRun,
        commandId: ack.commandId,
        startedAt: ack.startedAt,
        finishedAt: ack.finishedAt,
        tables: ack.tables,
        holdIds: ack.holdIds,
        reason: ack.reason ?? null,
        error: ack.error ?? null,
        policyHash: ack.policyHash ?? null,
      },
    });

    entries.push(...(await settleRequest(manager, { id: ack.requestId, status: request.status, dryRun: request.dry_run, kind: request.kind }, at)));
    return { outcome: 'applied', kind: request.kind, latencySeconds: (at.getTime() - new Date(request.created_at).getTime()) / 1000 };
  }

  async function many(acks: readonly Ack[], around: AroundAck = (_i, work) => work()): Promise<AckResult[]> {
    return deps.dataSource.transaction(async (manager) => {
      const at = now();
      const entries: LedgerEntryInput[] = [];
      const results: AckResult[] = [];
      for (const [i, ack] of acks.entries()) results.push(await around(i, () => apply(manager, ack, at, entries)));
      await appendLedger(manager, entries, at);
      return results;
    });
  }

  return {
    many,
    /**
     * Reconciles one ack in the caller's transaction (a result that is not a Kafka ack: a webhook's
     * answer, an operator's confirmation), with `before` appended to the ledger ahead of its entries.
     */
    async within(manager: EntityManager, ack: Ack, before: LedgerEntryInput[] = []): Promise<AckResult> {
      const at = now();
      const entries: LedgerEntryInput[] = [...before];
      const result = await apply(manager, ack, at, entries);
      if (result.outcome === 'applied') await appendLedger(manager, entries, at);
      return result;
    },
    async one(ack: Ack): Promise<AckResult> {
      const [result] = await many([ack]);
      return result!;
    },
  };
}

/**
 * A service re-sends the ack it stored when a command reaches it again, byte for byte: same
 * command, same outcome, same finishing time. Anything else about a finished target contradicts it.
 */
function sameAck(stored: Ack | null, ack: Ack): boolean {
  return stored !== null && stored.commandId === ack.commandId && stored.status === ack.status && stored.finishedAt === ack.finishedAt;
}

/** Runs around each ack's reconciliation, e.g. to give it a span in the ack's own trace. */
export type AroundAck = (index: number, work: () => Promise<AckResult>) => Promise<AckResult>;
