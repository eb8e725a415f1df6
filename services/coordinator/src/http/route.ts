import { toIssues, ValidationError } from '@retention/contracts';
import { inSpan, SpanKind } from '@retention/observability';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Role } from '../config';
import type { Principal } from './auth';

/**
 * One API operation, as data: the HTTP route and its OpenAPI description come from the same
 * object, so the served document cannot drift from what the server does.
 */
export interface RouteSpec<B extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType, P extends z.ZodType = z.ZodType> {
  method: 'GET' | 'POST' | 'DELETE';
  url: string;
  summary: string;
  roles: readonly Role[];
  body?: B;
  query?: Q;
  params?: P;
  /** Status code and description of each documented response. */
  responses: Record<number, string>;
  handler: (input: {
    body: z.output<B>;
    query: z.output<Q>;
    params: z.output<P>;
    principal: Principal;
    request: FastifyRequest;
    reply: FastifyReply;
  }) => Promise<unknown>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRoute = RouteSpec<any, any, any>;

export const defineRoute = <B extends z.ZodType = z.ZodUndefined, Q extends z.ZodType = z.ZodUndefined, P extends z.ZodType = z.ZodUndefined>(
  spec: RouteSpec<B, Q, P>,
): RouteSpec<B, Q, P> => spec;

function parse<S extends z.ZodType>(schema: S | undefined, value: unknown, what: string): z.output<S> {
  if (!schema) return undefined as z.output<S>;
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(`invalid ${what}`, toIssues(result.error));
  return result.data;
}

export function registerRoutes(
  app: FastifyInstance,
  routes: readonly AnyRoute[],
  authenticate: (request: FastifyRequest, roles: readonly Role[]) => Principal,
): void {
  for (const route of routes) {
    app.route({
      method: route.method,
      url: route.url.replace(/\{(\w+)\}/g, ':$1'),
      // A server span per call: commands created here carry its trace into Kafka.
      handler: (request, reply) =>
        inSpan(
          `${route.method} ${route.url}`,
          { kind: SpanKind.SERVER, attributes: { 'http.request.method': route.method, 'http.route': route.url } },
          async () => {
            const principal = authenticate(request, route.roles);
            const input = {
              body: parse(route.body, request.body ?? {}, 'request body'),
              query: parse(route.query, request.query ?? {}, 'query'),
              params: parse(route.params, request.params ?? {}, 'path'),
              principal,
              request,
              reply,
            };
            return route.handler(input);
          },
        ),
    });
  }
}

const ErrorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        issues: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
      },
    },
  },
};

function parameters(schema: z.ZodType | undefined, location: 'query' | 'path'): unknown[] {
  if (!schema) return [];
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, s]) => ({
    name,
    in: location,
    required: location === 'path' || (json.required ?? []).includes(name),
    schema: s,
  }));
}

/** The OpenAPI 3.1 document of `routes`. */
export function openApiDocument(routes: readonly AnyRoute[], info: { title: string; version: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    paths[r.url] ??= {};
    paths[r.url]![r.method.toLowerCase()] = {
      summary: r.summary,
      description: `Roles: ${r.roles.join(', ')}.`,
      security: [{ bearer: [] }],
      parameters: [...parameters(r.params, 'path'), ...parameters(r.query, 'query')],
      ...(r.body
        ? { requestBody: { required: true, content: { 'application/json': { schema: z.toJSONSchema(r.body, { io: 'input', unrepresentable: 'any' }) } } } }
        : {}),
      responses: Object.fromEntries(
        Object.entries({ ...r.responses, 401: 'Missing or unknown token', 403: 'Role not allowed' }).map(([code, description]) => [
          code,
          Number(code) >= 400 ? { description, content: { 'application/json': { schema: ErrorSchema } } } : { description },
        ]),
      ),
    };
  }
  return {
    openapi: '3.1.0',
    info: { ...info, description: 'Retention platform coordinator: erasure requests, sweeps, legal holds, the completion ledger.' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A token from RETENTION_API_TOKENS (role:token).' } } },
    paths,
  };
}
