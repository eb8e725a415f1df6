import type { SweepDefinition } from '@retention/contracts';
import type { EntityManager } from 'typeorm';
import { activeManifests } from '../registry/registry.repository';

/**
 * The policies a real sweep runs, per target, with each one's definition hash from the manifest the
 * registry holds now (enabled: the caller checked). The command carries them (sweep.requested 1.1
 * `definitions`), so that a service whose rule changed since, or which has a rule this registry never
 * saw, refuses to run it for real.
 */
export async function sweepDefinitions(manager: EntityManager, targets: readonly string[], policy: string | undefined): Promise<SweepDefinition[]> {
  return (await activeManifests(manager))
    .filter((m) => targets.includes(m.service))
    .flatMap((m) =>
      m.policies
        .filter((p) => !policy || p.name === policy)
        .map((p) => ({ service: m.service, policy: p.name, ...(p.definitionHash ? { definitionHash: p.definitionHash } : {}) })),
    );
}

/** Keeps them with the request: every delivery of its command names the same ones. */
export async function storeSweepDefinitions(manager: EntityManager, requestId: string, definitions: readonly SweepDefinition[]): Promise<void> {
  await manager.query(`UPDATE retention_requests SET sweep_definitions = $2 WHERE id = $1`, [requestId, JSON.stringify(definitions)]);
}
