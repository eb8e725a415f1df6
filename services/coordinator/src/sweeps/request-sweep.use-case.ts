import { randomUUID } from 'node:crypto';
import type { ServiceRegistered } from '@retention/contracts';
import { RetentionError, ValidationError } from '@retention/contracts';
import type { EntityManager } from 'typeorm';
import { activePolicyHolds } from '../holds/legal-holds.service';
import { policyStates } from '../registry/policy-enablement';
import { activeManifests } from '../registry/registry.repository';
import { issueRequest } from '../requests/issue-request';
import { storeSweepDefinitions, sweepDefinitions } from './sweep-definitions';
import { getRequest } from '../requests/requests.repository';
import type { RequestView } from '../requests/request.views';
import type { RequestDeps } from '../requests/create-erasure-request.use-case';

export interface RequestSweep {
  service?: string;
  policy?: string;
  dryRun: boolean;
  requestedBy: string;
  reason?: string;
}

/** A real sweep of a policy nobody enabled yet: 409, with what to do. */
export class PolicyNotEnabledError extends RetentionError {
  readonly code = 'policy_not_enabled';
  readonly retriable = false;
}

/** Which registered services a sweep of (service?, policy?) must reach. */
export function sweepTargets(manifests: readonly ServiceRegistered[], filter: { service?: string; policy?: string }): string[] {
  return manifests
    .filter((m) => !filter.service || m.service === filter.service)
    .filter((m) => (filter.policy ? m.policies.some((p) => p.name === filter.policy) : m.policies.length > 0))
    .map((m) => m.service);
}

/**
 * Records a sweep (run retention policies now) like an erasure request: targets from the registry,
 * the policy holds in force, one command, and acks reconciled into the ledger with the counts per
 * policy: the compliance run log.
 */
