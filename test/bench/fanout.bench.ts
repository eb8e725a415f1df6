/**
 * Erasure fan-out: N erasure requests through the real coordinator's HTTP API, fanned out to the
 * five real domain services (sessions, orders, analytics, support, ml-data), each one a child
 * process started like scripts/start.sh does (`node --import tsx services/<name>/src/main.ts`),
 * each with its own database. Measured: completed requests/s, latency from accepted (the
 * request's created_at) to complete (its completed_at, set when the last ack is reconciled), and
 * the resident memory of every process (VmRSS / VmHWM from /proc).
 *
 * Baseline, run first on identical fresh databases: a bare kafkajs loop doing the same work: the
 * bench produces one command per request, five worker processes (fanout-baseline-worker.ts)
 * consume it, run the same data statements and produce an ack, and the bench counts five acks
 * per request.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { topicNames } from '@retention/contracts';
import { createDataSource, openDatabase } from '@retention/database';
import { ensureTopics } from '@retention/kafka';
// The subpath, not the package root: the root also exports vitest helpers, which need a test runner.
import { createTestKeys } from '@retention/testing/signing-keys';
import { logLevel } from 'kafkajs';
import type pg from 'pg';
import { FANOUT_SERVICES } from './fanout-services';
import {
  type BenchDatabases,
  createBenchDatabase,
  intEnv,
  log,
  machineCpu,
  percentile,
  pgClient,
  processCpuSeconds,
  processMemory,
  ROOT,
  round,
  sleep,
  type Stack,
  suffix,
} from './lib/env';
import { benchKafka, benchKafkaSecurityEnv } from './lib/kafka';
import { type BenchResult, emptyResult, OUT_DIR } from './lib/results';

const HASH_KEY = 'bench-hash-key-0123456789abcdef';
// kafkajs warns once per producer about its v2 default partitioner; nothing here depends on it.
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
const TOKENS = {
  admin: 'bench-admin-token-0123456789abcdef',
  requester: 'bench-requester-token-0123456789abcdef',
  auditor: 'bench-auditor-token-0123456789abcdef',
};
const SUBJECTS = 'bench-user-';
const PROBES = 'bench-probe-';
const OTHERS = 'bench-other-';

export function fanoutSizes(): { erasures: number; concurrency: number; probes: number; timeoutSeconds: number } {
  return {
    erasures: intEnv('BENCH_ERASURES', 10_000),
    concurrency: intEnv('BENCH_FANOUT_CONCURRENCY', 16),
    probes: intEnv('BENCH_FANOUT_PROBES', 30),
    timeoutSeconds: intEnv('BENCH_FANOUT_TIMEOUT_S', 900),
  };
}

// ---------------------------------------------------------------------------------------------
// child processes

interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  logFile: string;
  exited: boolean;
  idle?: { rssMiB: number; peakMiB: number };
  maxRssMiB: number;
  /** CPU seconds used when the measured window started. */
  cpuAtStart?: number;
  /** Its HTTP server (/metrics). */
  url?: string;
}

const LOG_DIR = resolve(OUT_DIR, 'logs');

/** Every child process still running, so an interrupted run can stop them (by PID) before exiting. */
const running = new Set<Child>();

/** Stops every child this benchmark started and has not stopped yet (SIGTERM, then SIGKILL). */
export async function stopAllChildren(): Promise<void> {
  await stopChildren([...running]);
}

function spawnChild(name: string, entry: string, env: Record<string, string>): Child {
  mkdirSync(LOG_DIR, { recursive: true });
  const logFile = resolve(LOG_DIR, `${name}.log`);
  const fd = openSync(logFile, 'w');
  const proc = spawn(
    process.execPath,
    [...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean), '--conditions=@retention/source', '--import', 'tsx', entry],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', TSX_TSCONFIG_PATH: resolve(ROOT, 'tsconfig.runtime.json'), ...env },
      stdio: ['ignore', fd, fd],
    },
  );
  closeSync(fd);
  const child: Child = { name, proc, pid: proc.pid!, logFile, exited: false, maxRssMiB: 0 };
  running.add(child);
  proc.once('exit', () => {
    child.exited = true;
    running.delete(child);
  });
  return child;
}

/** Waits for a log line matching `pattern` (JSON lines); returns the parsed line. */
async function waitForLog(child: Child, pattern: RegExp, timeoutMs = 120_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = readFileSync(child.logFile, 'utf8');
    const line = text.split('\n').find((l) => pattern.test(l));
    if (line) return JSON.parse(line) as Record<string, unknown>;
    if (child.exited || Date.now() > deadline) {
      throw new Error(`${child.name} ${child.exited ? 'exited' : 'did not start in time'}; last log lines:\n${text.split('\n').slice(-15).join('\n')}`);
    }
    await sleep(200);
  }
}

