import { type RunningCoordinator, startCoordinator } from '@retention/service-coordinator';
import { loadConfig } from '@retention/config';
import { type RetentionServiceDefinition, type RunningRetentionService, ServiceEnv, startRetentionService } from '@retention/consumer';
import { CoordinatorEnv } from '@retention/service-coordinator';
import { createTestDatabase, createTestLogger, type TestDatabase, testStack, uniqueTopicPrefix, waitFor } from '@retention/testing';

export const TOKENS = {
  admin: 'admin-token-0123456789abcdef',
  requester: 'requester-token-0123456789abcdef',
  auditor: 'auditor-token-0123456789abcdef',
};

/** One isolated platform per test file: its own topics, consumer groups and databases. */
export interface Platform {
  prefix: string;
  coordinator: RunningCoordinator;
  services: Map<string, RunningRetentionService>;
  logs: string[];
  api(method: string, path: string, options?: { body?: unknown; token?: string | null; headers?: Record<string, string> }): Promise<{ status: number; body: any }>;
  waitForRequest(id: string, statuses?: string[]): Promise<any>;
  stop(): Promise<void>;
}

export async function startPlatform(definitions: RetentionServiceDefinition[], options: { coordinatorEnv?: Record<string, string> } = {}): Promise<Platform> {
  const stack = testStack();
  const prefix = uniqueTopicPrefix();
  const databases: TestDatabase[] = [];
  const logs: string[] = [];
  const services = new Map<string, RunningRetentionService>();
  const common = { KAFKA_BROKERS: stack.kafkaBrokers.join(','), RETENTION_TOPIC_PREFIX: prefix };

  for (const definition of definitions) {
    const db = await createTestDatabase(stack.databaseUrl, `e2e_${definition.policies.service}`);
    databases.push(db);
    const { logger, lines } = createTestLogger(definition.policies.service);
    const config = loadConfig(ServiceEnv, { ...common, DATABASE_URL: db.url, RETENTION_HASH_KEY: 'test-hash-key-0123456789', HTTP_PORT: '0' });
    const running = await startRetentionService(definition, config, { logger });
    services.set(definition.policies.service, running);
    logs.push(...lines);
    Object.defineProperty(running, 'logLines', { value: lines });
  }

  const db = await createTestDatabase(stack.databaseUrl, 'e2e_coordinator');
  databases.push(db);
  const { logger, lines } = createTestLogger('coordinator');
  const coordinator = await startCoordinator(
    loadConfig(CoordinatorEnv, {
      ...common,
      DATABASE_URL: db.url,
      HTTP_PORT: '0',
      RETENTION_API_TOKENS: Object.entries(TOKENS).map(([role, token]) => `${role}:${token}`).join(','),
      RETENTION_SUBJECT_HMAC_KEY: 'test-hmac-key-0123456789',
      ...options.coordinatorEnv,
    }),
    { logger },
  );

  const api: Platform['api'] = async (method, path, opts = {}) => {
    const token = opts.token === undefined ? TOKENS.admin : opts.token;
    const response = await fetch(`${coordinator.url}${path}`, {
      method,
      headers: {
        ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...opts.headers,
      },
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON (metrics, CSV)
    }
    return { status: response.status, body };
  };

  return {
    prefix,
    coordinator,
    services,
    get logs() {
      return [...lines, ...[...services.values()].flatMap((s) => (s as unknown as { logLines: string[] }).logLines)];
    },
    api,
    waitForRequest: (id, statuses = ['completed', 'failed']) =>
      waitFor(`request ${id} to reach ${statuses.join('/')}`, async () => {
        const { body } = await api('GET', `/v1/erasure-requests/${id}`);
        return statuses.includes(body.status) ? body : undefined;
      }),
    async stop() {
      await coordinator.stop();
      for (const s of services.values()) await s.stop();
      for (const d of databases) await d.drop().catch(() => undefined);
    },
  };
}
