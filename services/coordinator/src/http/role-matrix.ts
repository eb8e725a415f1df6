import type { Role } from '../config';

/**
 * Who may call what: every route the coordinator serves, with the roles whose token it accepts
 * (`[]` = no token needed). This table is the documentation's source: the README's API table and
 * docs/api.md mirror it (a unit test compares them), and an e2e test calls every route the server
 * actually serves with every role and asserts exactly this, so a route missing here fails it.
 *
 * Least privilege: the platform operator's `admin` token runs sweeps, places holds and retries,
 * but does not erase people (separation of duties: that is `requester`) and does not read the
 * ledger (`auditor`). Reads that operators need to do their job stay open to them: a request's
 * status (to retry its failed targets), the request and sweep lists, policies (the names sweeps
 * and holds take), holds. Auditors read everything that is recorded, holds included (a held
 * erasure is explained by its holds) but change nothing. Any token may read the OpenAPI document. The auditor page's
 * files are open (they hold no data: the page reads the API with the auditor's token).
 */
export const ROLE_MATRIX = {
  'POST /v1/erasure-requests': ['requester'],
  'GET /v1/erasure-requests/{id}': ['requester', 'auditor', 'admin'],
  'GET /v1/erasure-requests/{id}/receipt': ['requester', 'auditor'],
  'GET /v1/erasure-requests': ['auditor', 'admin'],
  'POST /v1/erasure-requests/search': ['auditor', 'admin'],
  'POST /v1/erasure-requests/bulk': ['requester'],
  'POST /v1/erasure-requests/{id}/retry': ['admin'],
  'POST /v1/erasure-requests/{id}/cancel': ['requester', 'admin'],
  'POST /v1/sweeps': ['admin'],
  'GET /v1/sweeps/{id}': ['auditor', 'admin'],
  'GET /v1/sweeps': ['auditor', 'admin'],
  'POST /v1/legal-holds': ['admin'],
  'GET /v1/legal-holds': ['auditor', 'admin'],
  'POST /v1/legal-holds/search': ['auditor', 'admin'],
  'DELETE /v1/legal-holds/{id}': ['admin'],
  'GET /v1/policies': ['auditor', 'admin'],
  'GET /v1/ledger/report': ['auditor'],
  'GET /v1/ledger/verify': ['auditor'],
  'GET /v1/services': ['auditor', 'admin'],
  'GET /v1/services/{name}': ['auditor', 'admin'],
  'POST /v1/services/{name}/approve': ['admin'],
  'DELETE /v1/services/{name}': ['admin'],
  'POST /v1/services/{name}/policies/{policy}/enable': ['admin'],
  'POST /v1/services/{name}/replay': ['admin'],
  'GET /v1/approvals': ['auditor', 'admin'],
  'GET /v1/approvals/{id}': ['requester', 'auditor', 'admin'],
  'POST /v1/approvals/{id}/approve': ['admin'],
  'POST /v1/approvals/{id}/reject': ['admin'],
  'POST /v1/targets': ['admin'],
  'POST /v1/targets/{name}/callback': [],
  'POST /v1/targets/{name}/rotate-secret': ['admin'],
  'GET /v1/tasks': ['auditor', 'admin'],
  'POST /v1/erasure-requests/{id}/targets/{name}/confirm': ['admin'],
  'GET /v1/openapi.json': ['requester', 'auditor', 'admin'],
  'GET /metrics': [],
  'GET /healthz': [],
  'GET /readyz': [],
  'GET /audit': [],
  'GET /audit/app.js': [],
  'GET /audit/style.css': [],
} as const satisfies Record<string, readonly Role[]>;

export type RouteKey = keyof typeof ROLE_MATRIX;