export function requestSweepUseCase(deps: RequestDeps & { sweepDeadlineHours: number }) {
  const now = deps.now ?? (() => new Date());

  /** Checks a sweep: its targets, and every service/policy it would run with that policy's current definition hash. */
  async function planSweep(manager: EntityManager, input: RequestSweep): Promise<{ targets: string[]; policies: Map<string, string> }> {
    const manifests = await activeManifests(manager);
    if (input.service && !manifests.some((m) => m.service === input.service)) {
      throw new ValidationError('invalid sweep', [{ path: 'service', message: `no registered service "${input.service}"` }]);
    }
    const targets = sweepTargets(manifests, input);
    if (targets.length === 0) {
      throw new ValidationError('invalid sweep', [
        {
          path: input.policy ? 'policy' : 'service',
          message: input.policy ? `no registered service has policy "${input.policy}"` : 'no registered service has retention policies',
        },
      ]);
    }
    const keys = manifests
      .filter((m) => targets.includes(m.service))
      .flatMap((m) => m.policies.filter((p) => !input.policy || p.name === input.policy).map((p) => `${m.service}/${p.name}`));
    const states = new Map((await policyStates(manager)).map((p) => [`${p.service}/${p.policy}`, p]));
    if (!input.dryRun) {
      // A real run reaches only policies an admin enabled for their current definition.
      const blocked = keys.filter((key) => !states.get(key)?.enabled);
      if (blocked.length > 0) {
        throw new PolicyNotEnabledError(
          `not enabled for real runs (new, or changed since enabled): ${blocked.join(', ')}. Run the sweep with dryRun, check its counts, then enable each policy (POST /v1/services/{name}/policies/{policy}/enable)`,
        );
      }
    }
    return { targets, policies: new Map(keys.map((k) => [k, states.get(k)?.definitionHash ?? ''])) };
  }

  /** Issues the sweep in the caller's transaction (the scheduler uses its own; so does an approval). */
  async function issueSweep(manager: EntityManager, input: RequestSweep): Promise<string> {
    const { targets, policies } = await planSweep(manager, input);
    return issuePlanned(manager, input, targets, policies);
  }

  async function issuePlanned(manager: EntityManager, input: RequestSweep, targets: string[], policies: Map<string, string>): Promise<string> {
    const id = randomUUID();
    const createdAt = now();
    const holds = (await activePolicyHolds(manager)).filter((h) => !input.policy || h.policy === input.policy);
    const definitions = input.dryRun ? null : await sweepDefinitions(manager, targets, input.policy);
    await issueRequest(
      manager,
      {
        id,
        kind: 'sweep',
        dryRun: input.dryRun,
        subjectType: null,
        subjectId: null,
        subjectRef: null,
        serviceFilter: input.service ?? null,
        policyFilter: input.policy ?? null,
        asOf: createdAt,
        createdAt,
        dueAt: new Date(createdAt.getTime() + deps.sweepDeadlineHours * 3_600_000),
        holds,
        targets,
        reason: input.reason ?? null,
        requestedBy: input.requestedBy,
        idempotencyKey: null,
        firstRetryAt: new Date(createdAt.getTime() + deps.retryBaseSeconds * 1000),
        definitions,
      },
      deps.topics,
      deps.privacy,
    );
    if (definitions) await storeSweepDefinitions(manager, id, definitions);
    if (!input.dryRun) await recordRealRun(manager, policies, createdAt);
    return id;
  }

  /**
   * Runs a sweep now, unless `gate` holds it back: with the `sweep-first-run` rule, a real sweep
   * that would run a policy for the first time (or the first time since its definition changed)
   * waits for a second admin (`gate` records the approval, and its answer is returned instead).
   */
  async function requestSweep(input: RequestSweep, gate?: SweepGate): Promise<RequestView | AwaitingApproval> {
    const outcome = await deps.dataSource.transaction(async (manager): Promise<{ id: string } | { awaiting: AwaitingApproval }> => {
      const { targets, policies } = await planSweep(manager, input);
      if (!input.dryRun && gate) {
        const firstRun = await firstRealRuns(manager, policies);
        if (firstRun.length > 0) {
          return { awaiting: await gate(manager, { firstRun, definitions: Object.fromEntries([...policies].filter(([k]) => firstRun.includes(k))) }) };
        }
      }
      return { id: await issuePlanned(manager, input, targets, policies) };
    });
    if ('awaiting' in outcome) return outcome.awaiting;
    deps.onQueued();
    return getRequest(deps.dataSource, outcome.id, now());
  }

  return { requestSweep, issueSweep };
}

/** What a sweep held back for approval answers: the approval's id and status. */
export interface AwaitingApproval {
  id: string;
  status: 'awaiting_approval';
  approval: Record<string, unknown>;
}

/** Records the approval a first real run waits for. `definitions`: each such policy's definition hash now. */
export type SweepGate = (manager: EntityManager, firstRun: { firstRun: string[]; definitions: Record<string, string> }) => Promise<AwaitingApproval>;

/** `service/policy` keys among `policies` that never ran for real with the given definition. */
async function firstRealRuns(manager: EntityManager, policies: Map<string, string>): Promise<string[]> {
  const rows = (await manager.query(`SELECT service || '/' || policy AS key, last_real_run_hash FROM policy_enablement`)) as Array<{
    key: string;
    last_real_run_hash: string | null;
  }>;
  const last = new Map(rows.map((r) => [r.key, r.last_real_run_hash]));
  return [...policies].filter(([key, hash]) => last.get(key) !== hash).map(([key]) => key);
}

/** Remembers the definition each policy last ran for real with (what `sweep-first-run` compares). */
async function recordRealRun(manager: EntityManager, policies: Map<string, string>, at: Date): Promise<void> {
  const keys = [...policies.keys()];
  await manager.query(
    `UPDATE policy_enablement e SET last_real_run_hash = e.definition_hash, last_real_run_at = $2
     WHERE e.service || '/' || e.policy = ANY($1::text[])`,
    [keys, at],
  );
}
