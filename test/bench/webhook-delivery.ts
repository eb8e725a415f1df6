/**
 * How fast erasures reach webhook targets, on the real coordinator, PostgreSQL and Kafka: a
 * coordinator in this process with one webhook target and no Kafka service (every erasure's only
 * target is the webhook), a receiver in this process on loopback that checks each delivery's
 * signature, then BENCH_WEBHOOK_SUBJECTS erasures submitted in bulk, twice:
 *
 * 1. the receiver answers each delivery at once (200 with the result in its body);
 * 2. the receiver accepts each delivery (202) and sends the result to the callback endpoint.
 *
 *   BENCH_ENTRY=test/bench/webhook-delivery.ts npm run bench
 *
 * Prints deliveries per second from the last submission to the last completion, the coordinator's
 * RSS before and after, and checks that every request completed with one delivery and that every
 * signature was good; it asserts nothing about time (timing is not a test).
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '@retention/config';
import { topicNames } from '@retention/contracts';
import { ensureTopics } from '@retention/kafka';
import { createLogger } from '@retention/observability';
import { CoordinatorEnv, startCoordinator } from '@retention/service-coordinator';
import { createTestKeys } from '@retention/testing/signing-keys';
import { BenchDatabases, benchStack, createBenchDatabase, intEnv, log, sleep } from './lib/env';
import { benchKafka, benchKafkaSecurityEnv } from './lib/kafka';

const SUBJECTS = intEnv('BENCH_WEBHOOK_SUBJECTS', 5000);
const TICK_MS = intEnv('BENCH_WEBHOOK_TICK_MS', 5000);
const REQUESTER = 'bench-requester-token-0123456789';
const ADMIN = 'bench-admin-token-0123456789';

const stack = benchStack();
const dbs = new BenchDatabases(stack);
const prefix = `bench-webhook-${randomUUID().slice(0, 8)}.`;
const topics = topicNames(prefix);
const kafka = benchKafka(stack.kafkaBrokers, 'bench-webhook');
const figures: Record<string, string | number> = {};
const mb = (bytes: number): string => `${Math.round(bytes / 1048576)} MB`;

let secret = '';
let mode: 'sync' | 'callback' = 'sync';
let deliveries = 0;
let badSignatures = 0;
const callbackErrors: string[] = [];
const receiver = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(chunks);
    const header = String(req.headers['retention-signature'] ?? '');
    const fields = Object.fromEntries(header.split(',').map((p) => p.split('=') as [string, string]));
    const expected = createHmac('sha256', secret).update(`${fields.t}.`).update(raw).digest();
    const given = Buffer.from(fields.v1 ?? '', 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      badSignatures++;
      res.writeHead(401).end();
      return;
    }
    deliveries++;
    const event = JSON.parse(raw.toString('utf8')) as { requestId: string; callbackUrl: string };
    const result = JSON.stringify({ requestId: event.requestId, status: 'completed', deleted: 1 });
    if (mode === 'sync') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(result);
      return;
    }
    res.writeHead(202).end();
    const t = Math.floor(Date.now() / 1000);
    const v1 = createHmac('sha256', secret).update(`${t}.${result}`).digest('hex');
    fetch(event.callbackUrl, { method: 'POST', headers: { 'content-type': 'application/json', 'retention-signature': `t=${t},v1=${v1}` }, body: result })
      .then(async (r) => {
        if (r.status !== 200) callbackErrors.push(`${r.status} ${(await r.text()).slice(0, 200)}`);
      })
      .catch((error: unknown) => callbackErrors.push(String(error)));
  });
});
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));

await ensureTopics(kafka, topics);
const { url } = await createBenchDatabase(stack, 'webhook', dbs);
const coordinator = await startCoordinator(
  loadConfig(CoordinatorEnv, {
    KAFKA_BROKERS: stack.kafkaBrokers.join(','),
    ...benchKafkaSecurityEnv(),
    RETENTION_TOPIC_PREFIX: prefix,
    DATABASE_URL: url,
    HTTP_PORT: '0',
    RETENTION_API_TOKENS: `requester:${REQUESTER},admin:${ADMIN}`,
    RETENTION_SUBJECT_HMAC_KEY: 'bench-hmac-key-0123456789',
    RETENTION_WEBHOOK_ALLOW_HTTP_LOOPBACK: 'true',
    MAINTENANCE_INTERVAL_MS: String(TICK_MS),
    RETENTION_PROBE_AFTER_COMPLETION: 'false',
    ...createTestKeys([]).coordinatorEnv(),
  }),
  { logger: createLogger({ service: 'bench-coordinator', level: 'warn' }) },
);
const db = coordinator.dataSource;
const count = async (sql: string): Promise<number> => ((await db.query(sql)) as Array<{ n: number }>)[0]!.n;

async function post(path: string, token: string, body: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${coordinator.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

async function run(label: string, subjectPrefix: string): Promise<void> {
  const before = deliveries;
  const started = performance.now();
  for (let from = 0; from < SUBJECTS; from += 1000) {
    const items = Array.from({ length: Math.min(1000, SUBJECTS - from) }, (_, i) => ({ subject: { type: 'user', id: `${subjectPrefix}-${from + i}` } }));
    const r = await post('/v1/erasure-requests/bulk', REQUESTER, { items });
    if (r.status !== 202) throw new Error(`bulk: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  }
  const submitted = performance.now();
  const pending = (): Promise<number> => count(`SELECT count(*)::int AS n FROM retention_requests WHERE status <> 'completed'`);
  const deadline = Date.now() + 1_800_000;
  while ((await pending()) > 0) {
    if (Date.now() > deadline) throw new Error(`${label}: ${await pending()} requests not completed after 30 min`);
    if (callbackErrors.length > 0) throw new Error(`${label}: callbacks refused: ${callbackErrors.slice(0, 3).join(' | ')}`);
    await sleep(250);
  }
  const done = performance.now();
  figures[`${label}: ${SUBJECTS.toLocaleString('en')} erasures submitted in`] = `${((submitted - started) / 1000).toFixed(1)} s`;
  figures[`${label}: all completed after the last submission in`] = `${((done - submitted) / 1000).toFixed(1)} s`;
  figures[`${label}: deliveries/s`] = Math.round(SUBJECTS / ((done - submitted) / 1000));
  figures[`${label}: deliveries (one per erasure)`] = deliveries - before;
}

try {
  const target = await post('/v1/targets', ADMIN, {
    name: 'bench-webhook',
    kind: 'webhook',
    url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`,
    subjectTypes: ['user'],
  });
  if (target.status !== 201) throw new Error(`register: ${target.status} ${JSON.stringify(target.body)}`);
  secret = target.body.secret as string;
  const rssBefore = process.memoryUsage().rss;
  log(`sync answers: ${SUBJECTS.toLocaleString('en')} erasures, maintenance every ${TICK_MS} ms`);
  await run('answered in the response', 'sync');
  mode = 'callback';
  log(`callbacks: ${SUBJECTS.toLocaleString('en')} erasures`);
  await run('answered by callback', 'callback');
  figures['RSS of this process (coordinator + receiver) before / after'] = `${mb(rssBefore)} / ${mb(process.memoryUsage().rss)}`;
  figures['bad signatures seen by the receiver'] = badSignatures;
  const requests = await count(`SELECT count(*)::int AS n FROM retention_requests WHERE status = 'completed'`);
  if (requests !== 2 * SUBJECTS || deliveries !== 2 * SUBJECTS || badSignatures !== 0) {
    throw new Error(`expected ${2 * SUBJECTS} completed requests and deliveries, no bad signature; got ${requests}, ${deliveries}, ${badSignatures}`);
  }
  process.stdout.write(
    `== webhook delivery (one webhook target, no Kafka service)\n${Object.entries(figures)
      .map(([k, v]) => `   ${k}: ${typeof v === 'number' ? v.toLocaleString('en-US') : v}`)
      .join('\n')}\n`,
  );
} finally {
  await coordinator.stop();
  await new Promise((r) => receiver.close(r));
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
  await admin.disconnect();
  await dbs.dropAll();
}
