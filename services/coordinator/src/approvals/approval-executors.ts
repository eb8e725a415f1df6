import { ConflictError } from '@retention/contracts';
import type { EntityManager } from 'typeorm';
import type { createLegalHoldsService } from '../holds/legal-holds.service';
import { policyStates } from '../registry/policy-enablement';
import type { RequestDeps } from '../requests/create-erasure-request.use-case';
import { issueErasuresBulk } from '../requests/issue-erasures-bulk';
import type { requestSweepUseCase } from '../sweeps/request-sweep.use-case';
import type { ApprovalExecutors } from './approvals.service';

/**
 * What approving does, per kind, in the approval's transaction: the sweep is issued (unless a
 * policy it was asked for changed since: then the approver would approve something unseen), the
 * bulk erasure's requests are issued from its sealed subjects, the hold is released. The action
 * runs as the admin who asked for it (`requestedBy`); the approver is in the approval's entry.
 */
export function approvalExecutors(deps: {
  requestDeps: RequestDeps;
  issueSweep: ReturnType<typeof requestSweepUseCase>['issueSweep'];
  holds: Pick<ReturnType<typeof createLegalHoldsService>, 'releaseIn'>;
}): ApprovalExecutors {
  return {
    sweep: async (manager: EntityManager, approved) => {
      const a = approved.action as { service?: string; policy?: string; reason?: string; definitions?: Record<string, string> };
      const current = new Map((await policyStates(manager)).map((p) => [`${p.service}/${p.policy}`, p.definitionHash]));
      const changed = Object.entries(a.definitions ?? {})
        .filter(([key, hash]) => current.get(key) !== hash)
        .map(([key]) => key);
      if (changed.length > 0) {
        throw new ConflictError(`changed since this approval was asked: ${changed.join(', ')}; reject it and ask for the sweep again`);
      }
      const requestId = await deps.issueSweep(manager, {
        service: a.service,
        policy: a.policy,
        dryRun: false,
        reason: a.reason,
        requestedBy: approved.requestedBy,
      });
      return { requestId };
    },
    bulk_erasure: async (manager, approved, at) => {
      const a = approved.action as { dryRun: boolean; reason?: string; idempotencyKey?: string };
      const items = await issueErasuresBulk(
        manager,
        {
          lines: await approved.lines(),
          dryRun: a.dryRun,
          reason: a.reason,
          requestedBy: approved.requestedBy,
          // The call's key (an approval's own key also names its lines); older approvals kept only that one.
          idempotencyKey: a.idempotencyKey ?? approved.idempotencyKey ?? undefined,
        },
        deps.requestDeps,
        at,
      );
      return { created: items.filter((i) => i.created).length, items: items.map(({ line, id }) => ({ line, id })) };
    },
    hold_release: async (manager, approved, at) => {
      const holdId = String(approved.action.holdId);
      if (!(await deps.holds.releaseIn(manager, holdId, approved.requestedBy, at))) throw new ConflictError(`legal hold ${holdId} is already released`);
      return { holdId, released: true };
    },
  };
}
