import type { SweepDefinition } from '@retention/contracts';
import type { Policies } from './define-policies';
import { buildManifest } from './manifest';

/**
 * The policies a real sweep would run here that the coordinator did not enable for their current
 * definition: not listed for this service in the command's `definitions`, or listed with another
 * definition hash. Empty when the command lists none (sweep.requested 1.0): nothing to check.
 */
export function policiesNotEnabled(policies: Policies, sweep: { policy?: string; definitions?: readonly SweepDefinition[] }): string[] {
  if (!sweep.definitions) return [];
  const current = new Map(buildManifest(policies, '0').policies.map((p) => [p.name, p.definitionHash]));
  const enabled = new Map(sweep.definitions.filter((d) => d.service === policies.service).map((d) => [d.policy, d.definitionHash]));
  return [...current]
    .filter(([name]) => !sweep.policy || name === sweep.policy)
    .filter(([name, hash]) => !enabled.has(name) || (enabled.get(name) !== undefined && enabled.get(name) !== hash))
    .map(([name]) => name);
}
