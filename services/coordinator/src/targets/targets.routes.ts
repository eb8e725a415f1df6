import { ConflictError, NotFoundError, ServiceName, SubjectType, UnauthorizedError, ValidationError } from '@retention/contracts';
import type { DataSource } from 'typeorm';
import { z } from 'zod';
import type { createAckReceivedHandler } from '../acks/ack-received.handler';
import { activeSubjectHolds } from '../holds/legal-holds.service';
import { defineRoute, type AnyRoute } from '../http/route';
import type { SubjectVault } from '../privacy/subject-vault';
import { getRequest } from '../requests/requests.repository';
import { ExternalAnswer } from './external-answer';
import {
  createExternalTarget,
  decodeTaskCursor,
  rotateWebhookSecret,
  externalAck,
  listTasks,
  newCommandId,
  heldAnswerProblem,
  openManualTask,
  type UrlRules,
  webhookTarget,
} from './external-targets';
import { SIGNATURE_HEADER, signedDigest, verifySignature } from './webhook-signature';

export interface TargetRouteDeps {
  dataSource: DataSource;
  vault: SubjectVault;
  acks: Pick<ReturnType<typeof createAckReceivedHandler>, 'within'>;
  /** Keyed hash of a free text (a confirmation note goes to the ledger only as this). */
  textRef: (text: string) => string;
  urlRules: UrlRules;
  /** Wakes the leader's loop (a resumed or answered target). */
  onChanged?: () => void;
  now?: () => Date;
}

const NewTarget = z.discriminatedUnion('kind', [
  z
    .object({
      name: ServiceName,
      kind: z.literal('webhook'),
      url: z.string().min(8).max(2048),
      subjectTypes: z.array(SubjectType).min(1).max(20),
    })
    .strict(),
  z
    .object({
      name: ServiceName,
      kind: z.literal('manual'),
      instructions: z.string().min(3).max(2000),
      subjectTypes: z.array(SubjectType).min(1).max(20),
    })
    .strict(),
]);
const NameParams = z.object({ name: ServiceName });
const TaskParams = z.object({ id: z.uuid('must be a UUID'), name: ServiceName });
const TaskQuery = z
  .object({
    status: z.enum(['open', 'done']).default('open'),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: z
      .string()
      .max(512)
      .transform((s, ctx) => {
        const cursor = decodeTaskCursor(s);
        if (!cursor) ctx.addIssue({ code: 'custom', message: 'invalid: not a cursor returned by this API (pass nextCursor as it is)' });
        return cursor ?? z.NEVER;
      })
      .optional(),
  })
  .strict();
const Confirm = z
  .object({
    note: z.string().min(3).max(2000),
    outcome: z.enum(['completed', 'not_applicable']).default('completed'),
    count: z.int().min(0).max(1_000_000_000).optional(),
  })
  .strict();

