import { Identifier, PolicyName, ServiceName, Subject, ValidationError } from '@retention/contracts';
import { z } from 'zod';
import type { createLegalHoldsService } from '../holds/legal-holds.service';
import { appendLedger } from '../ledger/ledger.repository';
import type { LedgerService } from '../ledger/ledger-service';
import { buildReport, reportToCsv } from '../ledger/report';
import type { createErasureRequestUseCase } from '../requests/create-erasure-request.use-case';
import { decodeCursor } from '../requests/request-cursor';
import { cancelScheduledRequest } from '../requests/cancel-request';
import { getRequest, listRequests, retryFailedTargets } from '../requests/requests.repository';
import { subjectRef } from '../subject-ref';
import type { requestSweepUseCase } from '../sweeps/request-sweep.use-case';
import { type AnyRoute, defineRoute } from './route';
import { manifestsWithPolicyStates } from '../registry/policy-enablement';
import { serviceRoutes } from '../registry/services.routes';
import { replayRoutes, type ReplayRouteDeps } from '../probes/replay.routes';
import type { DataSource } from 'typeorm';

export interface RouteDeps {
  dataSource: DataSource;
  hmacKey: string;
  createErasureRequest: ReturnType<typeof createErasureRequestUseCase>;
  requestSweep: ReturnType<typeof requestSweepUseCase>['requestSweep'];
  holds: ReturnType<typeof createLegalHoldsService>;
  /** Releases a hold, or (the `hold-release` approval rule) records the approval it waits for. Default: `holds.release`. */
  releaseHold?: (id: string, by: string) => Promise<unknown>;
  /** Wakes the leader's maintenance loop (redelivery) after a retry. */
  onRetry: () => void;
  /** After a service was approved or retired (the keys acks are checked with change). */
  onServicesChanged?: () => Promise<void>;
  /** Replay after restore (`POST /v1/services/{name}/replay`). */
  replay?: ReplayRouteDeps;
  /** Checkpoints, verification and receipts. */
  ledger: Pick<LedgerService, 'verify' | 'receipt' | 'latestCheckpoint'>;
  now?: () => Date;
}

const IdParams = z.object({ id: z.uuid('must be a UUID') });
/** The report's window when the query names none: the last 30 days. */
const REPORT_DEFAULT_DAYS = 30;
/** An ISO 8601 instant in years 1970–9999 (UTC): outside, PostgreSQL or the JavaScript Date would not agree on it. */
const InstantText = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time with offset, e.g. 2026-01-01T00:00:00Z' }).refine((s) => {
  const t = new Date(s).getTime();
  return t >= Date.UTC(1970, 0, 1) && t < Date.UTC(10000, 0, 1);
}, 'must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z');
const Instant = InstantText.transform((s) => new Date(s));
/** A subject in an HTTP body: unknown keys are refused (the Kafka contract ignores them, for forward compatibility). */
const HttpSubject = Subject.strict();
/** A list cursor, decoded and checked before it can reach SQL. */
const Cursor = z.string().transform((s, ctx) => {
  const cursor = decodeCursor(s);
  if (!cursor) ctx.addIssue({ code: 'custom', message: 'invalid: not a cursor returned by this API (pass nextCursor as it is)' });
  return cursor ?? z.NEVER;
});
const Limit = z.coerce.number().int().min(1).max(500).default(50);
const Status = z.enum(['scheduled', 'pending', 'completed', 'failed', 'held', 'overdue', 'cancelled']);

/** A subject's keyed hash, as requests, holds and receipts show it: a URL may carry this, never the id. */
const SubjectRefParam = z.string().regex(/^[0-9a-f]{64}$/, "must be the subject's keyed hash (subjectRef: 64 hex digits)");
const listFilters = {
  status: Status.optional(),
  from: Instant.optional(),
  to: Instant.optional(),
  limit: Limit,
  cursor: Cursor.optional(),
};
// A subject id never travels in a URL (proxies and access logs keep URLs): GET lists take its
// keyed hash, and POST .../search takes the subject in the body.
const ListQuery = z.object({ ...listFilters, subjectRef: SubjectRefParam.optional() }).strict();
const SearchBody = z.object({ ...listFilters, subject: HttpSubject }).strict();

