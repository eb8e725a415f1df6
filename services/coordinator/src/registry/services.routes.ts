import { CANONICAL_PUBLIC_KEY, PolicyName, ServiceName } from '@retention/contracts';
import type { DataSource } from 'typeorm';
import { z } from 'zod';
import { type AnyRoute, defineRoute } from '../http/route';
import { enablePolicy } from './policy-enablement';
import { approveService, getService, listServiceViews, retireService } from './registry.repository';

export interface ServiceRouteDeps {
  dataSource: DataSource;
  /** Called after an approval or retirement (the coordinator reloads the keys it checks acks with). */
  onServicesChanged?: () => Promise<void>;
  now?: () => Date;
}

const NameParams = z.object({ name: ServiceName });
const PolicyParams = z.object({ name: ServiceName, policy: PolicyName });

/** The registration lifecycle: list, approve a waiting registration, retire a service. */
export function serviceRoutes(deps: ServiceRouteDeps): AnyRoute[] {
  const now = deps.now ?? (() => new Date());
  return [
    defineRoute({
      method: 'GET',
      url: '/v1/services',
      summary:
        'Every service that registered: status (pending_approval, active, retired), signing key id, who approved or retired it, and a registration waiting for approval.',
      roles: ['auditor', 'admin'],
      responses: { 200: '{items}' },
      handler: async () => ({ items: await listServiceViews(deps.dataSource) }),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/services/{name}',
      summary: 'One registered service and its lifecycle.',
      roles: ['auditor', 'admin'],
      params: NameParams,
      responses: { 200: 'The service', 404: 'No such service' },
      handler: ({ params }) => getService(deps.dataSource, params.name),
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/services/{name}/approve',
      summary:
        'Approve the registration waiting for this service: its policies apply, it becomes a target of new requests, and its signing key is pinned (its acks are checked with it).',
      roles: ['admin'],
      params: NameParams,
      // The key the admin checked: approval pins exactly it, never whatever happens to be pending.
      body: z.object({ publicKey: z.string().regex(CANONICAL_PUBLIC_KEY, 'must be the base64url public key shown as pending.publicKey') }).strict(),
      responses: { 200: 'The service, active', 404: 'No such service', 409: 'No registration waits for approval, or it presents another key' },
      handler: async ({ params, body, principal }) => {
        const view = await approveService(deps.dataSource, params.name, principal.name, now(), { expectedPublicKey: body.publicKey });
        await deps.onServicesChanged?.();
        return view;
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/services/{name}/policies/{policy}/enable',
      summary:
        "Let a policy run for real: its current definition is enabled (a new or changed policy runs dry only until then, scheduled runs included). Check its dry run's counts first.",
      roles: ['admin'],
      params: PolicyParams,
      responses: {
        200: '{service, policy, definitionHash, enabled, enabledBy, enabledAt, firstSeenAt}',
        404: 'No such service or policy',
        409: 'The service is not active',
      },
      handler: ({ params, principal }) => enablePolicy(deps.dataSource, params.name, params.policy, principal.name, now()),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/v1/services/{name}',
      summary: 'Retire a service: it is no longer a target of new requests, and its open targets are closed as `retired`; the ledger records who and why.',
      roles: ['admin'],
      params: NameParams,
      body: z.object({ reason: z.string().min(3).max(500) }).strict(),
      responses: { 200: '{service, status, closedTargets}', 404: 'No such service', 409: 'Already retired' },
      handler: async ({ params, body, principal }) => {
        const { closedTargets } = await retireService(deps.dataSource, params.name, { by: principal.name, reason: body.reason }, now());
        await deps.onServicesChanged?.();
        return { service: params.name, status: 'retired', closedTargets };
      },
    }),
  ];
}