/** Webhook and manual targets: registering one, a webhook's callback, manual tasks and their confirmation. */
export function targetRoutes(deps: TargetRouteDeps): AnyRoute[] {
  const now = deps.now ?? (() => new Date());
  async function callback(
    params: { name: string },
    body: z.output<typeof ExternalAnswer>,
    rawBody: Buffer,
    signature: string | string[] | undefined,
  ): Promise<{ requestId: string; target: string; status: string; outcome: 'applied' | 'duplicate' }> {
    const at = now();
    const target = await webhookTarget(deps.dataSource.manager, params.name, deps.vault, at);
    if (!target) throw new NotFoundError(`no webhook target "${params.name}"`);
    // The current secret, or the previous one while a rotation's grace period lasts.
    const problems = target.secrets.map((secret) => verifySignature(secret, signature, rawBody, at));
    const problem = problems.includes(null) ? null : problems[0]!;
    if (problem) throw new UnauthorizedError(`${SIGNATURE_HEADER}: ${problem === 'missing' ? 'missing' : `${problem} signature`}`);
    return deps.dataSource.transaction(async (manager) => {
      // A signature is good for SIGNATURE_TOLERANCE_SECONDS: one seen before in that window is a
      // replay (or a client resending the very same bytes), answered as a duplicate, applied never.
      // Keyed by what was signed (its timestamp and body), not by the header's text: the same
      // signature written another way (spaces, extra fields) is the same message.
      const fresh = (await manager.query(
        `INSERT INTO webhook_callbacks_seen (target, signature, seen_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1`,
        [params.name, signedDigest(signature, rawBody), at],
      )) as unknown[];
      if (fresh.length === 0) return { requestId: body.requestId, target: params.name, status: body.status, outcome: 'duplicate' as const };
      const [request] = (await manager.query(`SELECT dry_run FROM retention_requests WHERE id = $1`, [body.requestId])) as Array<{ dry_run: boolean }>;
      if (!request) throw new ConflictError(`request ${body.requestId} has no target "${params.name}"`);
      if (body.holdIds && body.status !== 'held') {
        throw new ValidationError('invalid request body', [{ path: 'holdIds', message: 'only with status held' }]);
      }
      if (body.status === 'held') {
        if (!body.holdIds) throw new ValidationError('invalid request body', [{ path: 'holdIds', message: 'required when status is held' }]);
        const problem = await heldAnswerProblem(manager, body.requestId, params.name, body.holdIds, at);
        if (problem) throw new ConflictError(problem);
      }
      // The same answer again (a retried callback): harmless, nothing changes.
      const [stored] = (await manager.query(`SELECT status, ack FROM request_targets WHERE request_id = $1 AND service = $2`, [
        body.requestId,
        params.name,
      ])) as Array<{ status: string; ack: { status?: string; commandId?: string } | null }>;
      if (stored?.ack?.status === body.status && stored.status === body.status && stored.ack.commandId?.startsWith('webhook:')) {
        return { requestId: body.requestId, target: params.name, status: body.status, outcome: 'duplicate' as const };
      }
      const result = await deps.acks.within(
        manager,
        externalAck({ id: body.requestId, dryRun: request.dry_run }, params.name, body, newCommandId('webhook'), at),
      );
      if (result.outcome !== 'applied' && result.outcome !== 'duplicate') throw new ConflictError(result.detail ?? result.outcome);
      return { requestId: body.requestId, target: params.name, status: body.status, outcome: result.outcome };
    });
  }

  return [
    defineRoute({
      method: 'POST',
      url: '/v1/targets',
      summary:
        "Register a target that is not a Kafka consumer: a webhook (the coordinator POSTs each erasure, signed, to its https URL; the answer comes in the response or on its callback) or a manual task (an operator confirms it with a note). It is a target of every later erasure of the subject types it lists. A webhook's secret is in this response only.",
      roles: ['admin'],
      body: NewTarget,
      responses: { 201: '{service, kind, status, subjectTypes, url | instructions, secret (webhook only, shown once)}', 409: 'The name is taken' },
      handler: async ({ body, principal, reply }) => {
        const created = await createExternalTarget(deps.dataSource, body, {
          vault: deps.vault,
          by: principal.name,
          at: now(),
          urlRules: deps.urlRules,
          textRef: deps.textRef,
        });
        reply.code(201);
        return created;
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/targets/{name}/callback',
      summary:
        "A webhook target's result for one erasure. No token: the `retention-signature` header (t=<unix seconds>,v1=<HMAC-SHA256 with the target's secret over `<t>.<raw body>`>, within 5 minutes) authenticates it.",
      roles: [],
      params: NameParams,
      body: ExternalAnswer,
      rawBody: true,
      // A result is small: an unauthenticated caller gets no more than this read before the signature is checked.
      bodyLimit: 16 * 1024,
      responses: {
        200: '{requestId, target, status, outcome: applied | duplicate}',
        401: 'Missing, malformed, wrong or expired signature',
        404: 'No webhook target of this name',
        409: 'The request has no open target of this name, or the result contradicts an earlier one',
      },
      handler: async ({ params, body, rawBody, request }) => {
        const answered = await callback(params, body, rawBody, request.headers[SIGNATURE_HEADER]);
        deps.onChanged?.();
        return answered;
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/targets/{name}/rotate-secret',
      summary:
        'A new signing secret for a webhook target (in this response only). The previous one keeps signing deliveries (a second v1 in the header) and verifying callbacks for graceSeconds (default a day), so the receiver can switch without losing a message; the ledger records who rotated it.',
      roles: ['admin'],
      params: NameParams,
      body: z.object({ graceSeconds: z.int().min(0).max(2_592_000).default(86_400) }).strict(),
      responses: { 200: '{service, secret, previousValidUntil}', 404: 'No such target', 409: 'Not a webhook target, or retired' },
      handler: ({ params, body, principal }) =>
        rotateWebhookSecret(deps.dataSource, params.name, { vault: deps.vault, by: principal.name, at: now(), graceSeconds: body.graceSeconds }),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/tasks',
      summary:
        "Manual tasks: open ones (an erasure waits for an operator to do what the target's instructions say and confirm it) or done ones, newest request first. An admin sees the subject id of open tasks (in the body, never in a URL).",
      roles: ['auditor', 'admin'],
      query: TaskQuery,
      responses: { 200: '{items, nextCursor}' },
      handler: ({ query, principal }) =>
        listTasks(
          deps.dataSource,
          { status: query.status, limit: query.limit, ...(query.cursor ? { after: query.cursor } : {}) },
          { withSubject: principal.role === 'admin', vault: deps.vault, now: now() },
        ),
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/erasure-requests/{id}/targets/{name}/confirm',
      summary:
        "Confirm a manual task with a note: the target is completed (or not_applicable) and the request completes when all its targets have. The ledger records who, the outcome, the count and the note's keyed hash (the note itself stays in the target's row). Refused while a legal hold on the subject is in force for that target: the task then closes as held and reopens when the hold ends.",
      roles: ['admin'],
      params: TaskParams,
      body: Confirm,
      responses: {
        200: 'The request, as GET /v1/erasure-requests/{id} shows it',
        404: 'No such request, or the target is not one of its targets',
        409: 'Not a manual target, the task is not open, or a legal hold is in force (the task is then held)',
      },
      handler: async ({ params, body, principal }) => {
        const at = now();
        const held = await deps.dataSource.transaction(async (manager) => {
          const { dryRun } = await openManualTask(manager, params.id, params.name);
          const [row] = (await manager.query(`SELECT subject_ref FROM retention_requests WHERE id = $1`, [params.id])) as Array<{ subject_ref: string | null }>;
          const holds = row?.subject_ref ? (await activeSubjectHolds(manager, row.subject_ref)).filter((h) => !h.service || h.service === params.name) : [];
          if (holds.length > 0) {
            await deps.acks.within(
              manager,
              externalAck(
                { id: params.id, dryRun },
                params.name,
                { status: 'held', holdIds: holds.map((h) => h.holdId), reason: 'a legal hold on the subject is in force for this target' },
                newCommandId('manual'),
                at,
              ),
            );
            return holds.map((h) => h.holdId);
          }
          const result = await deps.acks.within(
            manager,
            externalAck(
              { id: params.id, dryRun },
              params.name,
              { status: body.outcome, ...(body.count !== undefined ? { deleted: body.count } : {}) },
              newCommandId('manual'),
              at,
            ),
            [
              {
                requestId: params.id,
                type: 'task.confirmed',
                service: params.name,
                body: { confirmedBy: principal.name, outcome: body.outcome, count: body.count ?? null, noteRef: deps.textRef(body.note) },
              },
            ],
          );
          if (result.outcome !== 'applied') throw new ConflictError(result.detail ?? `the task is not open (${result.outcome})`);
          await manager.query(`UPDATE request_targets SET note = $3, confirmed_by = $4, confirmed_at = $5 WHERE request_id = $1 AND service = $2`, [
            params.id,
            params.name,
            body.note,
            principal.name,
            at,
          ]);
          return null;
        });
        deps.onChanged?.();
        if (held)
          throw new ConflictError(`a legal hold is in force for this subject and target (${held.join(', ')}): the task is held and reopens when the hold ends`);
        return getRequest(deps.dataSource, params.id, at);
      },
    }),
  ];
}
