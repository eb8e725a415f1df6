import { type RunningCoordinator, startCoordinator } from '@retention/service-coordinator';
import { loadConfig } from '@retention/config';
import { type RetentionServiceDefinition, type RunningRetentionService, type ServiceConfig, ServiceEnv, startRetentionService } from '@retention/consumer';
import { CoordinatorEnv } from '@retention/service-coordinator';
import {
  createTestDatabase,
  createTestKeys,
  createTestLogger,
  type TestDatabase,
  type TestKeys,
  testStack,
  uniqueTopicPrefix,
  waitFor,
} from '@retention/testing';

import { coordinatorRuntimeUrl } from './coordinator-role';

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
  /** The signing keys of this platform (to start more processes, or to sign forged messages in attack tests). */
  keys: TestKeys;
  /** The configuration each service was started with (to start it again, or in a child process). */
  serviceConfigs: Map<string, ServiceConfig>;
  stopService(name: string): Promise<void>;
  startService(name: string): Promise<RunningRetentionService>;
  api(
    method: string,
    path: string,
    options?: { body?: unknown; token?: string | null; headers?: Record<string, string> },
  ): Promise<{ status: number; body: any }>;
  waitForRequest(id: string, statuses?: string[]): Promise<any>;
  stop(): Promise<void>;
}

export interface PlatformOptions {
  coordinatorEnv?: Record<string, string>;
  /** Extra environment per service name (e.g. RETENTION_FILES_ROOT). */
  serviceEnv?: Record<string, Record<string, string>>;
  /** The coordinator's clock (tests move it forward to reach deadlines). */
  now?: () => Date;
  /** More service names whose keys the coordinator trusts (services started outside the platform). */
  trustedServices?: string[];
  /** The topic prefix (default: a new unique one); the secured broker needs its topics and ACLs made first. */
  prefix?: string;
}

export async function startPlatform(definitions: RetentionServiceDefinition[], options: PlatformOptions = {}): Promise<Platform> {
  const stack = testStack();
  const prefix = options.prefix ?? uniqueTopicPrefix();
  const databases: TestDatabase[] = [];
  const services = new Map<string, RunningRetentionService>();
  const serviceConfigs = new Map<string, ServiceConfig>();
  const serviceLines: string[][] = [];
  const launch = async (definition: RetentionServiceDefinition): Promise<RunningRetentionService> => {
    const { logger, lines } = createTestLogger(definition.policies.service);
    serviceLines.push(lines);
    const running = await startRetentionService(definition, serviceConfigs.get(definition.policies.service)!, { logger });
    services.set(definition.policies.service, running);
    return running;
  };
  const common = { KAFKA_BROKERS: stack.kafkaBrokers.join(','), RETENTION_TOPIC_PREFIX: prefix };
  const keys = createTestKeys([...new Set([...definitions.map((d) => d.policies.service), ...(options.trustedServices ?? [])])]);

  for (const definition of definitions) {
    const db = await createTestDatabase(stack.databaseUrl, `e2e_${definition.policies.service}`);
    databases.push(db);
    const config = loadConfig(ServiceEnv, {
      ...common,
      DATABASE_URL: db.url,
      RETENTION_HASH_KEY: 'test-hash-key-0123456789',
      HTTP_PORT: '0',
      ...keys.serviceEnv(definition.policies.service),
      ...options.serviceEnv?.[definition.policies.service],
    });
    serviceConfigs.set(definition.policies.service, config);
    await launch(definition);
  }

  const db = await createTestDatabase(stack.databaseUrl, 'e2e_coordinator');
  databases.push(db);
  // As in a deployment: the migrations run as the database's owner, the coordinator as a role that
  // may only append to and read the ledger (test/e2e/ledger-proof.e2e.ts proves it).
  const runtimeUrl = await coordinatorRuntimeUrl(stack, db.url);
  const { logger, lines } = createTestLogger('coordinator');
  const coordinator = await startCoordinator(
    loadConfig(CoordinatorEnv, {
      ...common,
      DATABASE_URL: runtimeUrl,
      DATABASE_MIGRATIONS_URL: db.url,
      HTTP_PORT: '0',
      RETENTION_API_TOKENS: Object.entries(TOKENS)
        .map(([role, token]) => `${role}:${token}`)
        .join(','),
      RETENTION_SUBJECT_HMAC_KEY: 'test-hmac-key-0123456789',
      // No scheduled sweep may slip into a test by running at 03:00 UTC; tests that want one say so.
      SWEEP_MISFIRE_GRACE_SECONDS: '0',
      // Test services' policies may run for real at once; test/e2e/safe-onboarding.e2e.ts turns this off.
      POLICIES_AUTO_ENABLE: 'true',
      // No deletion probes unless a test asks (deletion-probes, auditor-page): their probe.result
      // entries and messages would land, at times of their own, among what other tests compare exactly.
      RETENTION_PROBE_AFTER_COMPLETION: 'false',
      RETENTION_PROBE_SAMPLE: '0',
      ...keys.coordinatorEnv(),
      ...options.coordinatorEnv,
    }),
    { logger, now: options.now },
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
    keys,
    get logs() {
      return [...lines, ...serviceLines.flat()];
    },
    serviceConfigs,
    async stopService(name) {
      await services.get(name)?.stop();
      services.delete(name);
    },
    startService(name) {
      const definition = definitions.find((d) => d.policies.service === name);
      if (!definition) throw new Error(`no service ${name} in this platform`);
      return launch(definition);
    },
    api,
    waitForRequest: (id, statuses = ['completed', 'failed', 'held']) =>
      waitFor(`request ${id} to reach ${statuses.join('/')}`, async () => {
        const { body } = await api('GET', `/v1/erasure-requests/${id}`);
        return statuses.includes(body.status) ? body : undefined;
      }),
    async stop() {
      await coordinator.stop();
      await Promise.all([...services.values()].map((s) => s.stop()));
      await Promise.all(databases.map((d) => d.drop().catch(() => undefined)));
    },
  };
}