async function stopChildren(children: Child[]): Promise<void> {
  for (const c of children) if (!c.exited) c.proc.kill('SIGTERM');
  const deadline = Date.now() + 20_000;
  while (children.some((c) => !c.exited) && Date.now() < deadline) await sleep(100);
  for (const c of children) if (!c.exited) c.proc.kill('SIGKILL');
}

/** Samples VmRSS of every child once a second; returns a stop function. */
function sampleMemory(children: Child[]): () => void {
  const timer = setInterval(() => {
    for (const c of children) {
      const m = processMemory(c.pid);
      if (m) c.maxRssMiB = Math.max(c.maxRssMiB, m.rssMiB);
    }
  }, 1000);
  return () => clearInterval(timer);
}

function memoryReport(children: Child[]): Record<string, unknown> {
  return Object.fromEntries(
    children.map((c) => {
      const end = processMemory(c.pid);
      return [c.name, { idleRssMiB: c.idle?.rssMiB, maxSampledRssMiB: c.maxRssMiB, peakRssMiB: end?.peakMiB, endRssMiB: end?.rssMiB }];
    }),
  );
}

/** Marks the start of the measured window (CPU of every child and of the machine). */
function startCpuWindow(children: Child[]): () => { perProcess: Record<string, unknown>; machineBusyPercent: number } {
  for (const c of children) c.cpuAtStart = processCpuSeconds(c.pid) ?? undefined;
  const m0 = machineCpu();
  return () => {
    const m1 = machineCpu();
    return {
      perProcess: Object.fromEntries(children.map((c) => [c.name, round((processCpuSeconds(c.pid) ?? NaN) - (c.cpuAtStart ?? NaN), 1)])),
      machineBusyPercent: round((100 * (m1.busy - m0.busy)) / Math.max(1, m1.total - m0.total), 1),
    };
  };
}

/** Waits until every group has consumed its topics to the end (lag 0); false on timeout. */
async function waitForNoLag(stack: Stack, prefix: string, groups: string[], timeoutMs: number): Promise<boolean> {
  const kafka = benchKafka(stack.kafkaBrokers, 'bench-lag');
  const admin = kafka.admin();
  await admin.connect();
  const topics = topicNames(prefix);
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let lag = 0;
      for (const groupId of groups) {
        const topic = groupId.endsWith('.acks') ? topics.acks : topics.commands;
        const high = await admin.fetchTopicOffsets(topic);
        const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
        const at = new Map((committed?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
        for (const p of high) lag += Math.max(0, Number(p.high) - Math.max(0, at.get(p.partition) ?? 0));
      }
      if (lag === 0) return true;
      if (Date.now() > deadline) return false;
      await sleep(1000);
    }
  } finally {
    await admin.disconnect();
  }
}

