import {
  type Ack,
  encodeEvent,
  type ErasureRequested,
  EventTypes,
  type SweepRequested,
  type TableResult,
  type TopicNames,
  errorCode,
  isRetriable,
  retryReason,
  RowsLockedError,
  TransientError,
} from '@retention/contracts';
import { currentTraceHeaders, type Logger } from '@retention/observability';
import { enqueueOutbox } from '@retention/outbox';
import {
  type ActiveHold,
  activeScopedHolds,
  assertSweepAsOf,
  type BatchReport,
  type BoundPolicies,
  countKept,
  holdsKeeping,
  initialJobState,
  type JobPlan,
  type JobState,
  planErasure,
  planSweep,
  policiesNotEnabled,
  runJobBatch,
} from '@retention/policy';
import type { DataSource, EntityManager } from 'typeorm';
import type { RetentionMetrics } from './metrics';
import { safeErrorMessage } from './pg-errors';
import { subjectHash } from './subject-hash';
import { createLockWait, createRetryBudget, DEFAULT_LOCK_WAIT, DEFAULT_RETRY, type LockWaitPolicy, type RetryPolicy } from './retry-budget';

export type Command = { kind: 'erasure'; commandId: string; data: ErasureRequested } | { kind: 'sweep'; commandId: string; data: SweepRequested };

export interface CommandHandlerDeps {
  dataSource: DataSource;
  bound: BoundPolicies;
  topics: TopicNames;
  logger: Logger;
  metrics: RetentionMetrics;
  /** Called after an ack was written to the outbox, so the relay publishes it at once. */
  onAckQueued: () => void;
  /** Waits until the local holds replica has caught up with the holds topic. */
  holdsCaughtUp: () => Promise<void>;
  /** Runs after a job's last batch committed (deletes the files queued by sweep batches). */
  afterCommit?: () => Promise<void>;
  /**
   * Deletes the files an erasure's committed batches queued, before its ack is written; throws when
   * one stays (`FileDeletionError`: the ack says `failed` with its code). Absent: the service has no
   * file columns.
   */
  deleteRequestFiles?: (requestId: string) => Promise<unknown>;
  /** Hash of the service's policies, recorded in every ack. */
  policyHash?: string;
  /**
   * Key of the deletion journal (see subject-hash.ts): a completed real erasure writes the keyed hash
   * of its subject to `retention_deletion_journal` with its last batch, and sends it in the ack.
   * Absent: no journal (probes of this service answer `unknown`).
   */
  journalKey?: Buffer;
  /** Budget for retriable failures before the command acks `failed` (default: 5 tries, 2 min). */
  retry?: RetryPolicy;
  /** How long to wait for rows other transactions hold locked (default: 5 min, pauses up to 5 s). */
  lockWait?: LockWaitPolicy;
  /** Waits `ms`, or less when `signal` aborts (tests replace it). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** How far a sweep's `asOf` may lie ahead of this clock before the sweep is refused (default 5 min). */
  maxClockSkewMs?: number;
  now?: () => Date;
}

export type CommandOutcome = 'ignored' | 'duplicate' | Ack['status'];

interface InboxRow {
  status: 'running' | 'done' | 'failed';
  state: JobState;
  ack: Ack | null;
  command_id: string;
  started_at: Date;
}

/**
 * Applies one retention command to the service's own database, safe to replay:
 * - the inbox row (keyed by request id) makes a redelivered command a no-op that re-sends the
 *   stored ack (the coordinator redelivers when it did not see one);
 * - each batch runs in its own short transaction together with its audit row and the job's
 *   progress, so a crash resumes after the last committed batch with exact counts;
 * - the ack is written to the outbox in the same transaction as the last batch.
 */
