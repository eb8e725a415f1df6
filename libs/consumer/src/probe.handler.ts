import { encodeEvent, EventTypes, type ProbeRequested, type ProbeResult, type TopicNames } from '@retention/contracts';
import { currentTraceHeaders, type Logger } from '@retention/observability';
import { enqueueOutbox } from '@retention/outbox';
import { activeScopedHolds, type BoundPolicies, countStep, planErasure } from '@retention/policy';
import type { DataSource } from 'typeorm';
import { findSubjectIds } from './subject-finder';

export interface ProbeHandlerDeps {
  dataSource: DataSource;
  bound: BoundPolicies;
  topics: TopicNames;
  logger: Logger;
  /** The deletion journal's key (see subject-hash.ts). */
  journalKey: Buffer;
  policyHash?: string;
  /** Called after the result was written to the outbox, so the relay publishes it at once. */
  onResultQueued: () => void;
  /** Resolves once the holds replica has read the holds topic to its end (held rows count as held, not found). */
  holdsCaughtUp: () => Promise<void>;
  /** Distinct subject values read per query while scanning a subject column (default 10,000). */
  scanPage?: number;
  now?: () => Date;
}

type ItemResult = ProbeResult['items'][number];

/**
 * Answers a probe: for each erased subject it names (by request id), how many rows of this
 * service's subject tables still link to it, and how many of those a legal hold keeps.
 *
 * The service never kept the raw id, so it finds the subject by its keyed hash (the journal's, or
 * the one the probe carries for an entry a restore lost): it reads the distinct values of each
 * subject column in index order, hashes each, and counts the rows of the values whose hash is
 * asked for with the erasure's own plan (same holds, same columns). Cost per probe command: one
 * pass over the subject column's index per subject table and one HMAC per distinct value (a
 * command carries up to 1,000 subjects, so a batch of probes shares the pass); nothing is
 * written but the result. Safe to replay: it only reads.
 */
export function createProbeHandler(deps: ProbeHandlerDeps): (probe: ProbeRequested) => Promise<'ignored' | ProbeResult> {
  const { dataSource, bound, logger } = deps;
  const service = bound.policies.service;
  const now = deps.now ?? (() => new Date());
  const page = deps.scanPage ?? 10_000;

  async function count(probe: ProbeRequested, startedAt: Date): Promise<ProbeResult> {
    return dataSource.transaction('REPEATABLE READ', async (manager) => {
      const journal = (await manager.query(`SELECT request_id, subject_type, subject_hash FROM retention_deletion_journal WHERE request_id = ANY($1::uuid[])`, [
        probe.items.map((i) => i.requestId),
      ])) as Array<{ request_id: string; subject_type: string; subject_hash: string }>;
      const byRequest = new Map(journal.map((j) => [j.request_id, j]));
      const holds = await activeScopedHolds(manager);
      const items: ItemResult[] = [];
      // Subject type → hashes asked for; each subject table is scanned once per type.
      const wanted = new Map<string, Set<string>>();
      const hashOf = new Map<string, string>();
      for (const item of probe.items) {
        const hash = byRequest.get(item.requestId)?.subject_hash ?? item.subjectHash;
        if (!hash || !bound.policies.subjects[item.subjectType]?.length) continue;
        hashOf.set(item.requestId, hash);
        if (!wanted.has(item.subjectType)) wanted.set(item.subjectType, new Set());
        wanted.get(item.subjectType)!.add(hash);
      }
      const values = new Map<string, Map<string, string>>();
      for (const [type, hashes] of wanted) values.set(type, await findSubjectIds(manager, bound, deps.journalKey, type, hashes, page));
      for (const item of probe.items) {
        if (!bound.policies.subjects[item.subjectType]?.length) {
          items.push({ requestId: item.requestId, status: 'not_applicable', remaining: 0, held: 0, tables: [] });
          continue;
        }
        const hash = hashOf.get(item.requestId);
        if (!hash) {
          items.push({ requestId: item.requestId, status: 'unknown', remaining: 0, held: 0, tables: [] });
          continue;
        }
        const id = values.get(item.subjectType)?.get(hash);
        if (id === undefined) {
          const tables = (bound.policies.subjects[item.subjectType] ?? []).map((s) => ({ table: s.table, remaining: 0, held: 0 }));
          items.push({ requestId: item.requestId, status: 'clean', remaining: 0, held: 0, tables });
          continue;
        }
        // The erasure's own plan: the same tables, columns and holds decide what "still there" means.
        const plan = planErasure(bound, { type: item.subjectType, id }, holds);
        const tables: ItemResult['tables'] = [];
        if (plan.status !== 'not_applicable') {
          for (const step of plan.steps) {
            if (step.kind !== 'table') continue;
            const { due, held } = await countStep(manager, bound, step);
            tables.push({ table: step.table, remaining: due, held });
          }
        }
        const remaining = tables.reduce((n, t) => n + t.remaining, 0);
        const held = tables.reduce((n, t) => n + t.held, 0);
        items.push({ requestId: item.requestId, status: remaining > 0 ? 'found' : held > 0 ? 'held' : 'clean', remaining, held, tables });
      }
      return { probeId: probe.probeId, service, startedAt: startedAt.toISOString(), finishedAt: now().toISOString(), policyHash: deps.policyHash, items };
    });
  }

  return async function handleProbe(probe: ProbeRequested): Promise<'ignored' | ProbeResult> {
    if (!probe.targets.includes(service)) return 'ignored';
    await deps.holdsCaughtUp();
    const result = await count(probe, now());
    const { value } = encodeEvent(EventTypes.probeResult, result, { source: `/retention/services/${service}` });
    await dataSource.transaction((manager) => enqueueOutbox(manager, [{ topic: deps.topics.acks, key: probe.probeId, value, headers: currentTraceHeaders() }]));
    deps.onResultQueued();
    const found = result.items.filter((i) => i.status === 'found');
    const fields = { probeId: probe.probeId, trigger: probe.trigger, items: result.items.length, found: found.length };
    if (found.length > 0) logger.error({ ...fields, requestIds: found.map((i) => i.requestId) }, 'probe found data of erased subjects');
    else logger.info(fields, 'probe answered');
    return result;
  };
}
