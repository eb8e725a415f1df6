import type { Logger } from '@retention/observability';
import { Cron } from 'croner';
import type { DataSource } from 'typeorm';
import { policyStates } from '../registry/policy-enablement';
import { activeManifests } from '../registry/registry.repository';
import { PolicyNotEnabledError, type requestSweepUseCase } from '../sweeps/request-sweep.use-case';

export interface SchedulerOptions {
  /** Cron expression (UTC) for policies that do not name their own. */
  defaultSchedule: string;
  /** A slot missed (coordinator down) is still run if it is at most this old. */
  misfireGraceSeconds: number;
  /**
   * The `sweep-first-run` approval rule is on: a policy whose current definition never ran for real
   * runs dry in its slots, since its first real run needs a second admin (an approved `POST /v1/sweeps`).
   */
  firstRunNeedsApproval?: boolean;
}

/** The latest slot of `schedule` in (now - grace, now], or null. */
export function latestDueSlot(schedule: string, now: Date, graceSeconds: number): Date | null {
  const cron = new Cron(schedule, { timezone: 'UTC', paused: true });
  let slot: Date | null = null;
  let cursor = new Date(now.getTime() - graceSeconds * 1000);
  for (let i = 0; i < 10_000; i++) {
    const next = cron.nextRun(cursor);
    if (!next || next > now) break;
    slot = next;
    cursor = next;
  }
  return slot;
}

/**
 * Runs each registered policy on its schedule: a slot is claimed once in `sweep_schedule_runs`
 * (so replicas and restarts never run it twice), and skipped while the previous sweep of that
 * policy is still pending (at most one run at a time). A policy an admin has not enabled (new, or
 * changed since) gets a dry run in its slot, and no slot earlier than the moment the policy was
 * first registered is run: the misfire grace never reaches back before it existed.
 */
export async function scheduleDueSweeps(
  deps: { dataSource: DataSource; issueSweep: ReturnType<typeof requestSweepUseCase>['issueSweep']; logger: Logger },
  options: SchedulerOptions,
  now: Date,
): Promise<number> {
  const manifests = await activeManifests(deps.dataSource.manager);
  const states = new Map((await policyStates(deps.dataSource.manager)).map((p) => [`${p.service}/${p.policy}`, p]));
  const ranForReal = options.firstRunNeedsApproval
    ? new Set(
        (
          (await deps.dataSource.query(
            `SELECT service || '/' || policy AS key FROM policy_enablement WHERE last_real_run_hash IS NOT NULL AND last_real_run_hash = definition_hash`,
          )) as Array<{ key: string }>
        ).map((r) => r.key),
      )
    : undefined;
  let issued = 0;
  for (const m of manifests) {
    for (const p of m.policies) {
      let slot: Date | null;
      try {
        slot = latestDueSlot(p.schedule ?? options.defaultSchedule, now, options.misfireGraceSeconds);
      } catch (error) {
        deps.logger.warn({ registered: m.service, policy: p.name, schedule: p.schedule, err: String(error) }, 'invalid policy schedule; policy not scheduled');
        continue;
      }
      const state = states.get(`${m.service}/${p.name}`);
      if (!slot || !state || slot < state.firstSeenAt) continue;
      const at = slot;
      // Under `sweep-first-run`, enabling a policy is not enough for its first real run: that one is approved.
      const awaitsFirstRun = ranForReal !== undefined && !ranForReal.has(`${m.service}/${p.name}`);
      const dryRun = !state.enabled || awaitsFirstRun;
      const claimAndIssue = () =>
        deps.dataSource.transaction(async (manager) => {
          const [claimed] = (await manager.query(
            `INSERT INTO sweep_schedule_runs (service, policy, scheduled_for) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING service`,
            [m.service, p.name, at],
          )) as unknown[];
          if (!claimed) return false;
          const [running] = (await manager.query(
            `SELECT id FROM retention_requests WHERE kind = 'sweep' AND status = 'pending' AND service_filter = $1 AND policy_filter = $2 AND NOT dry_run LIMIT 1`,
            [m.service, p.name],
          )) as Array<{ id: string }>;
          if (running) {
            deps.logger.warn({ registered: m.service, policy: p.name, pendingRequestId: running.id }, 'scheduled sweep skipped: previous run still pending');
            return false;
          }
          const id = await deps.issueSweep(manager, {
            service: m.service,
            policy: p.name,
            dryRun,
            requestedBy: 'scheduler',
            reason: !state.enabled
              ? `scheduled for ${at.toISOString()}; dry run: the policy is not enabled yet`
              : awaitsFirstRun
                ? `scheduled for ${at.toISOString()}; dry run: its first real run waits for an approved sweep (sweep-first-run)`
                : `scheduled for ${at.toISOString()}`,
          });
          await manager.query(`UPDATE sweep_schedule_runs SET request_id = $4 WHERE service = $1 AND policy = $2 AND scheduled_for = $3`, [
            m.service,
            p.name,
            at,
            id,
          ]);
          return true;
        });
      let didIssue: boolean;
      try {
        didIssue = await claimAndIssue();
      } catch (error) {
        // The definition changed between reading its state and issuing (a registration committed in
        // between): nothing was claimed; the next tick reads the new state and runs it dry.
        if (!(error instanceof PolicyNotEnabledError)) throw error;
        deps.logger.warn({ registered: m.service, policy: p.name }, 'scheduled sweep postponed: the policy changed and is not enabled');
        continue;
      }
      if (didIssue) issued++;
    }
  }
  return issued;
}
