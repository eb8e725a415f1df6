import { Readable } from 'node:stream';
import { toIssues, ValidationError } from '@retention/contracts';
import { contextFromHeaders, inSpan, SpanKind } from '@retention/observability';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Role } from '../config';
import type { Principal } from './auth';
import { unstorableTextIssues } from './storable-text';

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
  /**
   * The body's cross-field rules (the ones `body` checks in a refinement, which JSON Schema cannot
   * be generated from), as JSON Schema keywords merged into its OpenAPI schema: `oneOf`,
   * `dependentRequired`, `allOf`…
   */
  bodyRules?: Record<string, unknown>;
  query?: Q;
  params?: P;
  /** Status code and description of each documented response. */
  responses: Record<number, string>;
  /** This route's body limit in bytes, when it needs more than the server's (a bulk call). */
  bodyLimit?: number;
  /** The handler needs the body's exact bytes (a signature over them): they come as `rawBody`. */
  rawBody?: boolean;
  handler: (input: {
    body: z.output<B>;
    query: z.output<Q>;
    params: z.output<P>;
    principal: Principal;
    request: FastifyRequest;
    reply: FastifyReply;
    /** The body as received, when the route asks for it (`rawBody`); empty otherwise. */
    rawBody: Buffer;
  }) => Promise<unknown>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRoute = RouteSpec<any, any, any>;

export const defineRoute = <B extends z.ZodType = z.ZodUndefined, Q extends z.ZodType = z.ZodUndefined, P extends z.ZodType = z.ZodUndefined>(
  spec: RouteSpec<B, Q, P>,
): RouteSpec<B, Q, P> => spec;

function parse<S extends z.ZodType>(schema: S | undefined, value: unknown, what: string): z.output<S> {
  if (!schema) return undefined as z.output<S>;
  const unstorable = unstorableTextIssues(value);
  if (unstorable.length > 0) throw new ValidationError(`invalid ${what}`, unstorable);
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(`invalid ${what}`, toIssues(result.error));
  return result.data;
}

/**
 * Registers `routes`. The token is checked in `onRequest`, before the body is read or parsed: a
 * caller without a valid token gets 401 (and one with the wrong role 403) whatever it sends, so an
 * anonymous client cannot make the server read, buffer or parse a body.
 */
