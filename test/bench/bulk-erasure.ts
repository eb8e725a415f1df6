/**
 * How fast bulk erasures are accepted, on the real coordinator, PostgreSQL and Kafka: a coordinator
 * in this process with five registered services (signed registrations; nothing consumes the
 * commands, so what is measured is acceptance and publishing, not the services' work), then
 *
 * 1. the baseline: BENCH_BULK_SINGLE single `POST /v1/erasure-requests` (16 in flight);
 * 2. BENCH_BULK_SUBJECTS subjects through `POST /v1/erasure-requests/bulk`, BENCH_BULK_CHUNK a call,
 *    one call at a time (what the CLI does), then how long the outbox relay takes to publish their
 *    commands, and how long one single erasure made while that backlog is there waits for its command
 *    to be published (the fan-out's effect on other work);
 * 3. the same number of subjects through the CLI, `retention erase --csv FILE` (`main()` of
 *    @retention/cli, the real HTTP client), on a file written for it.
 *
 *   BENCH_ENTRY=test/bench/bulk-erasure.ts npm run bench
 *
 * Prints the figures, checks that every subject became one request with its 5 targets and its 2
 * ledger entries, and asserts nothing about time (timing is not a test).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@retention/config';
import { createApiClient, main as cli } from '@retention/cli';
import { encodeEvent, EventTypes, signMessage, topicNames } from '@retention/contracts';
import { ensureTopics } from '@retention/kafka';
import { createLogger } from '@retention/observability';
import { CoordinatorEnv, startCoordinator } from '@retention/service-coordinator';
import { createTestKeys } from '@retention/testing/signing-keys';
import { BenchDatabases, benchStack, createBenchDatabase, intEnv, log, percentile, sleep } from './lib/env';
import { benchKafka, benchKafkaSecurityEnv } from './lib/kafka';

const SUBJECTS = intEnv('BENCH_BULK_SUBJECTS', 100_000);
const CHUNK = intEnv('BENCH_BULK_CHUNK', 1000);
const SINGLE = intEnv('BENCH_BULK_SINGLE', 2000);
const SERVICES = ['sessions', 'orders', 'analytics', 'support', 'ml-data'];
const TOKEN = 'bench-requester-token-0123456789';

const stack = benchStack();
const dbs = new BenchDatabases(stack);
const prefix = `bench-bulk-${randomUUID().slice(0, 8)}.`;
const topics = topicNames(prefix);
const keys = createTestKeys(SERVICES);
const kafka = benchKafka(stack.kafkaBrokers, 'bench-bulk');
const dir = mkdtempSync(join(tmpdir(), 'bench-bulk-'));
const rate = (n: number, ms: number): number => Math.round(n / (ms / 1000));
const figures: Record<string, string | number> = {};

await ensureTopics(kafka, topics);
// Five services that store users, registered as the SDK does (signed with keys the coordinator trusts).
const producer = kafka.producer();
await producer.connect();
for (const service of SERVICES) {
  const key = keys.service(service);
  const { value } = encodeEvent(
    EventTypes.serviceRegistered,
    {
      service,
      version: '1.0.0',
      subjects: [{ type: 'user', tables: [{ table: 'accounts', column: 'user_id', action: 'delete' }] }],
      policies: [],
      policyHash: 'x'.repeat(64),
      publishedAt: new Date().toISOString(),
      signingKey: { keyId: key.keyId, publicKey: key.publicKey },
    },
    { source: `/retention/services/${service}` },
  );
  const headers = signMessage(key, { topic: topics.registry, key: service, value });
  await producer.send({ topic: topics.registry, messages: [{ key: service, value, headers }] });
}
await producer.disconnect();

const { url } = await createBenchDatabase(stack, 'bulk', dbs);
const coordinator = await startCoordinator(
  loadConfig(CoordinatorEnv, {
    KAFKA_BROKERS: stack.kafkaBrokers.join(','),
    ...benchKafkaSecurityEnv(),
    RETENTION_TOPIC_PREFIX: prefix,
    DATABASE_URL: url,
    HTTP_PORT: '0',
    RETENTION_API_TOKENS: `requester:${TOKEN},admin:bench-admin-token-0123456789`,
    RETENTION_SUBJECT_HMAC_KEY: 'bench-hmac-key-0123456789',
    SWEEP_MISFIRE_GRACE_SECONDS: '0',
    // No redelivery while the benchmark runs (nothing acks).
    RETRY_BASE_SECONDS: '86400',
    ...keys.coordinatorEnv(),
  }),
  { logger: createLogger({ service: 'bench-coordinator', level: 'warn' }) },
);
const db = coordinator.dataSource;
const count = async (sql: string): Promise<number> => ((await db.query(sql)) as Array<{ n: number }>)[0]!.n;
const outboxRows = (): Promise<number> => count(`SELECT count(*)::int AS n FROM retention_outbox`);

async function api(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(`${coordinator.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

async function drained(label: string, timeoutMs = 1_800_000): Promise<number> {
  const started = performance.now();
  let last = -1;
  while ((last = await outboxRows()) > 0) {
    if (performance.now() - started > timeoutMs) throw new Error(`${label}: ${last} outbox rows still unpublished after ${timeoutMs / 1000} s`);
    await sleep(200);
  }
  return performance.now() - started;
}

try {
  await (async () => {
    const services = () => count(`SELECT count(*)::int AS n FROM registered_services WHERE status = 'active'`);
    const deadline = Date.now() + 60_000;
    while ((await services()) < SERVICES.length) {
      if (Date.now() > deadline) throw new Error('the five registrations did not arrive');
      await sleep(200);
    }
  })();

  // 1. Baseline: one request per call.
  log(`single: ${SINGLE.toLocaleString('en')} POST /v1/erasure-requests, 16 in flight`);
  let next = 0;
  const singleStarted = performance.now();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < SINGLE) {
        const i = next++;
        const r = await api('/v1/erasure-requests', { subject: { type: 'user', id: `single-${i}` } });
        if (r.status !== 202) throw new Error(`single erasure: ${r.status} ${JSON.stringify(r.body)}`);
      }
    }),
  );
  const singleMs = performance.now() - singleStarted;
  figures['single POST, requests/s'] = rate(SINGLE, singleMs);
  await drained('single');

  // 2. Bulk through the API, one call at a time.
  log(`api: ${SUBJECTS.toLocaleString('en')} subjects, ${CHUNK} a call`);
  const callMs: number[] = [];
  let busy = 0;
  const timedCall = async (items: unknown[]) => {
    const started = performance.now();
    const r = await api('/v1/erasure-requests/bulk', { items }, { 'idempotency-key': 'bench-api' });
    if (r.status !== 503) callMs.push(performance.now() - started);
    return r;
  };
  const apiStarted = performance.now();
  for (let from = 0; from < SUBJECTS; from += CHUNK) {
    const items = Array.from({ length: Math.min(CHUNK, SUBJECTS - from) }, (_, i) => ({
      subject: { type: 'user', id: `api-${from + i}` },
      line: from + i + 1,
    }));
    let r = await timedCall(items);
    // Backpressure (RETENTION_BULK_MAX_BACKLOG): wait as the API asks (Retry-After: 5), then the same call.
    while (r.status === 503) {
      busy += 1;
      await sleep(5000);
      r = await timedCall(items);
    }
    if (r.status !== 202 || r.body.created !== items.length) throw new Error(`bulk call: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  }
  const apiMs = performance.now() - apiStarted;
  const backlog = await outboxRows();
  // One erasure made now waits behind the backlog: how long until its command is published?
  const probeStarted = performance.now();
  const probe = await api('/v1/erasure-requests', { subject: { type: 'user', id: 'during-backlog' } });
  const probeAccepted = performance.now() - probeStarted;
  if (probe.status !== 202) throw new Error(`single erasure during the backlog: ${probe.status}`);
  // Its command is the newest outbox row (nothing else writes one now).
  const probeRow = ((await db.query(`SELECT max(id) AS id FROM retention_outbox`)) as Array<{ id: string }>)[0]!.id;
  while (((await db.query(`SELECT 1 FROM retention_outbox WHERE id = $1`, [probeRow])) as unknown[]).length > 0) await sleep(100);
  const probePublished = performance.now() - probeStarted;
  await drained('api');
  const publishMs = performance.now() - apiStarted - apiMs;
  figures['api bulk, subjects accepted/s'] = rate(SUBJECTS, apiMs);
  figures[`api bulk, ${SUBJECTS.toLocaleString('en')} subjects accepted in`] = `${(apiMs / 1000).toFixed(1)} s`;
  figures[`api bulk, call of ${CHUNK} p50 / p99`] = `${Math.round(percentile(callMs, 50))} / ${Math.round(percentile(callMs, 99))} ms`;
  figures['api bulk, calls answered 503 (outbox backlog over RETENTION_BULK_MAX_BACKLOG)'] = busy;
  figures['outbox rows left when the last call returned'] = backlog;
  figures['commands published/s (relay, after the last call)'] = rate(backlog, publishMs);
  figures['one single erasure during that backlog: accepted in'] = `${Math.round(probeAccepted)} ms`;
  figures['… its command published after'] = `${(probePublished / 1000).toFixed(1)} s`;

  // 3. The CLI on a CSV file.
  const file = join(dir, 'subjects.csv');
  writeFileSync(file, ['type,id', ...Array.from({ length: SUBJECTS }, (_, i) => `user,cli-${i}`)].join('\n') + '\n');
  log(`cli: retention erase --csv (${SUBJECTS.toLocaleString('en')} lines, --chunk-size ${CHUNK})`);
  const progress: string[] = [];
  const cliStarted = performance.now();
  const code = await cli(['node', 'retention', 'erase', '--csv', file, '--chunk-size', String(CHUNK)], {
    out: () => {},
    err: (line) => progress.push(line),
    env: {},
    sleep,
    client: createApiClient(coordinator.url, TOKEN),
  });
  const cliMs = performance.now() - cliStarted;
  if (code !== 0) throw new Error(`retention erase --csv exited ${code}: ${progress.slice(-3).join(' | ')}`);
  figures['cli erase --csv, subjects accepted/s'] = rate(SUBJECTS, cliMs);
  figures[`cli erase --csv, ${SUBJECTS.toLocaleString('en')} lines in`] = `${(cliMs / 1000).toFixed(1)} s`;
  figures['cli last progress line'] = progress.at(-1) ?? '';
  await drained('cli');

  // Every subject one request, with its five targets and its two ledger entries.
  const expected = SINGLE + 2 * SUBJECTS + 1;
  const requests = await count(`SELECT count(*)::int AS n FROM retention_requests WHERE kind = 'erasure'`);
  const targets = await count(`SELECT count(*)::int AS n FROM request_targets`);
  const entries = await count(`SELECT count(*)::int AS n FROM ledger_entries WHERE entry_type IN ('request.created', 'command.sent')`);
  const sealed = await count(`SELECT count(*)::int AS n FROM retention_requests WHERE subject_id NOT LIKE 'sealed:v1:%'`);
  figures['requests / targets / ledger entries'] = `${requests} / ${targets} / ${entries}`;
  if (requests !== expected || targets !== expected * SERVICES.length || entries !== expected * 2 || sealed !== 0) {
    throw new Error(
      `expected ${expected} requests, ${expected * SERVICES.length} targets, ${expected * 2} entries, all sealed; got ${requests}, ${targets}, ${entries}, ${sealed} unsealed`,
    );
  }
  process.stdout.write(
    `== bulk erasure (5 targets each)\n${Object.entries(figures)
      .map(([k, v]) => `   ${k}: ${typeof v === 'number' ? v.toLocaleString('en-US') : v}`)
      .join('\n')}\n`,
  );
} finally {
  await coordinator.stop();
  rmSync(dir, { recursive: true, force: true });
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
  await admin.disconnect();
  await dbs.dropAll();
}
