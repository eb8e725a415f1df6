import { z } from 'zod';
import { type AnyRoute, defineRoute } from '../http/route';
import type { ApprovalsService } from './approvals.service';

const IdParams = z.object({ id: z.uuid('must be a UUID') });
const DecisionBody = z.object({ note: z.string().min(1).max(2000).optional() }).strict();

/** Four eyes: list the actions that wait for a second admin, and approve or reject one. */
export function approvalRoutes(deps: { approvals: ApprovalsService }): AnyRoute[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/v1/approvals',
      summary:
        'Actions held back by an approval rule (RETENTION_APPROVALS), newest first: pending ones by default, or approved, rejected or all. A bulk erasure shows its count and subject types, never the ids.',
      roles: ['auditor', 'admin'],
      query: z
        .object({ status: z.enum(['pending', 'approved', 'rejected', 'all']).default('pending'), limit: z.coerce.number().int().min(1).max(500).default(50) })
        .strict(),
      responses: { 200: '{items}', 400: 'Invalid query' },
      handler: async ({ query }) => ({ items: await deps.approvals.list({ status: query.status === 'all' ? undefined : query.status, limit: query.limit }) }),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/approvals/{id}',
      summary: 'One approval: what it holds back, who asked, who decided, and what approving it did (the sweep id, the request ids, the released hold).',
      roles: ['requester', 'auditor', 'admin'],
      params: IdParams,
      responses: { 200: 'The approval', 404: 'No such approval' },
      handler: ({ params }) => deps.approvals.get(params.id),
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/approvals/{id}/approve',
      summary:
        'Approve an action another admin token asked for: it is carried out now (the sweep or the erasures are sent, the hold is released); the ledger records approval.approved with who asked and who approved.',
      roles: ['admin'],
      params: IdParams,
      body: DecisionBody,
      responses: {
        200: 'The approval, approved, with its result',
        403: 'approver_is_requester: the token that asked cannot approve its own action',
        404: 'No such approval',
        409: 'Already decided, or what it was asked for changed since (a policy definition, a hold already released)',
      },
      handler: ({ params, body, principal }) => deps.approvals.approve(params.id, principal.name, body.note),
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/approvals/{id}/reject',
      summary:
        'Reject an action another admin token asked for: nothing is sent; its subjects (a bulk erasure) are deleted; the ledger records approval.rejected.',
      roles: ['admin'],
      params: IdParams,
      body: DecisionBody,
      responses: {
        200: 'The approval, rejected',
        403: 'approver_is_requester: the token that asked cannot reject its own action',
        404: 'No such approval',
        409: 'Already decided',
      },
      handler: ({ params, body, principal }) => deps.approvals.reject(params.id, principal.name, body.note),
    }),
  ];
}
