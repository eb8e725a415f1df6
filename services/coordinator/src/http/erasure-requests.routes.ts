import { Subject, toIssues, ValidationError } from '@retention/contracts';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { createErasureRequestUseCase } from '../requests/create-erasure-request.use-case';
import { getRequest } from '../requests/requests.repository';
import type { createAuthenticator } from './auth';

const CreateBody = z
  .object({
    subject: Subject,
    reason: z.string().min(1).max(2000).optional(),
    dryRun: z.boolean().default(false),
  })
  .strict();

const IdParam = z.object({ id: z.uuid('must be a UUID') });

/** Parses `value` or throws a 400 naming the offending fields. */
export function parse<S extends z.ZodType>(schema: S, value: unknown, what: string, prefix?: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(`invalid ${what}`, toIssues(result.error, prefix));
  return result.data;
}

export function registerErasureRequestRoutes(
  app: FastifyInstance,
  deps: { authenticate: ReturnType<typeof createAuthenticator>; createErasureRequest: ReturnType<typeof createErasureRequestUseCase>; dataSource: Parameters<typeof getRequest>[0] },
): void {
  app.post('/v1/erasure-requests', async (request, reply) => {
    const principal = deps.authenticate(request, ['requester', 'admin']);
    const body = parse(CreateBody, request.body ?? {}, 'request body');
    const key = request.headers['idempotency-key'];
    const idempotencyKey = typeof key === 'string' ? parse(z.string().min(1).max(200), key, 'Idempotency-Key header') : undefined;
    const { created, request: view } = await deps.createErasureRequest({ ...body, requestedBy: principal.name, idempotencyKey });
    return reply.code(created ? 202 : 200).send({ id: view.id, status: view.status, dueAt: view.dueAt, dryRun: view.dryRun, targets: view.targets.map((t) => t.service) });
  });

  app.get('/v1/erasure-requests/:id', async (request) => {
    deps.authenticate(request, ['requester', 'auditor', 'admin']);
    const { id } = parse(IdParam, request.params, 'path');
    return getRequest(deps.dataSource, id);
  });
}
