import { ConflictError, NotFoundError, type ServiceRegistered } from '@retention/contracts';
import type { DataSource, EntityManager } from 'typeorm';
import { appendLedger } from '../ledger/ledger.repository';
import { DEFINITION_HASH_SQL } from '../migrations/1765100000500-policy-enablement';
import { activeManifests } from './registry.repository';

/** Whether a policy may run for real: enabled for exactly its current definition. */
const ENABLED_SQL = `(e.enabled_hash IS NOT NULL AND e.enabled_hash = e.definition_hash)`;

export interface PolicyState {
  service: string;
  policy: string;
  definitionHash: string;
  firstSeenAt: Date;
  /** Enabled for real runs; false = new, or changed since it was enabled: dry runs only. */
  enabled: boolean;
  enabledBy: string | null;
  enabledAt: Date | null;
}

/**
 * Records the policies of a manifest that became the service's active one: a new policy is first
 * seen now; a changed one gets its new definition hash (and so is no longer enabled, unless
 * `autoEnable`). Policies the manifest no longer has are left as they were (a later manifest may
 * bring them back).
 */
export async function syncPolicies(manager: EntityManager, manifest: ServiceRegistered, at: Date, autoEnable: boolean): Promise<void> {
  await manager.query(
    `INSERT INTO policy_enablement AS e (service, policy, definition_hash, first_seen_at, enabled_hash, enabled_by, enabled_at)
     SELECT $1, p->>'name', ${DEFINITION_HASH_SQL('p')}, $3,
       CASE WHEN $4 THEN ${DEFINITION_HASH_SQL('p')} END, CASE WHEN $4 THEN 'configuration' END, CASE WHEN $4 THEN $3::timestamptz END
     FROM jsonb_array_elements($2::jsonb->'policies') p
     ON CONFLICT (service, policy) DO UPDATE SET definition_hash = EXCLUDED.definition_hash,
       enabled_hash = CASE WHEN $4 THEN EXCLUDED.definition_hash ELSE e.enabled_hash END,
       enabled_by = CASE WHEN $4 AND e.enabled_hash IS DISTINCT FROM EXCLUDED.definition_hash THEN 'configuration' ELSE e.enabled_by END,
       enabled_at = CASE WHEN $4 AND e.enabled_hash IS DISTINCT FROM EXCLUDED.definition_hash THEN $3::timestamptz ELSE e.enabled_at END`,
    [manifest.service, JSON.stringify(manifest), at, autoEnable],
  );
}

/** An admin's go-ahead for the current definition of a policy; idempotent. */
export async function enablePolicy(dataSource: DataSource, service: string, policy: string, by: string, at: Date): Promise<PolicyState> {
  return dataSource.transaction(async (manager) => {
    const [active] = (await manager.query(`SELECT status FROM registered_services WHERE service = $1`, [service])) as Array<{ status: string }>;
    if (!active) throw new NotFoundError(`no registered service "${service}"`);
    if (active.status !== 'active') throw new ConflictError(`service "${service}" is ${active.status}; approve it first`);
    const rows = (await manager.query(
      `UPDATE policy_enablement e SET enabled_hash = definition_hash, enabled_by = $3, enabled_at = $4
       WHERE service = $1 AND policy = $2 AND enabled_hash IS DISTINCT FROM definition_hash RETURNING definition_hash`,
      [service, policy, by, at],
    )) as [Array<{ definition_hash: string }>, number];
    const [state] = await policyStates(manager, { service, policy });
    if (!state) throw new NotFoundError(`service "${service}" has no policy "${policy}"`);
    if (rows[1] > 0) {
      await appendLedger(manager, [{ requestId: null, type: 'policy.enabled', service, body: { policy, definitionHash: state.definitionHash, by } }], at);
    }
    return state;
  });
}

export async function policyStates(manager: EntityManager, filter: { service?: string; policy?: string } = {}): Promise<PolicyState[]> {
  const rows = (await manager.query(
    `SELECT e.service, e.policy, e.definition_hash, e.first_seen_at, ${ENABLED_SQL} AS enabled, e.enabled_by, e.enabled_at
     FROM policy_enablement e WHERE ($1::text IS NULL OR e.service = $1) AND ($2::text IS NULL OR e.policy = $2) ORDER BY e.service, e.policy`,
    [filter.service ?? null, filter.policy ?? null],
  )) as Array<{
    service: string;
    policy: string;
    definition_hash: string;
    first_seen_at: Date;
    enabled: boolean;
    enabled_by: string | null;
    enabled_at: Date | null;
  }>;
  return rows.map((r) => ({
    service: r.service,
    policy: r.policy,
    definitionHash: r.definition_hash,
    firstSeenAt: new Date(r.first_seen_at),
    enabled: r.enabled,
    enabledBy: r.enabled_by,
    enabledAt: r.enabled_at ? new Date(r.enabled_at) : null,
  }));
}

/** `service/policy` keys of the policies that may run for real. */
export async function enabledPolicies(manager: EntityManager): Promise<Set<string>> {
  return new Set((await policyStates(manager)).filter((s) => s.enabled).map((s) => `${s.service}/${s.policy}`));
}

/** Active services' manifests, each policy with whether it may run for real, and since when it exists. */
export async function manifestsWithPolicyStates(dataSource: DataSource) {
  const manifests = await activeManifests(dataSource.manager);
  const states = new Map((await policyStates(dataSource.manager)).map((p) => [`${p.service}/${p.policy}`, p]));
  return manifests.map((m) => ({
    ...m,
    policies: m.policies.map((p) => {
      const state = states.get(`${m.service}/${p.name}`);
      return {
        ...p,
        enabled: state?.enabled ?? false,
        enabledBy: state?.enabledBy ?? null,
        enabledAt: state?.enabledAt?.toISOString() ?? null,
        firstSeenAt: state?.firstSeenAt.toISOString() ?? null,
        definitionHash: state?.definitionHash ?? null,
      };
    }),
  }));
}
