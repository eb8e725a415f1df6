import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

export interface OpsServerOptions {
  registry: Registry;
  /** Returns null when ready, or the reason it is not. */
  readiness: () => Promise<string | null>;
  /** Serve `/metrics` here (default true); false when it has a port of its own (METRICS_PORT). */
  metrics?: boolean;
}

/**
 * `/metrics`, `/healthz` (the process is alive) and `/readyz` (its dependencies answer), for a
 * domain service; the coordinator mounts the same routes on its API server. With METRICS_PORT set,
 * a second server of these routes listens there and the first one leaves out `/metrics`.
 */
export function registerOpsRoutes(app: FastifyInstance, options: OpsServerOptions): void {
  if (options.metrics ?? true) {
    app.get('/metrics', async (_request, reply) => {
      const body = await options.registry.metrics();
      return reply.type(options.registry.contentType).send(body);
    });
  }
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const reason = await options.readiness();
    if (reason) return reply.code(503).send({ status: 'not_ready', reason });
    return { status: 'ready' };
  });
}

export async function startOpsServer(options: OpsServerOptions & { host: string; port: number }): Promise<{ url: string; close: () => Promise<void> }> {
  const app = Fastify({ logger: false });
  registerOpsRoutes(app, options);
  const url = await app.listen({ host: options.host, port: options.port });
  return { url, close: () => app.close() };
}
