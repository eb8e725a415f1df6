import type { Issue, ServiceRegistered } from '@retention/contracts';

export interface HoldNames {
  scope: 'subject' | 'policy' | 'record';
  subject?: { type: string };
  service?: string;
  policy?: string;
  table?: string;
}

const tablesOf = (m: ServiceRegistered): Set<string> =>
  new Set([...m.subjects.flatMap((s) => s.tables.map((t) => t.table)), ...m.policies.map((p) => p.table)]);

/**
 * What a hold names that no registered service has (a service, a policy, a table of that service,
 * a subject type): such a hold would protect nothing (a typo), so it is refused naming the field.
 * `manifests` are the services `GET /v1/policies` shows.
 */
export function unregisteredHoldNames(hold: HoldNames, manifests: readonly ServiceRegistered[]): Issue[] {
  const service = hold.service === undefined ? undefined : manifests.find((m) => m.service === hold.service);
  if (hold.service !== undefined && !service) return [{ path: 'service', message: `no registered service "${hold.service}"` }];
  const candidates = service ? [service] : manifests;
  const where = service ? `registered service "${service.service}"` : 'registered service';
  if (hold.scope === 'subject' && hold.subject && !candidates.some((m) => m.subjects.some((s) => s.type === hold.subject!.type))) {
    return [{ path: 'subject.type', message: `no ${where} stores subjects of type "${hold.subject.type}"` }];
  }
  if (hold.policy !== undefined && !candidates.some((m) => m.policies.some((p) => p.name === hold.policy))) {
    return [{ path: 'policy', message: `no ${where} has a policy "${hold.policy}"` }];
  }
  if (hold.scope === 'record' && hold.table !== undefined && !candidates.some((m) => tablesOf(m).has(hold.table!))) {
    return [{ path: 'table', message: `no ${where} declares a table "${hold.table}" (in its subjects or policies)` }];
  }
  return [];
}
