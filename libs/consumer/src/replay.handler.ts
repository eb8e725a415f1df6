import { encodeEvent, errorCode, EventTypes, isRetriable, type ReplayRequested, type ReplayResult, type TopicNames } from '@retention/contracts';
import { currentTraceHeaders, type Logger } from '@retention/observability';
import { enqueueOutbox } from '@retention/outbox';
import { activeScopedHolds, type BoundPolicies, countKept, initialJobState, type JobState, planErasure, runJobBatch } from '@retention/policy';
import type { DataSource, EntityManager } from 'typeorm';
import type { RetentionMetrics } from './metrics';
import { safeErrorMessage } from './pg-errors';
import { findSubjectIds } from './subject-finder';

export interface ReplayHandlerDeps {
  dataSource: DataSource;
  bound: BoundPolicies;
  topics: TopicNames;
  logger: Logger;
  metrics?: RetentionMetrics;
  /** The deletion journal's key (see subject-hash.ts). */
  journalKey: Buffer;
  policyHash?: string;
  onResultQueued: () => void;
  /** Runs after the replay's batches committed (deletes the files their rows named). */
  afterCommit?: () => Promise<void>;
  /**
   * Resolves once the holds replica has read the holds topic to its end. A replay follows a restore,
   * which brought back the replica as it was in the backup: a hold placed since must be in force
   * before anything is erased again.
   */
  holdsCaughtUp: () => Promise<void>;
  /** Passes over rows other transactions keep locked before an item fails `rows_locked` (default 50, 100 ms apart). */
  maxLockedPasses?: number;
  now?: () => Date;
}

type ItemResult = ReplayResult['items'][number];

/**
 * Re-applies erasures after the service's database was restored from a backup, without any raw
 * id: each item names a request and the keyed hash the service sent in its ack. An item whose
 * request the (restored) journal still has is skipped: journal and data come from the same
 * snapshot, so its rows were already gone in the backup. The others are found by hash (one pass
 * over each subject column for the whole command), erased again with the erasure's own plan and
 * today's holds, in batches of short transactions, and journaled again in the last one. No inbox
 * row and no ack: the coordinator's request stays as it was; the `replay.result` says what
 * happened. Safe to replay: a second run finds nothing left and the journal entry.
 */
