import { Subject, ValidationError } from '@retention/contracts';
import { z } from 'zod';
import { BULK_MAX_SUBJECTS } from '../approvals/approval-rules';
import { type AnyRoute, defineRoute } from '../http/route';
import type { bulkErasureUseCase } from './bulk-erasure.use-case';

/** A body of 10,000 subjects with ids of 256 characters fits (about 3 MB); anything bigger is 413. */
const BULK_BODY_LIMIT = 5 * 1024 * 1024;

const BulkBody = z
  .object({
    items: z
      .array(
        z
          .object({
            subject: Subject.strict(),
            /** The line this subject came from (a CSV line): its idempotency key is `<Idempotency-Key>#<line>`. Default: its place in `items`, from 1. */
            line: z.number().int().min(1).max(2_147_483_647).optional(),
          })
          .strict(),
      )
      .min(1, 'must name at least one subject'),
    reason: z.string().min(1).max(2000).optional(),
    dryRun: z.boolean().default(false),
  })
  .strict();

/** `POST /v1/erasure-requests/bulk`. */
export function bulkErasureRoutes(deps: { submitBulk: ReturnType<typeof bulkErasureUseCase> }): AnyRoute[] {
  return [
    defineRoute({
      method: 'POST',
      url: '/v1/erasure-requests/bulk',
      summary: `Request the erasure of many subjects in one call (at most ${BULK_MAX_SUBJECTS.toLocaleString('en-US')}): one request per subject, each with its own ledger entries and command, in one transaction. With an Idempotency-Key header each line is idempotent under \`<key>#<line>\`: a call sent again creates nothing twice. With the \`bulk\` approval rule, more than RETENTION_APPROVAL_BULK_THRESHOLD subjects wait for a second admin (202 awaiting_approval).`,
      roles: ['requester'],
      body: BulkBody,
      bodyLimit: BULK_BODY_LIMIT,
      responses: {
        202: '{status: accepted, created, existing, items: [{line, id, created}]}, or {id, status: awaiting_approval, approval}',
        400: 'Invalid body (issues name the items), or a subject type no registered service stores',
        409: 'Lines whose Idempotency-Key was already used by this caller for another subject',
        503: 'The outbox holds more than RETENTION_BULK_MAX_BACKLOG unpublished commands: send the same call again after Retry-After',
        413: `More than ${BULK_MAX_SUBJECTS.toLocaleString('en-US')} subjects (too_many_subjects), or a body over ${BULK_BODY_LIMIT / 1024 / 1024} MiB`,
      },
      handler: async ({ body, principal, request, reply }) => {
        const header = request.headers['idempotency-key'];
        if (header !== undefined && (typeof header !== 'string' || header.length < 1 || header.length > 180)) {
          throw new ValidationError('invalid header', [{ path: 'Idempotency-Key', message: 'must be 1 to 180 characters' }]);
        }
        const outcome = await deps.submitBulk({
          lines: body.items.map((item, i) => ({ line: item.line ?? i + 1, subject: item.subject })),
          reason: body.reason,
          dryRun: body.dryRun,
          requestedBy: principal.name,
          idempotencyKey: header,
        });
        return reply.code(202).send(outcome);
      },
    }),
  ];
}
