import { type Issue, RetentionError, ValidationError } from '@retention/contracts';
import type { FastifyError, FastifyInstance } from 'fastify';
import type { Logger } from '@retention/observability';

const STATUS: Record<string, number> = {
  validation_failed: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  unsupported_version: 400,
  transient: 503,
};

export interface ErrorBody {
  error: { code: string; message: string; issues?: readonly Issue[] };
}

/** The one place errors become HTTP responses: `{ error: { code, message, issues? } }`. */
export function registerErrorHandler(app: FastifyInstance, logger: Logger): void {
  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    if (error instanceof RetentionError) {
      const body: ErrorBody = { error: { code: error.code, message: error.message, ...(error instanceof ValidationError ? { issues: error.issues } : {}) } };
      return reply.code(STATUS[error.code] ?? 500).send(body);
    }
    const fastifyError = error as FastifyError;
    if (fastifyError.statusCode && fastifyError.statusCode < 500) {
      // Fastify's own: malformed JSON, wrong content type, body too large.
      return reply.code(fastifyError.statusCode).send({ error: { code: 'bad_request', message: fastifyError.message } });
    }
    logger.error({ err: `${error.name}: ${error.message}`, method: request.method, route: request.routeOptions.url }, 'unhandled error');
    return reply.code(500).send({ error: { code: 'internal', message: 'internal error' } });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: { code: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` } }),
  );
}