const HoldBody = z
  .object({
    scope: z.enum(['subject', 'policy', 'record']),
    subject: HttpSubject.optional(),
    service: ServiceName.optional(),
    policy: PolicyName.optional(),
    table: Identifier.optional(),
    recordKey: z.string().min(1).max(256).optional(),
    reason: z.string().min(3).max(2000),
    expiresAt: InstantText.optional(),
  })
  .strict()
  .superRefine((h, ctx) => {
    if (h.scope === 'subject' && !h.subject) ctx.addIssue({ code: 'custom', path: ['subject'], message: 'required for a subject hold' });
    if (h.scope === 'policy' && !h.policy) ctx.addIssue({ code: 'custom', path: ['policy'], message: 'required for a policy hold' });
    if (h.scope === 'record') {
      if (!h.service) ctx.addIssue({ code: 'custom', path: ['service'], message: 'required for a record hold' });
      if (!h.table) ctx.addIssue({ code: 'custom', path: ['table'], message: 'required for a record hold' });
      if (!h.recordKey) ctx.addIssue({ code: 'custom', path: ['recordKey'], message: 'required for a record hold' });
    }
  });

export function buildRoutes(deps: RouteDeps): AnyRoute[] {
  const now = deps.now ?? (() => new Date());
  const list =
    (kind: 'erasure' | 'sweep') =>
    async ({ query }: { query: z.output<typeof ListQuery> }) =>
      listRequests(deps.dataSource, { kind, ...query }, now());
  const search = async ({ body }: { body: z.output<typeof SearchBody> }) => {
    const { subject, ...filters } = body;
    return listRequests(deps.dataSource, { kind: 'erasure', ...filters, subjectRef: subjectRef(deps.hmacKey, subject) }, now());
  };

  return [
    defineRoute({
      method: 'POST',
      url: '/v1/erasure-requests',
      summary:
        'Request the erasure of everything every service stores about one subject (GDPR Art. 17). Send an Idempotency-Key header to make retries safe. With `notBefore` (or RETENTION_ERASURE_GRACE_SECONDS) it waits, `scheduled` and cancellable, until then.',
      roles: ['requester'],
      body: z
        .object({ subject: HttpSubject, reason: z.string().min(1).max(2000).optional(), dryRun: z.boolean().default(false), notBefore: Instant.optional() })
        .strict(),
      responses: {
        202: 'Accepted: {id, status (pending, or scheduled in a grace period), dueAt, notBefore, dryRun, targets}',
        200: 'Same Idempotency-Key: the existing request',
        400: 'Invalid body (issues name the fields)',
        409: 'Idempotency-Key already used by this caller for a different request',
      },
      handler: async ({ body, principal, request, reply }) => {
        const header = request.headers['idempotency-key'];
        if (header !== undefined && (typeof header !== 'string' || header.length < 1 || header.length > 200)) {
          throw new ValidationError('invalid header', [{ path: 'Idempotency-Key', message: 'must be 1 to 200 characters' }]);
        }
        const { created, request: view } = await deps.createErasureRequest({ ...body, requestedBy: principal.name, idempotencyKey: header });
        return reply.code(created ? 202 : 200).send({
          id: view.id,
          status: view.status,
          dueAt: view.dueAt,
          notBefore: view.notBefore,
          dryRun: view.dryRun,
          targets: view.targets.map((t) => t.service),
        });
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/erasure-requests/{id}/cancel',
      summary:
        'Cancel an erasure still in its grace period (`scheduled`): nothing is sent, its subject id is forgotten, the ledger records request.cancelled. By the requester token that made it, or an admin.',
      roles: ['requester', 'admin'],
      params: IdParams,
      responses: {
        200: '{id, status: cancelled, cancelledAt}',
        403: 'A requester token other than the one that made the request',
        404: 'No such erasure request',
        409: 'Already sent to its targets (or finished, or already cancelled): the message says which',
      },
      handler: ({ params, principal }) =>
        cancelScheduledRequest(deps.dataSource, params.id, { name: principal.name, admin: principal.role === 'admin' }, now()),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/erasure-requests/{id}',
      summary:
        'One erasure request: status (pending, completed, failed, held, overdue) and, per target service, status, ack time and counts (a held target: what each table keeps, and the hold ids).',
      roles: ['requester', 'auditor', 'admin'],
      params: IdParams,
      responses: { 200: 'The request', 404: 'No such request' },
      handler: ({ params }) => getRequest(deps.dataSource, params.id, now()),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/erasure-requests/{id}/receipt',
      summary:
        'The signed receipt of a completed erasure (retention-erasure-receipt/1): request, subject HMAC, targets with their counts, completion time, its ledger entries with inclusion proofs to a signed checkpoint. Check it offline with `retention verify-receipt`.',
      roles: ['requester', 'auditor'],
      params: IdParams,
      responses: {
        200: 'The receipt',
        404: 'No such erasure request',
        409: 'Not completed, a dry run, or the ledger does not check out against its signed checkpoints (nothing is signed then)',
        503: 'The checkpoints could not be read from Kafka',
      },
      handler: ({ params }) => deps.ledger.receipt(params.id),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/erasure-requests',
      summary: "Erasure requests, newest first, paged (cursor), filtered by status, creation window and a subject's keyed hash (subjectRef).",
      roles: ['auditor', 'admin'],
      query: ListQuery,
      responses: { 200: '{items, nextCursor}', 400: 'Invalid query' },
      handler: list('erasure'),
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/erasure-requests/search',
      summary: "One subject's erasure requests: the subject in the body (never in a URL), with the list's filters; matched by its keyed hash.",
      roles: ['auditor', 'admin'],
      body: SearchBody,
      responses: { 200: '{items, nextCursor}', 400: 'Invalid search' },
      handler: search,
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/erasure-requests/{id}/retry',
      summary: 'Send the command again to every target that acknowledged `failed` (after its cause was fixed).',
      roles: ['admin'],
      params: IdParams,
      responses: { 202: '{id, retried: [service]}', 404: 'No such request', 409: 'No failed target' },
      handler: async ({ params, principal, reply }) => {
        const at = now();
        const retried = await retryFailedTargets(deps.dataSource, params.id, at, (manager, services) =>
          appendLedger(manager, [{ requestId: params.id, type: 'target.retry', body: { services, by: principal.name } }], at),
        );
        deps.onRetry();
        return reply.code(202).send({ id: params.id, retried });
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/sweeps',
      summary: 'Run retention sweeps now, for every service and policy or one of each (the scheduler runs them on cron).',
      roles: ['admin'],
      body: z
        .object({
          service: ServiceName.optional(),
          policy: PolicyName.optional(),
          dryRun: z.boolean().default(false),
          reason: z.string().min(1).max(2000).optional(),
        })
        .strict(),
      responses: {
        202: 'The sweep request, or {id, status: awaiting_approval, approval} (a first real run under the sweep-first-run approval rule)',
        400: 'Unknown service or policy',
        409: 'A real run of a policy that is not enabled (new, or changed since enabled)',
      },
      handler: async ({ body, principal, reply }) => reply.code(202).send(await deps.requestSweep({ ...body, requestedBy: principal.name })),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/sweeps/{id}',
      summary: 'One sweep: status and, per target service, the counts per policy.',
      roles: ['auditor', 'admin'],
      params: IdParams,
      responses: { 200: 'The sweep', 404: 'No such sweep' },
      handler: ({ params }) => getRequest(deps.dataSource, params.id, now()),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/sweeps',
      summary: 'Sweeps (scheduled and manual), newest first, paged: the compliance run log.',
      roles: ['auditor', 'admin'],
      query: ListQuery,
      responses: { 200: '{items, nextCursor}', 400: 'Invalid query' },
      handler: list('sweep'),
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/legal-holds',
      summary: 'Place a legal hold on a subject, a policy, or one record of a service; every service enforces it.',
      roles: ['admin'],
      body: HoldBody,
      // What HoldBody's refinement checks: each scope needs its fields.
      bodyRules: {
        oneOf: [
          { properties: { scope: { const: 'subject' } }, required: ['subject'] },
          { properties: { scope: { const: 'policy' } }, required: ['policy'] },
          { properties: { scope: { const: 'record' } }, required: ['service', 'table', 'recordKey'] },
        ],
      },
      responses: { 201: 'The hold', 400: 'Invalid hold, or it names a service, policy, table or subject type that no registered service has' },
      handler: async ({ body, principal, reply }) => reply.code(201).send(await deps.holds.place({ ...body, placedBy: principal.name })),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/legal-holds',
      summary: "Legal holds (subjects shown as their keyed hash), optionally only active or released ones, or one subject's by its keyed hash (subjectRef).",
      roles: ['auditor', 'admin'],
      query: z
        .object({
          active: z
            .enum(['true', 'false'])
            .transform((v) => v === 'true')
            .optional(),
          subjectRef: SubjectRefParam.optional(),
        })
        .strict(),
      responses: { 200: '{items}' },
      handler: async ({ query }) => ({ items: await deps.holds.list({ active: query.active, subjectRef: query.subjectRef }) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/legal-holds/search',
      summary: "One subject's legal holds: the subject in the body (never in a URL), optionally only active or released ones.",
      roles: ['auditor', 'admin'],
      body: z.object({ subject: HttpSubject, active: z.boolean().optional() }).strict(),
      responses: { 200: '{items}', 400: 'Invalid search' },
      handler: async ({ body }) => ({ items: await deps.holds.list({ active: body.active, subjectRef: subjectRef(deps.hmacKey, body.subject) }) }),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/v1/legal-holds/{id}',
      summary: 'Release a legal hold (publishes a tombstone; erasures it held can then be requested again).',
      roles: ['admin'],
      params: IdParams,
      responses: { 200: 'The released hold', 202: '{id, status: awaiting_approval, approval} (the hold-release approval rule)', 404: 'No such hold' },
      handler: async ({ params, principal, reply }) => {
        const result = await (deps.releaseHold ?? deps.holds.release)(params.id, principal.name);
        return (result as { status?: string }).status === 'awaiting_approval' ? reply.code(202).send(result) : result;
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/policies',
      summary:
        'Every active service with its subject types and policies (table, period, action, legal basis, conditions, schedule), and whether each may run for real (`enabled`) or dry only (new, or changed since an admin enabled it).',
      roles: ['auditor', 'admin'],
      responses: { 200: '{services}' },
      handler: async () => ({ services: await manifestsWithPolicyStates(deps.dataSource) }),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/ledger/report',
      summary:
        'Completeness report of every request and sweep created in [from, to): targets, statuses, counts, overdue flags, summary. JSON or CSV. `to` defaults to now, `from` to 30 days before `to`.',
      roles: ['auditor'],
      query: z
        .object({ from: Instant.optional(), to: Instant.optional(), format: z.enum(['json', 'csv']).default('json') })
        .strict()
        .refine((q) => !q.from || !q.to || q.from < q.to, { message: 'must be after from', path: ['to'] }),
      responses: { 200: 'The report', 400: 'Invalid window or format' },
      handler: async ({ query, reply }) => {
        const at = now();
        const to = query.to ?? (query.from && query.from > at ? new Date(query.from.getTime() + REPORT_DEFAULT_DAYS * 86_400_000) : at);
        const from = query.from ?? new Date(to.getTime() - REPORT_DEFAULT_DAYS * 86_400_000);
        const report = await buildReport(deps.dataSource, from, to, at);
        // Every report carries the latest signed checkpoint: what the ledger was when it was made.
        const checkpoint = await deps.ledger.latestCheckpoint();
        if (query.format === 'csv')
          return reply
            .type('text/csv; charset=utf-8')
            .header('content-disposition', 'attachment; filename="retention-ledger-report.csv"')
            .header('x-retention-checkpoint', JSON.stringify(checkpoint))
            .send(reportToCsv(report));
        return { ...report, checkpoint };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/ledger/verify',
      summary:
        'Check the ledger against its signed checkpoints (read from Kafka): from the latest checkpoint on, or every entry with full=true. {ok, mode, entries, checkpoint, problems: [{kind, seq?, checkpoint?, message}], firstBrokenEntry?}.',
      roles: ['auditor'],
      query: z
        .object({
          full: z
            .enum(['true', 'false'])
            .transform((v) => v === 'true')
            .default(false),
        })
        .strict(),
      responses: {
        200: '{ok, mode, entries, checkpoint, checkpointsChecked, verifiedFrom, problems, firstBrokenEntry?}',
        503: 'The checkpoints could not be read from Kafka',
      },
      handler: ({ query }) => deps.ledger.verify({ full: query.full }),
    }),
    ...serviceRoutes(deps),
    ...(deps.replay ? replayRoutes(deps.replay) : []),
  ];
}