export function createReplayHandler(deps: ReplayHandlerDeps): (replay: ReplayRequested) => Promise<'ignored' | ReplayResult> {
  const { dataSource, bound, logger } = deps;
  const service = bound.policies.service;
  const now = deps.now ?? (() => new Date());

  async function journal(manager: EntityManager, item: ReplayRequested['items'][number], tables: ItemResult['tables']): Promise<void> {
    await manager.query(
      `INSERT INTO retention_deletion_journal (request_id, subject_type, subject_hash, erased_at, tables, policy_hash)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (request_id) DO NOTHING`,
      [
        item.requestId,
        item.subjectType,
        item.subjectHash,
        now(),
        JSON.stringify(tables.map((t) => ({ table: t.table, action: t.action }))),
        deps.policyHash ?? null,
      ],
    );
  }

  /** Erases one subject again, batch by batch; the last transaction journals it. */
  async function erase(item: ReplayRequested['items'][number], id: string): Promise<ItemResult> {
    let state: JobState = initialJobState();
    let lockedPasses = 0;
    for (;;) {
      const step = await dataSource.transaction(async (manager) => {
        const holds = await activeScopedHolds(manager);
        const plan = planErasure(bound, { type: item.subjectType, id }, holds);
        if (plan.status === 'not_applicable')
          return { done: true as const, result: { requestId: item.requestId, status: 'not_applicable' as const, tables: [] } };
        if (plan.status === 'held') {
          const tables = await countKept(manager, bound, plan.steps, state.results);
          return { done: true as const, result: { requestId: item.requestId, status: 'held' as const, tables } };
        }
        const run = await runJobBatch(manager, bound, plan.steps, state, false);
        for (const b of run.batches)
          if (b.affected > 0)
            await manager.query(
              `INSERT INTO retention_audit (request_id, kind, policy, table_name, action, dry_run, matched, deleted, anonymized, archived, held)
               VALUES ($1, 'replay', NULL, $2, $3, false, $4, $5, $6, 0, $7)`,
              [
                item.requestId,
                b.table,
                b.action,
                b.affected + (b.held ?? 0),
                b.action === 'delete' ? b.affected : 0,
                b.action === 'anonymize' ? b.affected : 0,
                b.held ?? 0,
              ],
            );
        if (!run.done) return { done: false as const, state: run.state, batches: run.batches };
        const tables = run.state.results;
        const held = tables.reduce((n, t) => n + t.held, 0);
        if (held > 0) return { done: true as const, result: { requestId: item.requestId, status: 'held' as const, tables }, batches: run.batches };
        await journal(manager, item, tables);
        return { done: true as const, result: { requestId: item.requestId, status: 'reapplied' as const, tables }, batches: run.batches };
      });
      for (const b of step.batches ?? []) deps.metrics?.recordBatch(`erasure:${b.table}`, b.action, b.affected, b.held ?? 0);
      if (step.done) return step.result;
      state = step.state;
      // Rows another transaction keeps locked were passed over: wait a little, and give up in the end.
      if (step.batches.some((b) => (b.skipped ?? 0) > 0 && b.affected === 0)) {
        lockedPasses += 1;
        if (lockedPasses >= (deps.maxLockedPasses ?? 50)) {
          return {
            requestId: item.requestId,
            status: 'failed',
            tables: state.results,
            error: { code: 'rows_locked', message: 'rows stayed locked by other transactions', retriable: true },
          };
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  async function apply(replay: ReplayRequested): Promise<ItemResult[]> {
    const journaled = new Set(
      (
        (await dataSource.query(`SELECT request_id FROM retention_deletion_journal WHERE request_id = ANY($1::uuid[])`, [
          replay.items.map((i) => i.requestId),
        ])) as Array<{ request_id: string }>
      ).map((r) => r.request_id),
    );
    const todo = replay.items.filter((i) => !journaled.has(i.requestId) && bound.policies.subjects[i.subjectType]?.length);
    const ids = new Map<string, Map<string, string>>();
    for (const type of new Set(todo.map((i) => i.subjectType))) {
      const hashes = new Set(todo.filter((i) => i.subjectType === type).map((i) => i.subjectHash));
      ids.set(type, await findSubjectIds(dataSource.manager, bound, deps.journalKey, type, hashes));
    }
    const results: ItemResult[] = [];
    for (const item of replay.items) {
      if (journaled.has(item.requestId)) {
        results.push({ requestId: item.requestId, status: 'already_journaled', tables: [] });
        continue;
      }
      if (!bound.policies.subjects[item.subjectType]?.length) {
        results.push({ requestId: item.requestId, status: 'not_applicable', tables: [] });
        continue;
      }
      const id = ids.get(item.subjectType)?.get(item.subjectHash);
      try {
        if (id === undefined) {
          await dataSource.transaction((manager) => journal(manager, item, []));
          results.push({ requestId: item.requestId, status: 'nothing_left', tables: [] });
        } else results.push(await erase(item, id));
      } catch (error) {
        logger.error({ requestId: item.requestId, err: safeErrorMessage(error), code: errorCode(error) }, 'replaying an erasure failed');
        results.push({
          requestId: item.requestId,
          status: 'failed',
          tables: [],
          error: { code: errorCode(error), message: safeErrorMessage(error), retriable: isRetriable(error) },
        });
      }
    }
    return results;
  }

  return async function handleReplay(replay: ReplayRequested): Promise<'ignored' | ReplayResult> {
    if (!replay.targets.includes(service)) return 'ignored';
    await deps.holdsCaughtUp();
    const startedAt = now();
    const items = await apply(replay);
    await deps.afterCommit?.();
    const result: ReplayResult = { replayId: replay.replayId, service, startedAt: startedAt.toISOString(), finishedAt: now().toISOString(), items };
    const { value } = encodeEvent(EventTypes.replayResult, result, { source: `/retention/services/${service}` });
    await dataSource.transaction((manager) =>
      enqueueOutbox(manager, [{ topic: deps.topics.acks, key: replay.replayId, value, headers: currentTraceHeaders() }]),
    );
    deps.onResultQueued();
    const count = (status: ItemResult['status']): number => items.filter((i) => i.status === status).length;
    logger.warn(
      {
        replayId: replay.replayId,
        items: items.length,
        reapplied: count('reapplied'),
        alreadyJournaled: count('already_journaled'),
        nothingLeft: count('nothing_left'),
        held: count('held'),
        failed: count('failed'),
      },
      'erasures replayed after a restore',
    );
    return result;
  };
}