/** Sums of a Prometheus counter by one label (`null`: the total), keys prefixed. */
function byLabel(text: string, metric: string, label: string | null, prefix: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${metric}(?:\\{([^}]*)\\})? ([0-9.e+-]+)$`).exec(line);
    if (!m) continue;
    const key = label === null ? prefix : `${prefix}${new RegExp(`${label}="([^"]*)"`).exec(m[1] ?? '')?.[1] ?? 'unknown'}`;
    out[key] = (out[key] ?? 0) + Number(m[2]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// databases

async function seed(client: pg.Client, statements: string[], count: number, probes: number): Promise<void> {
  for (const sql of statements) {
    await client.query(sql, [SUBJECTS, count]);
    if (probes > 0) await client.query(sql, [PROBES, probes]);
    await client.query(sql, [OTHERS, count]); // other people's rows, which must stay
  }
  await client.query('ANALYZE');
}

/** Applies a service's own migrations (for the baseline's databases; the platform's services migrate themselves). */
async function migrateServiceSchema(name: string, url: string): Promise<void> {
  const definitions = {
    sessions: () => import('@retention/service-sessions').then((m) => m.sessionsService),
    orders: () => import('@retention/service-orders').then((m) => m.ordersService),
    analytics: () => import('@retention/service-analytics').then((m) => m.analyticsService),
    support: () => import('@retention/service-support').then((m) => m.supportService),
    'ml-data': () => import('@retention/service-ml-data').then((m) => m.mlDataService),
  } as const;
  const definition = await definitions[name as keyof typeof definitions]();
  const ds = createDataSource({
    url,
    entities: definition.entities as never,
    migrations: definition.migrations,
    logger: undefined,
    applicationName: 'retention-bench',
  });
  await openDatabase(ds);
  await ds.destroy();
}

async function remainingRows(urls: Map<string, string>, pattern: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const s of FANOUT_SERVICES) {
    const c = await pgClient(urls.get(s.name)!);
    try {
      out[s.name] = (await c.query(s.remaining, [pattern])).rows[0].n as number;
    } finally {
      await c.end();
    }
  }
  return out;
}

const latencyStats = (ms: number[]) => ({ p50Ms: round(percentile(ms, 50), 1), p99Ms: round(percentile(ms, 99), 1), maxMs: round(Math.max(...ms), 1) });

// ---------------------------------------------------------------------------------------------
// baseline

interface FanoutRun {
  completed: number;
  failed: number;
  submitSeconds: number;
  wallSeconds: number;
  completedPerSecond: number;
  latencyMs: number[];
  probeLatencyMs: number[];
  memory: Record<string, unknown>;
  remaining: Record<string, number>;
  othersLeft: Record<string, number>;
  extra: Record<string, unknown>;
}

async function runBaseline(stack: Stack, dbs: BenchDatabases, sizes: ReturnType<typeof fanoutSizes>, prefix: string): Promise<FanoutRun> {
  const urls = new Map<string, string>();
  for (const s of FANOUT_SERVICES) {
    const db = await createBenchDatabase(stack, `fanout_base_${s.name}`, dbs);
    urls.set(s.name, db.url);
    await migrateServiceSchema(s.name, db.url);
    const c = await pgClient(db.url);
    await seed(c, s.seed, sizes.erasures, sizes.probes);
    await c.end();
  }
  const topics = topicNames(`${prefix}base.`);
  const kafka = benchKafka(stack.kafkaBrokers, 'bench-baseline', logLevel.WARN);
  await ensureTopics(kafka, topics, ['commands', 'acks']);

  const workers = FANOUT_SERVICES.map((s) =>
    spawnChild(`baseline-${s.name}`, 'test/bench/fanout-baseline-worker.ts', {
      BENCH_SERVICE: s.name,
      BENCH_DB_URL: urls.get(s.name)!,
      BENCH_BROKERS: stack.kafkaBrokers.join(','),
      ...benchKafkaSecurityEnv(),
      BENCH_COMMANDS_TOPIC: topics.commands,
      BENCH_ACKS_TOPIC: topics.acks,
      BENCH_GROUP: `${prefix}base.${s.name}`,
      BENCH_HASH_KEY: HASH_KEY,
      KAFKAJS_NO_PARTITIONER_WARNING: '1',
    }),
  );
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  const collector = kafka.consumer({ groupId: `${prefix}base.collector`, allowAutoTopicCreation: false });
  try {
    for (const w of workers) await waitForLog(w, /"ready":true/);
    for (const w of workers) w.idle = processMemory(w.pid) ?? undefined;

    const acceptedAt = new Map<string, number>();
    const ackCount = new Map<string, number>();
    const completedAt = new Map<string, number>();
    const waiters = new Map<string, () => void>();
    await producer.connect();
    await collector.connect();
    await collector.subscribe({ topic: topics.acks, fromBeginning: true });
    let joined!: () => void;
    const groupJoined = new Promise<void>((r) => (joined = r));
    collector.on(collector.events.GROUP_JOIN, () => joined());
    await collector.run({
      eachMessage: async ({ message }) => {
        const { requestId } = JSON.parse(message.value!.toString('utf8')) as { requestId: string };
        const n = (ackCount.get(requestId) ?? 0) + 1;
        ackCount.set(requestId, n);
        if (n === FANOUT_SERVICES.length) {
          completedAt.set(requestId, Date.now());
          waiters.get(requestId)?.();
        }
      },
    });
    await groupJoined;

    const send = async (subject: string): Promise<string> => {
      const requestId = randomUUID();
      acceptedAt.set(requestId, Date.now());
      await producer.send({ topic: topics.commands, acks: -1, messages: [{ key: subject, value: JSON.stringify({ requestId, subjectId: subject }) }] });
      return requestId;
    };

    log(`  baseline: producing ${sizes.erasures.toLocaleString()} commands (${sizes.concurrency} at a time)`);
    const stopSampling = sampleMemory(workers);
    const cpuWindow = startCpuWindow(workers);
    const s0 = Date.now();
    let next = 1;
    await Promise.all(
      Array.from({ length: sizes.concurrency }, async () => {
        while (next <= sizes.erasures) await send(`${SUBJECTS}${next++}`);
      }),
    );
    const submitSeconds = (Date.now() - s0) / 1000;
    const deadline = Date.now() + sizes.timeoutSeconds * 1000;
    while (completedAt.size < sizes.erasures && Date.now() < deadline) {
      await sleep(500);
    }
    stopSampling();
    const cpu = cpuWindow();
    const done = [...completedAt.entries()];
    const wallSeconds = (Math.max(...done.map(([, t]) => t)) - s0) / 1000;
    const latencyMs = done.map(([id, t]) => t - acceptedAt.get(id)!);
    log(`  baseline: ${done.length.toLocaleString()} complete in ${round(wallSeconds, 1)} s = ${round(done.length / wallSeconds, 1)} req/s`);

    const probeLatencyMs: number[] = [];
    for (let i = 1; i <= sizes.probes; i++) {
      let resolveDone!: () => void;
      const finished = new Promise<void>((r) => (resolveDone = r));
      const id = await send(`${PROBES}${i}`);
      waiters.set(id, resolveDone);
      if (!completedAt.has(id)) await Promise.race([finished, sleep(30_000)]);
      if (completedAt.has(id)) probeLatencyMs.push(completedAt.get(id)! - acceptedAt.get(id)!);
    }
    return {
      completed: done.length,
      failed: 0,
      submitSeconds,
      wallSeconds,
      completedPerSecond: done.length / wallSeconds,
      latencyMs,
      probeLatencyMs,
      memory: memoryReport(workers),
      remaining: await remainingRows(urls, `${SUBJECTS}%`),
      othersLeft: await remainingRows(urls, `${OTHERS}%`),
      extra: { cpuSecondsDuringBurst: cpu.perProcess, machineCpuBusyPercentDuringBurst: cpu.machineBusyPercent },
    };
  } finally {
    await collector.disconnect().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await stopChildren(workers);
    for (const s of FANOUT_SERVICES) await dbs.drop(new URL(urls.get(s.name) ?? 'postgres://x/none').pathname.slice(1)).catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// platform

async function runPlatform(stack: Stack, dbs: BenchDatabases, sizes: ReturnType<typeof fanoutSizes>, prefix: string): Promise<FanoutRun> {
  const urls = new Map<string, string>();
  const children: Child[] = [];
  const common = {
    KAFKA_BROKERS: stack.kafkaBrokers.join(','),
    ...benchKafkaSecurityEnv(),
    RETENTION_TOPIC_PREFIX: prefix,
    LOG_LEVEL: process.env.BENCH_SERVICE_LOG_LEVEL ?? 'info',
  };
  let coordinatorDb: pg.Client | undefined;
  // Signed like a deployment: the coordinator trusts each service's key, each service the coordinator's.
  const keys = createTestKeys(FANOUT_SERVICES.map((s) => s.name));
  try {
    for (const s of FANOUT_SERVICES) {
      const db = await createBenchDatabase(stack, `fanout_${s.name}`, dbs);
      urls.set(s.name, db.url);
      const files = resolve(OUT_DIR, 'files', s.name);
      mkdirSync(files, { recursive: true });
      children.push(
        spawnChild(s.name, s.entry, {
          ...common,
          DATABASE_URL: db.url,
          RETENTION_HASH_KEY: HASH_KEY,
          RETENTION_FILES_ROOT: files,
          HTTP_PORT: '0',
          ...keys.serviceEnv(s.name),
        }),
      );
    }
    for (const c of children) c.url = String((await waitForLog(c, /"msg":"retention service started"/)).url);
    log(`  platform: 5 services up; seeding their databases`);
    for (const s of FANOUT_SERVICES) {
      const c = await pgClient(urls.get(s.name)!);
      await seed(c, s.seed, sizes.erasures, sizes.probes);
      await c.end();
    }
    const cdb = await createBenchDatabase(stack, 'fanout_coordinator', dbs);
    const coordinator = spawnChild('coordinator', 'services/coordinator/src/main.ts', {
      ...common,
      DATABASE_URL: cdb.url,
      RETENTION_API_TOKENS: Object.entries(TOKENS)
        .map(([role, token]) => `${role}:${token}`)
        .join(','),
      RETENTION_SUBJECT_HMAC_KEY: 'bench-hmac-key-0123456789abcdef',
      HTTP_PORT: '0',
      ...keys.coordinatorEnv(),
      // No scheduled sweep may start during the run (as in the e2e harness).
      SWEEP_MISFIRE_GRACE_SECONDS: '0',
      // The platform's default (60 s) unless BENCH_FANOUT_RETRY_BASE_S says otherwise.
      ...(process.env.BENCH_FANOUT_RETRY_BASE_S ? { RETRY_BASE_SECONDS: process.env.BENCH_FANOUT_RETRY_BASE_S } : {}),
    });
    children.push(coordinator);
    const started = await waitForLog(coordinator, /"msg":"coordinator started"/);
    const api = String(started.url);
    coordinator.url = api;
    coordinatorDb = await pgClient(cdb.url);
    await sleep(2000);
    for (const c of children) c.idle = processMemory(c.pid) ?? undefined;

    const post = async (subject: string): Promise<string> => {
      for (let attempt = 1; ; attempt++) {
        const response = await fetch(`${api}/v1/erasure-requests`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKENS.requester}`, 'idempotency-key': `bench-${subject}` },
          body: JSON.stringify({ subject: { type: 'user', id: subject }, reason: 'benchmark' }),
        });
        const body = (await response.json()) as { id: string; targets: string[] };
        if (response.status === 202 || response.status === 200) {
          if (body.targets.length !== FANOUT_SERVICES.length)
            throw new Error(`request has ${body.targets.length} targets (${body.targets.join(', ')}), expected ${FANOUT_SERVICES.length}`);
          return body.id;
        }
        if (attempt >= 5) throw new Error(`POST /v1/erasure-requests: ${response.status} ${JSON.stringify(body)}`);
        await sleep(200 * attempt);
      }
    };

    log(`  platform: submitting ${sizes.erasures.toLocaleString()} erasure requests through ${api}/v1/erasure-requests (${sizes.concurrency} at a time)`);
    const stopSampling = sampleMemory(children);
    const cpuWindow = startCpuWindow(children);
    const s0 = Date.now();
    let next = 1;
    let submitted = 0;
    const progress = setInterval(() => {
      void coordinatorDb!
        .query(`SELECT count(*) FILTER (WHERE status = 'completed')::int AS c FROM retention_requests`)
        .then((r) => log(`    submitted ${submitted.toLocaleString()}, completed ${(r.rows[0].c as number).toLocaleString()}`))
        .catch(() => undefined);
    }, 15_000);
    await Promise.all(
      Array.from({ length: sizes.concurrency }, async () => {
        while (next <= sizes.erasures) {
          await post(`${SUBJECTS}${next++}`);
          submitted++;
        }
      }),
    );
    const submitSeconds = (Date.now() - s0) / 1000;
    log(`  platform: all accepted in ${round(submitSeconds, 1)} s; waiting for completion`);
    const deadline = Date.now() + sizes.timeoutSeconds * 1000;
    let counts = { completed: 0, failed: 0 };
    for (;;) {
      const { rows } = await coordinatorDb.query(
        `SELECT count(*) FILTER (WHERE status = 'completed')::int AS completed, count(*) FILTER (WHERE status = 'failed')::int AS failed FROM retention_requests`,
      );
      counts = rows[0] as typeof counts;
      if (counts.completed + counts.failed >= sizes.erasures || Date.now() > deadline) break;
      await sleep(500);
    }
    clearInterval(progress);
    stopSampling();
    const cpu = cpuWindow();
    const { rows: timing } = await coordinatorDb.query(
      `SELECT extract(epoch FROM completed_at - created_at) * 1000 AS ms, extract(epoch FROM completed_at) * 1000 AS done_ms, extract(epoch FROM created_at) * 1000 AS created_ms
       FROM retention_requests WHERE status = 'completed'`,
    );
    const latencyMs = timing.map((r) => Number(r.ms));
    const firstCreated = Math.min(...timing.map((r) => Number(r.created_ms)));
    const lastDone = Math.max(...timing.map((r) => Number(r.done_ms)));
    const wallSeconds = (lastDone - firstCreated) / 1000;
    log(
      `  platform: ${counts.completed.toLocaleString()} complete (${counts.failed} failed) in ${round(wallSeconds, 1)} s = ${round(counts.completed / wallSeconds, 1)} req/s`,
    );
    const memory = memoryReport(children);
    const [redelivery] = (
      await coordinatorDb.query(
        `SELECT coalesce(sum(attempts - 1), 0)::int AS redelivered, count(*) FILTER (WHERE attempts > 1)::int AS targets_redelivered,
                (SELECT count(*)::int FROM ledger_entries) AS ledger_entries
         FROM request_targets`,
      )
    ).rows as Array<{ redelivered: number; targets_redelivered: number; ledger_entries: number }>;

    // Where the time goes, per target service (medians): waiting for the service (accepted → the
    // service starts the command), executing (start → ack built), and the ack's way back
    // (ack built → reconciled by the coordinator).
    const { rows: stages } = await coordinatorDb.query(
      `SELECT t.service,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM (t.ack->>'startedAt')::timestamptz - r.created_at) * 1000) AS wait_ms,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM (t.ack->>'finishedAt')::timestamptz - (t.ack->>'startedAt')::timestamptz) * 1000) AS exec_ms,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t.acked_at - (t.ack->>'finishedAt')::timestamptz) * 1000) AS ack_ms,
         count(*)::int AS acks
       FROM request_targets t JOIN retention_requests r ON r.id = t.request_id
       WHERE t.status = 'completed' GROUP BY t.service ORDER BY t.service`,
    );
    // Throughput of each stage over its own active window: commands executed per service, and
    // acks reconciled by the coordinator (the request completes with its last target's ack).
    const { rows: rates } = await coordinatorDb.query(
      `SELECT t.service, count(*)::int AS n,
         count(*) / greatest(0.001, extract(epoch FROM max((t.ack->>'finishedAt')::timestamptz) - min((t.ack->>'startedAt')::timestamptz))) AS exec_per_s
       FROM request_targets t WHERE t.status = 'completed' GROUP BY t.service ORDER BY t.service`,
    );
    const [ackRate] = (
      await coordinatorDb.query(
        `SELECT count(*) / greatest(0.001, extract(epoch FROM max(acked_at) - min(acked_at))) AS per_s FROM request_targets WHERE status = 'completed'`,
      )
    ).rows as Array<{ per_s: number }>;
    const stageRates = {
      commandsExecutedPerSecondPerService: Object.fromEntries(rates.map((r) => [r.service, round(Number(r.exec_per_s), 1)])),
      acksReconciledPerSecondByCoordinator: round(Number(ackRate?.per_s), 1),
    };
    const stageMedians = Object.fromEntries(
      stages.map((r) => [
        r.service,
        { acceptedToStartMs: round(Number(r.wait_ms), 1), executeMs: round(Number(r.exec_ms), 1), ackBackMs: round(Number(r.ack_ms), 1), acks: r.acks },
      ]),
    );

    // Duplicate work, from the processes' own Prometheus counters.
    const counters: Record<string, Record<string, number>> = {};
    for (const c of children) {
      const text = await fetch(`${c.url}/metrics`).then(
        (r) => r.text(),
        () => '',
      );
      counters[c.name] =
        c.name === 'coordinator'
          ? { ...byLabel(text, 'retention_acks_total', 'outcome', 'acks_'), ...byLabel(text, 'retention_redeliveries_total', null, 'redeliveries') }
          : byLabel(text, 'retention_commands_total', 'outcome', 'commands_');
    }

    // Leftover work (e.g. redelivered duplicates) would queue the probes behind it: wait until
    // every consumer group of the platform has read its topic to the end.
    const drain0 = Date.now();
    const drained = await waitForNoLag(
      stack,
      prefix,
      [...FANOUT_SERVICES.map((sv) => `${prefix}retention.${sv.name}`), `${prefix}retention.coordinator.acks`],
      300_000,
    );
    const drainSeconds = round((Date.now() - drain0) / 1000, 1);
    log(
      `  platform: consumer groups ${drained ? 'drained' : 'still lagging'} ${drainSeconds} s after the last request completed; ${sizes.probes} requests one at a time`,
    );

    // Unloaded latency: one request at a time, each waited for.
    const probeLatencyMs: number[] = [];
    for (let i = 1; i <= sizes.probes; i++) {
      const id = await post(`${PROBES}${i}`);
      const until = Date.now() + 30_000;
      while (Date.now() < until) {
        const { rows } = await coordinatorDb.query(
          `SELECT extract(epoch FROM completed_at - created_at) * 1000 AS ms FROM retention_requests WHERE id = $1 AND status = 'completed'`,
          [id],
        );
        if (rows[0]) {
          probeLatencyMs.push(Number(rows[0].ms));
          break;
        }
        await sleep(5);
      }
    }
    return {
      completed: counts.completed,
      failed: counts.failed,
      submitSeconds,
      wallSeconds,
      completedPerSecond: counts.completed / wallSeconds,
      latencyMs,
      probeLatencyMs,
      memory,
      remaining: await remainingRows(urls, `${SUBJECTS}%`),
      othersLeft: await remainingRows(urls, `${OTHERS}%`),
      extra: {
        redeliveredCommands: redelivery?.redelivered,
        targetsRedelivered: redelivery?.targets_redelivered,
        ledgerEntries: redelivery?.ledger_entries,
        stageMediansPerService: stageMedians,
        stageRates,
        countersAfterBurst: counters,
        leftoverWorkAfterLastCompletionSeconds: drainSeconds,
        cpuSecondsDuringBurst: cpu.perProcess,
        machineCpuBusyPercentDuringBurst: cpu.machineBusyPercent,
      },
    };
  } finally {
    await coordinatorDb?.end().catch(() => undefined);
    await stopChildren(children);
    for (const url of urls.values()) await dbs.drop(new URL(url).pathname.slice(1)).catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------

async function deleteTopics(stack: Stack, prefix: string): Promise<void> {
  const kafka = benchKafka(stack.kafkaBrokers, 'bench-cleanup');
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (topics.length) await admin.deleteTopics({ topics, timeout: 30_000 });
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix));
    if (groups.length) await admin.deleteGroups(groups).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}

