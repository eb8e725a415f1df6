import type { FastifyHttpOptions } from 'fastify';
import type { Server } from 'node:http';
import { clientErrorHandler, frameworkErrors } from './errors';

export interface HttpLimits {
  /** The whole request (headers and body) must arrive within this, or it is answered 408. */
  requestTimeoutMs: number;
  /** A request not answered within this (a database that hangs) is answered 503. */
  handlerTimeoutMs: number;
  bodyLimitBytes: number;
}

/**
 * The Fastify options of the API server: time limits on slow clients and slow handlers, the body
 * limit, and every error Fastify or Node's parser would answer on their own routed into the
 * documented error shape.
 */
export function httpServerOptions(limits: HttpLimits): FastifyHttpOptions<Server> {
  return {
    logger: false,
    bodyLimit: limits.bodyLimitBytes,
    requestTimeout: limits.requestTimeoutMs,
    handlerTimeout: limits.handlerTimeoutMs,
    http: {
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.requestTimeoutMs,
      // Node checks for expired requests on this interval (default 30 s, which would let a
      // 1 s timeout run 31 s).
      connectionsCheckingInterval: Math.min(5_000, Math.max(100, Math.floor(limits.requestTimeoutMs / 4))),
    },
    // While closing, Fastify would answer 503 in a shape of its own; requests still arriving are
    // served instead (the database closes only after the HTTP server has).
    return503OnClosing: false,
    frameworkErrors,
    clientErrorHandler,
  };
}