export function createCommandHandler(
  deps: CommandHandlerDeps,
): (command: Command, options?: { heartbeat?: () => Promise<void>; signal?: AbortSignal }) => Promise<CommandOutcome> {
  const { dataSource, bound, logger } = deps;
  const service = bound.policies.service;
  const now = deps.now ?? (() => new Date());
  const sleep = deps.sleep ?? abortableSleep;

  function isForUs(command: Command): boolean {
    const { targets } = command.data;
    if (targets.length > 0 && !targets.includes(service)) return false;
    return !(command.kind === 'sweep' && command.data.service && command.data.service !== service);
  }

  function plan(command: Command, localHolds: ActiveHold[]): JobPlan {
    // Holds named by the command are binding even if the local replica has not seen them yet.
    const fromCommand: ActiveHold[] = command.data.holds
      .filter((h) => !h.service || h.service === service)
      .map((h) => ({
        holdId: h.holdId,
        scope: h.scope,
        subjectType: command.kind === 'erasure' && h.scope === 'subject' ? command.data.subject.type : null,
        subjectId: command.kind === 'erasure' && h.scope === 'subject' ? command.data.subject.id : null,
        policy: h.policy ?? null,
        tableName: null,
        recordKey: null,
      }));
    const holds = [...localHolds, ...fromCommand.filter((h) => !localHolds.some((l) => l.holdId === h.holdId))];
    if (command.kind === 'sweep') return planSweep(bound, { policy: command.data.policy, asOf: new Date(command.data.asOf), now: now() }, holds);
    const p = planErasure(bound, command.data.subject, holds);
    // An erasure's files are its own to delete before it acks (see deleteRequestFiles).
    if (p.status !== 'run' || command.data.dryRun || !deps.deleteRequestFiles) return p;
    return { ...p, steps: p.steps.map((s) => (s.kind === 'table' && s.filesColumn ? { ...s, filesOwner: command.data.requestId } : s)) };
  }

  /** Whether files queued by this erasure's committed batches are still on the queue (they go before the ack). */
  async function filesPending(manager: EntityManager, command: Command): Promise<boolean> {
    if (command.kind !== 'erasure' || command.data.dryRun || !deps.deleteRequestFiles) return false;
    const rows = (await manager.query(`SELECT 1 FROM retention_file_deletions WHERE request_id = $1 LIMIT 1`, [command.data.requestId])) as unknown[];
    return rows.length > 0;
  }

  function buildAck(command: Command, startedAt: Date, fields: Pick<Ack, 'status'> & Partial<Ack>): Ack {
    return {
      requestId: command.data.requestId,
      commandId: command.commandId,
      kind: command.kind,
      service,
      dryRun: command.data.dryRun,
      startedAt: startedAt.toISOString(),
      finishedAt: now().toISOString(),
      tables: [],
      holdIds: [],
      policyHash: deps.policyHash,
      ...fields,
    };
  }

  async function queueAck(manager: EntityManager, ack: Ack): Promise<void> {
    const { value } = encodeEvent(EventTypes.ack, ack, { source: `/retention/services/${service}` });
    // The ack continues the command's trace (the handler runs inside the consumer span).
    await enqueueOutbox(manager, [{ topic: deps.topics.acks, key: ack.requestId, value, headers: currentTraceHeaders() }]);
  }

  async function finish(manager: EntityManager, command: Command, ack: Ack, status: 'done' | 'failed', state?: JobState): Promise<void> {
    await manager.query(`UPDATE retention_inbox SET status = $2, ack = $3, finished_at = now(), state = COALESCE($4, state) WHERE request_id = $1`, [
      command.data.requestId,
      status,
      ack,
      state ?? null,
    ]);
    await queueAck(manager, ack);
  }

  async function audit(
    manager: EntityManager,
    command: Command,
    batch: { table: string; policy?: string; action: string; affected: number; held?: number },
  ): Promise<void> {
    const counts = { deleted: 0, anonymized: 0, archived: 0 };
    if (batch.action === 'delete') counts.deleted = batch.affected;
    if (batch.action === 'anonymize') counts.anonymized = batch.affected;
    if (batch.action === 'archive') counts.archived = batch.affected;
    await manager.query(
      `INSERT INTO retention_audit (request_id, kind, policy, table_name, action, dry_run, matched, deleted, anonymized, archived, held)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [
        command.data.requestId,
        command.kind,
        batch.policy ?? null,
        batch.table,
        batch.action,
        command.data.dryRun,
        batch.affected + (batch.held ?? 0),
        counts.deleted,
        counts.anonymized,
        counts.archived,
        batch.held ?? 0,
      ],
    );
  }

  /**
   * Records a completed real erasure in the deletion journal, in the transaction of its ack, and
   * returns the subject's keyed hash (a replayed erasure keeps its first entry).
   */
  async function journal(manager: EntityManager, command: Command, tables: readonly TableResult[]): Promise<string | undefined> {
    if (command.kind !== 'erasure' || command.data.dryRun || !deps.journalKey) return undefined;
    const hash = subjectHash(deps.journalKey, command.data.subject.type, command.data.subject.id);
    await manager.query(
      `INSERT INTO retention_deletion_journal (request_id, subject_type, subject_hash, erased_at, tables, policy_hash)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (request_id) DO NOTHING`,
      [
        command.data.requestId,
        command.data.subject.type,
        hash,
        now(),
        JSON.stringify(tables.map((t) => ({ table: t.table, action: t.action }))),
        deps.policyHash ?? null,
      ],
    );
    return hash;
  }

  /**
   * One transaction: the next batch, its audit row, the progress, and on the last batch the ack. An
   * erasure whose batches queued files comes back with `filesPending` instead of acking: the caller
   * deletes them, then steps again, and only that step writes the ack (a crash in between deletes
   * again; a file already gone counts as deleted).
   */
  async function step(command: Command): Promise<{ done: boolean; filesPending?: boolean; ack?: Ack; batches?: BatchReport[]; tables?: TableResult[] }> {
    return dataSource.transaction(async (manager) => {
      // Batch statements are short by design; JIT compilation would cost more than it saves. The
      // set_config(…, true) is SET LOCAL, folded into the inbox lock to save a round trip per batch.
      const [row] = (await manager.query(
        `SELECT status, state, ack, command_id, started_at, set_config('jit', 'off', true) FROM retention_inbox WHERE request_id = $1 FOR UPDATE`,
        [command.data.requestId],
      )) as InboxRow[];
      if (!row) throw new TypeError('inbox row vanished');
      if (row.status !== 'running') return { done: true };
      const startedAt = new Date(row.started_at);
      const holds = await activeScopedHolds(manager);
      const p = plan(command, holds);
      if (p.status !== 'run') {
        if (await filesPending(manager, command)) return { done: false, filesPending: true };
        // A hold placed while the job ran stops it here; what earlier batches did is still reported,
        // with what the hold keeps per table (counts only: the resumed erasure needs nothing else).
        const tables = p.status === 'held' ? await countKept(manager, bound, p.steps, row.state.results) : row.state.results;
        const ack = buildAck(command, startedAt, { status: p.status, reason: p.reason, holdIds: p.status === 'held' ? p.holdIds : [], tables });
        await finish(manager, command, ack, 'done');
        // What the hold keeps counts in retention_records_held_total like a batch's held rows (less
        // what this job's earlier batches counted already): a subject hold keeps everything here.
        const batches: BatchReport[] =
          p.status === 'held'
            ? tables.map((t, i) => ({
                table: t.table,
                policy: t.policy,
                action: t.action,
                affected: 0,
                held: Math.max(0, t.held - (row.state.results[i]?.held ?? 0)),
              }))
            : [];
        return { done: true, ack, batches };
      }
      const result = await runJobBatch(manager, bound, p.steps, row.state, command.data.dryRun);
      // A pass that changed nothing (its rows were locked, or the step had nothing left) leaves no audit row.
      for (const batch of result.batches) if (batch.affected > 0 || (batch.held ?? 0) > 0) await audit(manager, command, batch);
      if (!result.done) {
        await manager.query(`UPDATE retention_inbox SET state = $2 WHERE request_id = $1`, [command.data.requestId, result.state]);
        return { done: false, batches: result.batches, tables: result.state.results };
      }
      const tables: TableResult[] = result.state.results;
      if (await filesPending(manager, command)) {
        await manager.query(`UPDATE retention_inbox SET state = $2 WHERE request_id = $1`, [command.data.requestId, result.state]);
        return { done: false, filesPending: true, batches: result.batches, tables };
      }
      const held = tables.reduce((n, t) => n + t.held, 0);
      // Every hold that keeps rows is named (record and subject holds too), so the coordinator can
      // resume the erasure once all of them have ended.
      const keeping = new Set(p.steps.flatMap((s) => s.heldBy));
      if (command.kind === 'erasure' && held > 0)
        for (const s of p.steps) if (s.kind === 'table') for (const id of await holdsKeeping(manager, bound, s)) keeping.add(id);
      const heldBy = [...keeping];
      const status: Ack['status'] = command.kind === 'erasure' && held > 0 ? 'held' : 'completed';
      const journaled = status === 'completed' ? await journal(manager, command, tables) : undefined;
      const ack = buildAck(command, startedAt, {
        status,
        tables,
        holdIds: heldBy,
        reason: held > 0 ? `${held} record(s) kept under legal hold` : undefined,
        ...(journaled ? { subjectHash: journaled } : {}),
      });
      await finish(manager, command, ack, 'done', result.state);
      return { done: true, ack, batches: result.batches };
    });
  }

  return async function handle(command: Command, options: { heartbeat?: () => Promise<void>; signal?: AbortSignal } = {}): Promise<CommandOutcome> {
    const log = logger.child({ requestId: command.data.requestId, kind: command.kind, dryRun: command.data.dryRun });
    if (!isForUs(command)) return 'ignored';
    // Before the inbox: a sweep "as of" the future is refused (dead-lettered as cutoff_in_future)
    // and leaves no trace here, so nothing can resume it later.
    if (command.kind === 'sweep') assertSweepAsOf(new Date(command.data.asOf), now(), deps.maxClockSkewMs ?? 300_000);

    const inserted = (await dataSource.query(
      `INSERT INTO retention_inbox (request_id, kind, command_id, dry_run, status, state)
       VALUES ($1, $2, $3, $4, 'running', $5)
       ON CONFLICT (request_id) DO UPDATE SET deliveries = retention_inbox.deliveries + 1,
         status = CASE WHEN retention_inbox.status = 'failed' OR ${RERUN_HELD} THEN 'running' ELSE retention_inbox.status END,
         command_id = CASE WHEN retention_inbox.status = 'failed' OR ${RERUN_HELD} THEN EXCLUDED.command_id ELSE retention_inbox.command_id END,
         state = CASE WHEN ${RERUN_HELD} THEN EXCLUDED.state ELSE retention_inbox.state END,
         ack = CASE WHEN ${RERUN_HELD} THEN NULL ELSE retention_inbox.ack END
       RETURNING status, ack, deliveries, state`,
      [command.data.requestId, command.kind, command.commandId, command.data.dryRun, initialJobState()],
    )) as Array<{ status: string; ack: Ack | null; deliveries: number; state: JobState | null }>;
    const existing = inserted[0];
    if (existing?.status === 'done' && existing.ack) {
      // Applied before: send the same ack again (the first may not have reached the coordinator).
      await dataSource.transaction((manager) => queueAck(manager, existing.ack!));
      deps.onAckQueued();
      log.info({ deliveries: existing.deliveries }, 'duplicate command: ack re-sent, nothing applied');
      return 'duplicate';
    }

    if (command.kind === 'sweep' && !command.data.dryRun) {
      // A rule the coordinator never saw, or changed since an admin enabled it, never runs for
      // real: the whole sweep is refused here, so the ledger shows a failed target, not a partial run.
      const notEnabled = policiesNotEnabled(bound.policies, command.data);
      if (notEnabled.length > 0) {
        const ack = buildAck(command, now(), {
          status: 'failed',
          error: {
            code: 'policy_not_enabled',
            retriable: false,
            message: `not enabled at the coordinator for their current definition: ${notEnabled.join(', ')} (a dry run shows what they would do; an admin enables them after the service registered them)`,
          },
        });
        await dataSource.transaction((manager) => finish(manager, command, ack, 'failed'));
        deps.onAckQueued();
        log.warn({ policies: notEnabled }, 'real sweep refused: policies not enabled for their current definition');
        return 'failed';
      }
    }

    await deps.holdsCaughtUp();
    const started = Date.now();
    const budget = createRetryBudget(deps.retry ?? DEFAULT_RETRY);
    const lockWait = createLockWait(deps.lockWait ?? DEFAULT_LOCK_WAIT);
    // What the committed batches did so far (earlier deliveries included): reported in a failed ack too.
    let progress: TableResult[] = existing?.state?.results ?? [];

    const pause = async (ms: number): Promise<void> => {
      await sleep(ms, options.signal);
      if (options.signal?.aborted) throw new TransientError('service is stopping; the job resumes from its last committed batch');
      await options.heartbeat?.().catch(() => undefined);
    };

    /** Runs the job's batches to the end; waits (with a growing pause) while rows it needs are locked. */
    async function runToEnd(): Promise<CommandOutcome> {
      for (;;) {
        const { done, filesPending, ack, batches, tables } = await step(command);
        budget.progressed();
        if (tables) progress = tables;
        // Counted after the commit, so a rolled-back batch is never counted.
        if (!command.data.dryRun) for (const b of batches ?? []) deps.metrics.recordBatch(b.policy ?? `erasure:${b.table}`, b.action, b.affected, b.held ?? 0);
        // Shutting down: stop after a committed batch; the redelivered command resumes from here.
        if (!done && options.signal?.aborted) throw new TransientError('service is stopping; the job resumes from its last committed batch');
        // Long jobs: stay in the consumer group between batches (kafkajs throttles the calls).
        await options.heartbeat?.().catch(() => undefined);
        if (filesPending) {
          // Outside any transaction: unlinking cannot be rolled back, and the queue rows say what is left.
          await deps.deleteRequestFiles!(command.data.requestId);
          continue;
        }
        if (done) {
          deps.onAckQueued();
          await deps.afterCommit?.();
          if (ack) {
            deps.metrics.observeRun(command.kind === 'sweep' ? (command.data.policy ?? 'all') : 'erasure', (Date.now() - started) / 1000);
            log.info(
              { status: ack.status, tables: ack.tables.map((t) => ({ table: t.table, policy: t.policy, matched: t.matched, held: t.held })) },
              'command applied',
            );
            return ack.status;
          }
          return 'duplicate';
        }
        // Rows another transaction holds locked were skipped: the next pass would find them locked
        // again, so wait first (no busy loop), longer while passes change nothing, and give up after
        // the lock-wait budget.
        const skipped = (batches ?? []).filter((b) => (b.skipped ?? 0) > 0);
        if (skipped.length === 0) {
          lockWait.reset();
          continue;
        }
        const wait = lockWait.skipped(skipped.reduce((n, b) => n + b.affected, 0));
        if (wait === undefined) {
          throw new RowsLockedError(`${skipped.reduce((n, b) => n + (b.skipped ?? 0), 0)} row(s) stayed locked by other transactions`);
        }
        deps.metrics.commandRetries.inc({ reason: 'rows_locked' });
        await pause(wait);
      }
    }

    for (;;) {
      try {
        return await runToEnd();
      } catch (error) {
        // Shutting down: the offset is not committed and the redelivered command resumes.
        if (options.signal?.aborted) throw error;
        const delay = error instanceof RowsLockedError ? undefined : budget.failed(error);
        if (delay === undefined) return fail(error);
        deps.metrics.commandRetries.inc({ reason: retryReason(error) ?? 'unknown' });
        log.warn({ err: safeErrorMessage(error), code: errorCode(error), attempt: budget.failures, delayMs: delay }, 'retriable failure; trying again');
        await pause(delay);
      }
    }

    /**
     * Ends the command with a `failed` ack carrying the error's code and whether a later retry may
     * pass (a spent retry budget, locked rows), so the partition moves on. Only if even this ack
     * cannot be written (the database is down) does the error reach runConsumer, which then
     * retries the command in place: nothing on this partition could progress anyway.
     */
    async function fail(error: unknown): Promise<CommandOutcome> {
      const code = errorCode(error);
      const retriable = isRetriable(error);
      log.error({ err: safeErrorMessage(error), code, retriable, failures: budget.failures }, 'command failed');
      const ack = buildAck(command, new Date(started), {
        status: 'failed',
        tables: progress,
        error: { code, message: safeErrorMessage(error), retriable },
      });
      await dataSource.transaction((manager) => finish(manager, command, ack, 'failed'));
      deps.onAckQueued();
      return 'failed';
    }
  };
}

/**
 * A new command (another command id) for an erasure this service acked `held` runs it again from
 * the start: the coordinator re-issues a held erasure when its holds have ended. The same command
 * delivered again only re-sends the stored ack.
 */
const RERUN_HELD = `(retention_inbox.status = 'done' AND retention_inbox.kind = 'erasure' AND retention_inbox.ack->>'status' = 'held' AND retention_inbox.command_id <> EXCLUDED.command_id)`;

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
