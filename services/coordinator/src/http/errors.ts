import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { type Issue, RetentionError, ValidationError } from '@retention/contracts';
import type { Logger } from '@retention/observability';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { isDatabaseUnavailable } from './database-unavailable';

const STATUS: Record<string, number> = {
  validation_failed: 400,
  unauthorized: 401,
  forbidden: 403,
  approver_is_requester: 403,
  too_many_subjects: 413,
  not_found: 404,
  conflict: 409,
  policy_not_enabled: 409,
  unsupported_version: 400,
  transient: 503,
};

/** The `code` of an error Fastify or Node's HTTP parser raises, by status. */
const HTTP_CODES: Record<number, string> = {
  400: 'bad_request',
  404: 'not_found',
  405: 'method_not_allowed',
  408: 'request_timeout',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  431: 'header_fields_too_large',
  503: 'unavailable',
};

/** Seconds a client should wait before retrying a 503. */
export const RETRY_AFTER_SECONDS = 5;

export interface ErrorBody {
  error: { code: string; message: string; issues?: readonly Issue[] };
}

const body = (code: string, message: string, issues?: readonly Issue[]): ErrorBody => ({ error: { code, message, ...(issues ? { issues } : {}) } });

/**
 * What a log line may say about an unexpected error: its class and its SQLSTATE or errno code.
 * A driver's message can quote the values of the statement (a subject id), so it is left out.
 */
function safeSummary(error: unknown): string {
  const e = error as { name?: unknown; code?: unknown; driverError?: { name?: unknown; code?: unknown } } | null;
  const parts = [typeof e?.name === 'string' ? e.name : typeof error];
  const code = e?.driverError?.code ?? e?.code;
  if (typeof code === 'string') parts.push(code);
  if (e?.driverError && typeof e.driverError.name === 'string') parts.push(`(${e.driverError.name})`);
  return parts.join(' ');
}

/**
 * The one place errors become HTTP responses: `{ error: { code, message, issues? } }`. Our typed
 * errors map by `code`; a database that cannot serve is 503 `unavailable` (with Retry-After);
 * Fastify's own errors (malformed JSON, body too large, unsupported media type, handler timeout)
 * keep their status with a stable code; anything else is 500 `internal` and says nothing more.
 */
export function registerErrorHandler(app: FastifyInstance, logger: Logger): void {
  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    const route = request.routeOptions.url;
    if (error instanceof RetentionError) {
      const status = STATUS[error.code] ?? 500;
      if (status === 503) return unavailable(reply, error.message);
      return reply.code(status).send(body(error.code, error.message, error instanceof ValidationError ? error.issues : undefined));
    }
    if (isDatabaseUnavailable(error)) {
      logger.warn({ err: safeSummary(error), method: request.method, route }, 'database unavailable');
      return unavailable(reply, 'the database is unavailable; try again later');
    }
    const status = (error as FastifyError).statusCode;
    if (status && status >= 400 && status < 500) return reply.code(status).send(body(HTTP_CODES[status] ?? 'bad_request', error.message));
    if ((error as FastifyError).code === 'FST_ERR_HANDLER_TIMEOUT') {
      logger.warn({ method: request.method, route }, 'request handler timed out');
      return unavailable(reply, 'the request took too long; try again later');
    }
    logger.error({ err: safeSummary(error), method: request.method, route }, 'unhandled error');
    return reply.code(500).send(body('internal', 'internal error'));
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send(body('not_found', `no route ${request.method} ${request.url.split('?')[0]}`)));
}

function unavailable(reply: FastifyReply, message: string): FastifyReply {
  return reply.code(503).header('retry-after', String(RETRY_AFTER_SECONDS)).send(body('unavailable', message));
}

/**
 * Fastify's routing errors (a malformed percent-encoding, a path parameter over `maxParamLength`),
 * which it would otherwise answer in a shape of its own.
 */
export function frameworkErrors(error: FastifyError, _request: unknown, reply: FastifyReply): void {
  const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
  const message = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path parameter is too long' : 'the URL is not valid';
  void reply.code(status).send(body(HTTP_CODES[status] ?? 'bad_request', message));
}

/**
 * Errors Node's HTTP parser raises before there is a request to route: a request that did not
 * arrive in time (408: `requestTimeout`), headers over the size limit (431), malformed HTTP (400).
 * Answered on the raw socket in the documented shape, then the connection is closed. Nothing is
 * written if a response has already begun on this socket: that would corrupt it.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const status = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
  const message =
    status === 408 ? 'the request did not arrive in time' : status === 431 ? 'the request headers are too large' : 'the request is not valid HTTP/1.1';
  // Node keeps the in-flight response of a socket here; its headers may already be out.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const text = JSON.stringify(body(HTTP_CODES[status]!, message));
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy(error);
}
