import type { FastifyInstance } from 'fastify';
import { AUDITOR_PAGE_HTML, AUDITOR_PAGE_SCRIPT, AUDITOR_PAGE_STYLE } from './assets';

/**
 * The auditor page: a static shell (no data, so no token to fetch it) whose script reads the
 * auditor API with the token the auditor types in (kept in the tab's sessionStorage, never in a
 * URL). Everything it shows comes from `/v1/ledger/report`, `/v1/ledger/verify`, `/v1/policies`,
 * `/v1/services` (each target's kind) and `/v1/tasks` (open manual tasks, which an admin's token may
 * confirm from the page), so it shows nothing the API would not, and no subject ids (the report and
 * the tasks list show their keyed hashes; the page never shows a task's `subjectId`).
 */
export const AUDITOR_PAGE_ROUTES = ['/audit', '/audit/app.js', '/audit/style.css'] as const;

/** No inline code, no third-party origin, no framing, no referrer: the page talks to this server only. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' blob: data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

export function registerAuditorPage(app: FastifyInstance): void {
  const serve = (url: string, type: string, body: string) => app.get(url, async (_request, reply) => reply.headers(SECURITY_HEADERS).type(type).send(body));
  serve('/audit', 'text/html; charset=utf-8', AUDITOR_PAGE_HTML);
  serve('/audit/app.js', 'text/javascript; charset=utf-8', AUDITOR_PAGE_SCRIPT);
  serve('/audit/style.css', 'text/css; charset=utf-8', AUDITOR_PAGE_STYLE);
}