export function registerRoutes(
  app: FastifyInstance,
  routes: readonly AnyRoute[],
  authenticate: (request: FastifyRequest, roles: readonly Role[]) => Principal,
): void {
  const principals = new WeakMap<FastifyRequest, Principal>();
  const rawBodies = new WeakMap<FastifyRequest, Buffer>();
  for (const route of routes) {
    const bodyLimit = route.bodyLimit ?? app.initialConfig.bodyLimit ?? 1_048_576;
    app.route({
      method: route.method,
      url: route.url.replace(/\{(\w+)\}/g, ':$1'),
      ...(route.bodyLimit ? { bodyLimit: route.bodyLimit } : {}),
      onRequest: async (request) => {
        // No roles: no token (the handler authenticates the request by other means, e.g. a signature).
        principals.set(request, route.roles.length === 0 ? { role: null, name: 'unauthenticated' } : authenticate(request, route.roles));
      },
      // Keeps the bytes as they came (within the body limit) and hands the parser the same bytes.
      ...(route.rawBody
        ? {
            preParsing: async (request: FastifyRequest, _reply: FastifyReply, payload: NodeJS.ReadableStream) => {
              const chunks: Buffer[] = [];
              let length = 0;
              for await (const chunk of payload) {
                const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
                length += bytes.length;
                if (length > bodyLimit) throw Object.assign(new Error('Request body is too large'), { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' });
                chunks.push(bytes);
              }
              const raw = Buffer.concat(chunks);
              rawBodies.set(request, raw);
              return Object.assign(Readable.from([raw]), { receivedEncodedLength: raw.length });
            },
          }
        : {}),
      // A server span per call: commands created here carry its trace into Kafka.
      handler: (request, reply) =>
        inSpan(
          `${route.method} ${route.url}`,
          {
            kind: SpanKind.SERVER,
            attributes: { 'http.request.method': route.method, 'http.route': route.url },
            // A caller's W3C trace context (traceparent) is continued: its trace id reaches the commands.
            parent: contextFromHeaders({ traceparent: headerValue(request.headers.traceparent), tracestate: headerValue(request.headers.tracestate) }),
          },
          async () => {
            const principal = principals.get(request);
            if (!principal) throw new TypeError(`no principal for ${route.method} ${route.url}: onRequest did not run`);
            const input = {
              // No body at all is an empty object; a JSON `null` is not (it is refused as not an object).
              body: parse(route.body, request.body === undefined ? {} : request.body, 'request body'),
              query: parse(route.query, request.query ?? {}, 'query'),
              params: parse(route.params, request.params ?? {}, 'path'),
              principal,
              request,
              reply,
              rawBody: rawBodies.get(request) ?? Buffer.alloc(0),
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

/** Responses every operation can give, whatever it does. */
const COMMON_RESPONSES: Record<number, string> = {
  400: 'Invalid input: issues name each bad field (also a malformed URL or malformed HTTP)',
  401: 'Missing or unknown token',
  403: 'Role not allowed',
  408: 'The request (headers and body) did not arrive within HTTP_REQUEST_TIMEOUT_MS',
  414: 'A path parameter is too long',
  431: 'Request headers too large',
  500: 'Internal error (nothing more is said)',
  503: 'Unavailable: the database cannot serve now, or the request took longer than HTTP_HANDLER_TIMEOUT_MS; see Retry-After',
};

/** An operation that takes no token cannot answer 401 or 403 for one (it declares its own 401 if it authenticates otherwise). */
const WITHOUT_TOKEN_RESPONSES: Record<number, string> = Object.fromEntries(
  Object.entries(COMMON_RESPONSES).filter(([code]) => code !== '401' && code !== '403'),
);

/** Responses of an operation that takes a body. */
const BODY_RESPONSES: Record<number, string> = {
  413: 'Request body too large',
  415: 'Unsupported media type (send application/json)',
};

/** The OpenAPI 3.1 document of `routes`. */
export function openApiDocument(routes: readonly AnyRoute[], info: { title: string; version: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    paths[r.url] ??= {};
    paths[r.url]![r.method.toLowerCase()] = {
      summary: r.summary,
      description: r.roles.length > 0 ? `Roles: ${r.roles.join(', ')}.` : 'No token: the request authenticates itself (see the summary).',
      security: r.roles.length > 0 ? [{ bearer: [] }] : [],
      parameters: [...parameters(r.params, 'path'), ...parameters(r.query, 'query')],
      ...(r.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: { ...z.toJSONSchema(r.body, { io: 'input', unrepresentable: 'any' }), ...r.bodyRules } } },
            },
          }
        : {}),
      responses: Object.fromEntries(
        Object.entries({ ...(r.roles.length > 0 ? COMMON_RESPONSES : WITHOUT_TOKEN_RESPONSES), ...(r.body ? BODY_RESPONSES : {}), ...r.responses }).map(
          ([code, description]) => [code, Number(code) >= 400 ? { description, content: { 'application/json': { schema: ErrorSchema } } } : { description }],
        ),
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

/**
 * `routes` and `GET /v1/openapi.json`, which serves their OpenAPI document (its own operation
 * included): a route like any other, so it needs a token like any other.
 */
export function withOpenApiRoute(routes: readonly AnyRoute[], info: { title: string; version: string }): AnyRoute[] {
  let document: Record<string, unknown> = {};
  const all = [
    ...routes,
    defineRoute({
      method: 'GET',
      url: '/v1/openapi.json',
      summary: 'This OpenAPI 3.1 document, generated from the route definitions the server runs.',
      roles: ['requester', 'auditor', 'admin'],
      responses: { 200: 'The document' },
      handler: async () => document,
    }),
  ];
  document = openApiDocument(all, info);
  return all;
}

/** A route as the server serves it: method and path (`{param}` style). */
export interface ServedRoute {
  method: string;
  url: string;
}

/**
 * Records every route registered on `app` from now on (the ops routes, the API, and the HEAD twin
 * Fastify adds to each GET), so that tests can check each against the role matrix.
 */
export function collectRoutes(app: FastifyInstance): readonly ServedRoute[] {
  const served: ServedRoute[] = [];
  app.addHook('onRoute', (options) => {
    for (const method of [options.method].flat()) served.push({ method, url: options.url.replace(/:(\w+)/g, '{$1}') });
  });
  return served;
}

/** One header value (a repeated header is not a valid trace context: its first value is used). */
function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