export async function runFanoutBenchmark(stack: Stack, dbs: BenchDatabases): Promise<BenchResult> {
  const sizes = fanoutSizes();
  const started = performance.now();
  const prefix = `bench${suffix()}.`;
  const result = emptyResult('fanout', `Erasure fan-out (${sizes.erasures.toLocaleString()} requests × 5 services)`, {
    ratio: 0.5,
    meaning: 'completed requests/s ≥ 0.5 × a bare kafkajs produce → consume → delete → ack loop doing the same data work',
  });
  try {
    log(`Erasure fan-out: ${sizes.erasures.toLocaleString()} requests across ${FANOUT_SERVICES.map((s) => s.name).join(', ')}; topic prefix ${prefix}`);
    log('  baseline first (bare kafkajs loop, 5 worker processes, fresh databases)');
    const base = await runBaseline(stack, dbs, sizes, prefix);
    log('  platform (coordinator + 5 services as child processes, fresh databases)');
    const plat = await runPlatform(stack, dbs, sizes, prefix);

    result.ratio = round(plat.completedPerSecond / base.completedPerSecond, 3);
    result.pass = result.ratio >= result.target.ratio && plat.completed === sizes.erasures;
    const plat50 = percentile(plat.latencyMs, 50);
    const plat99 = percentile(plat.latencyMs, 99);
    const maxRss = (m: Record<string, unknown>) => Math.max(...Object.values(m).map((v) => Number((v as { peakRssMiB?: number }).peakRssMiB ?? 0)));
    result.headline = {
      N: sizes.erasures,
      'platform completed/s': round(plat.completedPerSecond, 1),
      'baseline completed/s': round(base.completedPerSecond, 1),
      'platform p50/p99 ms (burst)': `${Math.round(plat50)} / ${Math.round(plat99)}`,
      'platform p50/p99 ms (one at a time)': plat.probeLatencyMs.length
        ? `${Math.round(percentile(plat.probeLatencyMs, 50))} / ${Math.round(percentile(plat.probeLatencyMs, 99))}`
        : '—',
      'max service peak RSS MiB': maxRss(Object.fromEntries(Object.entries(plat.memory).filter(([k]) => k !== 'coordinator'))),
    };
    const describe = (r: FanoutRun) => ({
      requests: sizes.erasures,
      completed: r.completed,
      failed: r.failed,
      submitSeconds: round(r.submitSeconds, 1),
      acceptedPerSecond: round(sizes.erasures / r.submitSeconds, 1),
      wallSeconds: round(r.wallSeconds, 1),
      completedPerSecond: round(r.completedPerSecond, 1),
      burstLatency: latencyStats(r.latencyMs),
      unloadedLatency: r.probeLatencyMs.length ? { probes: r.probeLatencyMs.length, ...latencyStats(r.probeLatencyMs) } : null,
      residentMemoryMiB: r.memory,
      subjectRowsLeftAfterRun: r.remaining,
      otherSubjectsRowsKept: r.othersLeft,
      ...r.extra,
    });
    result.platform = {
      path: 'POST /v1/erasure-requests (coordinator: request + targets + ledger + outbox in one tx) → outbox relay → Kafka → 5 services (inbox, holds, executor, audit, ack outbox per tx) → relay → Kafka → coordinator ack reconciler (ledger) → completed',
      ...describe(plat),
    };
    result.baseline = {
      path: 'bench producer → Kafka → 5 bare kafkajs worker processes (same DELETE/UPDATE, ack produce) → Kafka → in-memory ack counter',
      ...describe(base),
    };
    result.notes.push(
      `N = ${sizes.erasures.toLocaleString()} requests (BENCH_ERASURES), submitted ${sizes.concurrency} at a time (BENCH_FANOUT_CONCURRENCY) as fast as they are accepted, then ${sizes.probes} more one at a time (BENCH_FANOUT_PROBES) for the unloaded latency.`,
      'Each service and the coordinator run as child processes (`node --import tsx <entry>`, env as scripts/start.sh sets it, logs in bench-results/logs/); resident memory is VmRSS sampled every second from /proc (idle = after start, peak = VmHWM at the end). The baseline workers are child processes too, so their memory is comparable.',
      'Burst latency = completed_at − created_at of each request in the coordinator database (accepted → last ack reconciled); under a burst it is dominated by queueing behind earlier requests, so the one-at-a-time figures show the pipeline latency itself. Baseline latency = send → fifth ack consumed.',
      `Seed per subject: sessions 3 rows, orders 2 (anonymized, not deleted), analytics 5, support 1, ml-data 1 + 2; as many rows again of other subjects, which must stay. Databases fresh for each path; baseline ran first.`,
      `Both paths consume the command topic with the same settings (6 partitions, one partition at a time per process, as RETENTION_CONCURRENCY=1 by default).`,
    );
    const leftover = Object.values(plat.remaining).reduce((a, b) => a + b, 0) + Object.values(base.remaining).reduce((a, b) => a + b, 0);
    if (leftover > 0)
      result.notes.push(`CHECK FAILED: rows of erased subjects left: platform ${JSON.stringify(plat.remaining)}, baseline ${JSON.stringify(base.remaining)}.`);
    const rates = plat.extra.stageRates as
      { commandsExecutedPerSecondPerService: Record<string, number>; acksReconciledPerSecondByCoordinator: number } | undefined;
    const medians = plat.extra.stageMediansPerService as Record<string, { executeMs: number }> | undefined;
    if (rates && !result.pass) {
      const ackRate = rates.acksReconciledPerSecondByCoordinator;
      const serviceRates = Object.values(rates.commandsExecutedPerSecondPerService);
      const n = FANOUT_SERVICES.length;
      const cpuPerCommandMs = (cpu: unknown, names: string[]): number[] =>
        names.map((name) => round((1000 * Number((cpu as Record<string, number> | undefined)?.[name] ?? NaN)) / sizes.erasures, 2));
      const serviceNames = FANOUT_SERVICES.map((s) => s.name);
      const platCpu = cpuPerCommandMs(plat.extra.cpuSecondsDuringBurst, serviceNames);
      const baseCpu = cpuPerCommandMs(
        base.extra.cpuSecondsDuringBurst,
        serviceNames.map((name) => `baseline-${name}`),
      );
      const coordinatorCpu = cpuPerCommandMs(plat.extra.cpuSecondsDuringBurst, ['coordinator'])[0];
      result.notes.push(
        `Where the throughput goes: the coordinator reconciled ${ackRate} acks/s = ${round(ackRate / n, 1)} requests/s with ${n} targets each (acks fetched together are reconciled in one transaction), ` +
          `and each service executed ${Math.min(...serviceRates)}–${Math.max(...serviceRates)} commands/s (median ${Object.values(medians ?? {})
            .map((m) => m.executeMs)
            .join('/')} ms from inbox row to ack built, one command at a time per process). ` +
          `The machine was ${String(plat.extra.machineCpuBusyPercentDuringBurst)}% busy during the burst. CPU per request: ${platCpu.join('/')} ms in each service process and ${coordinatorCpu} ms in the coordinator, against ${baseCpu.join('/')} ms in each bare worker. ` +
          'For a one-table erasure a service runs about 13 statements (the inbox insert; the batch transaction with the inbox lock, the holds, the executor statement and its re-count, the audit row, the progress with the ack into the outbox; the outbox relay’s claim-and-publish transaction) where the bare worker runs one or two. ' +
          `Profile the processes with BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=<dir>" (passed to every child). ` +
          `Accepting requests through the API ran at ${round(sizes.erasures / plat.submitSeconds, 1)}/s with ${sizes.concurrency} in flight (each one a transaction that also appends to the ledger).`,
      );
    }
    const redelivered = Number(plat.extra.redeliveredCommands ?? 0);
    if (redelivered > 0) {
      const counters = plat.extra.countersAfterBurst as Record<string, Record<string, number>> | undefined;
      const dupCommands = FANOUT_SERVICES.reduce((a, s) => a + (counters?.[s.name]?.commands_duplicate ?? 0), 0);
      const dupAcks = counters?.coordinator?.acks_duplicate ?? 0;
      result.notes.push(
        `Redelivery under backlog: the coordinator redelivered commands to targets ${redelivered.toLocaleString()} times during the burst (${(sizes.erasures * FANOUT_SERVICES.length).toLocaleString()} targets in all; RETRY_BASE_SECONDS = ${process.env.BENCH_FANOUT_RETRY_BASE_S ?? '60, the default'}); the services then handled ${dupCommands.toLocaleString()} duplicate commands and the coordinator ${dupAcks.toLocaleString()} duplicate acks. ` +
          'A target is redelivered when it has not acked RETRY_BASE_SECONDS after the request was created (request_targets.next_attempt_at = created_at + base, services/coordinator/src/requests/create-erasure-request.use-case.ts firstRetryAt; redeliverDue in maintenance/redelivery.ts, 500 per tick), whether or not the service has even received it yet, so any backlog longer than a minute makes the coordinator re-send most of the queue and adds the same amount again to the queues that are behind. ' +
          "Suggested fix: count the retry delay from when the target was last seen making progress (or back off while the command topic's consumer lag for that service is non-zero), and cap redeliveries per tick relative to the acks being reconciled.",
      );
    }
  } finally {
    await deleteTopics(stack, prefix).catch((e: unknown) => log(`could not delete topics ${prefix}*: ${String(e)}`));
    result.durationSeconds = round((performance.now() - started) / 1000, 1);
  }
  return result;
}
