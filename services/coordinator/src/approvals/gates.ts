import type { DataSource } from 'typeorm';
import type { createLegalHoldsService, HoldView } from '../holds/legal-holds.service';
import { awaiting } from '../requests/bulk-erasure.use-case';
import type { RequestView } from '../requests/request.views';
import type { AwaitingApproval, RequestSweep, requestSweepUseCase } from '../sweeps/request-sweep.use-case';
import type { ApprovalSettings } from './approval-rules';
import type { ApprovalsService } from './approvals.service';

/**
 * `POST /v1/sweeps` under the `sweep-first-run` rule: a real sweep that would run a policy for the
 * first time, or the first time since its definition changed, waits for a second admin. Scheduled
 * slots of such a policy run dry meanwhile (maintenance/sweep-scheduler.ts), so enabling a policy
 * alone never gives it a real run.
 */
export function gatedSweep(
  requestSweep: ReturnType<typeof requestSweepUseCase>['requestSweep'],
  approvals: ApprovalsService,
  settings: ApprovalSettings,
): (input: RequestSweep) => Promise<RequestView | AwaitingApproval> {
  if (!settings.rules.has('sweep-first-run')) return (input) => requestSweep(input);
  return (input) =>
    requestSweep(input, async (manager, { firstRun, definitions }) =>
      awaiting(
        await approvals.ask(manager, {
          kind: 'sweep',
          action: {
            ...(input.service ? { service: input.service } : {}),
            ...(input.policy ? { policy: input.policy } : {}),
            dryRun: false,
            firstRun,
            definitions,
            ...(input.reason === undefined ? {} : { reason: input.reason }),
          },
          requestedBy: input.requestedBy,
        }),
      ),
    );
}

/**
 * `DELETE /v1/legal-holds/{id}` under the `hold-release` rule: an active hold is released only once
 * a second admin approves (the same release asked twice is one approval). A hold that already
 * ended is released at once (nothing is held any more).
 */
export function gatedHoldRelease(
  dataSource: DataSource,
  holds: Pick<ReturnType<typeof createLegalHoldsService>, 'get' | 'release'>,
  approvals: ApprovalsService,
  settings: ApprovalSettings,
): (id: string, by: string) => Promise<HoldView | AwaitingApproval> {
  if (!settings.rules.has('hold-release')) return (id, by) => holds.release(id, by);
  return async (id, by) => {
    const hold = await holds.get(id);
    if (!hold.active) return holds.release(id, by);
    return dataSource.transaction(async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`approval:hold_release:${id}`]);
      const pending = await approvals.pendingFor(manager, 'hold_release', 'holdId', id);
      return awaiting(pending ?? (await approvals.ask(manager, { kind: 'hold_release', action: { holdId: id, scope: hold.scope }, requestedBy: by })));
    });
  };
}
