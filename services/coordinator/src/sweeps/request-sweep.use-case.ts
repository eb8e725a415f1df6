import { randomUUID } from 'node:crypto';
import type { ServiceRegistered } from '@retention/contracts';
import { RetentionError, ValidationError } from '@retention/contracts';
import type { EntityManager } from 'typeorm';
import { activePolicyHolds } from '../holds/legal-holds.service';
import { enabledPolicies } from '../registry/policy-enablement';
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

  /** Issues the sweep in the caller's transaction (the scheduler uses its own). */
  async function issueSweep(manager: EntityManager, input: RequestSweep): Promise<string> {
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
    if (!input.dryRun) {
      // A real run reaches only policies an admin enabled for their current definition.
      const enabled = await enabledPolicies(manager);
      const blocked = manifests
        .filter((m) => targets.includes(m.service))
        .flatMap((m) => m.policies.filter((p) => !input.policy || p.name === input.policy).map((p) => `${m.service}/${p.name}`))
        .filter((key) => !enabled.has(key));
      if (blocked.length > 0) {
        throw new PolicyNotEnabledError(
          `not enabled for real runs (new, or changed since enabled): ${blocked.join(', ')}. Run the sweep with dryRun, check its counts, then enable each policy (POST /v1/services/{name}/policies/{policy}/enable)`,
        );
      }
    }
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
    return id;
  }

  async function requestSweep(input: RequestSweep): Promise<RequestView> {
    const id = await deps.dataSource.transaction((manager) => issueSweep(manager, input));
    deps.onQueued();
    return getRequest(deps.dataSource, id, now());
  }

  return { requestSweep, issueSweep };
}
