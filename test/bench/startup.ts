/**
 * `npm run bench:startup`: start time and resident memory of a domain service (sessions) run from
 * its TypeScript sources through tsx (what `npm start` does) and from its compiled JavaScript with
 * plain node (`npm start -w services/sessions`, production). Builds first (`npm run build`), then
 * starts each one BENCH_STARTUP_RUNS times (default 3, alternating, after one unmeasured start of
 * each that migrates the database and creates the topics) against the real broker and database.
 *
 * Start time: from spawn to the log line `retention service started` (migrated, policies checked,
 * manifest published, consumers joined, metrics server listening). Memory: VmRSS at that moment
 * and after BENCH_STARTUP_IDLE_S seconds idle (default 5), and the peak (VmHWM).
 * Results: printed, and written to bench-results/startup.json and startup.md.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createTestKeys } from '@retention/testing/signing-keys';
import { benchKafka, benchKafkaSecurityEnv } from './lib/kafka';
import { BenchDatabases, benchStack, createBenchDatabase, intEnv, log, processMemory, ROOT, round, sleep, suffix } from './lib/env';

type Mode = 'tsx' | 'compiled';

interface Sample {
  mode: Mode;
  startMs: number;
  rssAtStartMiB: number;
  rssIdleMiB: number;
  peakMiB: number;
}

const RUNS = intEnv('BENCH_STARTUP_RUNS', 3);
const IDLE_S = intEnv('BENCH_STARTUP_IDLE_S', 5);

const commands: Record<Mode, { args: string[]; env: Record<string, string> }> = {
  tsx: {
    args: ['--conditions=@retention/source', '--import', 'tsx', resolve(ROOT, 'services/sessions/src/main.ts')],
    env: { TSX_TSCONFIG_PATH: resolve(ROOT, 'tsconfig.runtime.json') },
  },
  compiled: { args: [resolve(ROOT, 'services/sessions/dist/main.js')], env: {} },
};

async function startOnce(mode: Mode, env: Record<string, string>): Promise<Sample> {
  const started = performance.now();
  const child: ChildProcess = spawn(process.execPath, commands[mode].args, {
    cwd: ROOT,
    // Only what the service needs: no NODE_OPTIONS from run.sh (the compiled run must not see the source condition).
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...commands[mode].env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const ready = new Promise<number>((done, fail) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('"retention service started"')) done(performance.now() - started);
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => fail(new Error(`sessions (${mode}) exited with ${code} before it started:\n${output.slice(-4000)}`)));
  });
  try {
    const startMs = await ready;
    const atStart = processMemory(child.pid!);
    await sleep(IDLE_S * 1000);
    const idle = processMemory(child.pid!);
    if (!atStart || !idle) throw new Error(`no /proc/${child.pid}/status`);
    return { mode, startMs: round(startMs, 0), rssAtStartMiB: atStart.rssMiB, rssIdleMiB: idle.rssMiB, peakMiB: idle.peakMiB };
  } finally {
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(15_000).then(() => child.kill('SIGKILL'))]);
  }
}

async function deleteTopics(brokers: string[], prefix: string): Promise<void> {
  const admin = benchKafka(brokers, 'bench-startup-cleanup').admin();
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

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : round((sorted[mid - 1]! + sorted[mid]!) / 2, 1);
};

const stack = benchStack();
const dbs = new BenchDatabases(stack);
const prefix = `bench${suffix()}.`;
const buildStarted = performance.now();
// BENCH_STARTUP_BUILD=false: measure the dist/ already there.
if (process.env.BENCH_STARTUP_BUILD !== 'false') {
  log('npm run build');
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
}
const buildSeconds = process.env.BENCH_STARTUP_BUILD === 'false' ? null : round((performance.now() - buildStarted) / 1000, 1);
const samples: Sample[] = [];
try {
  const db = await createBenchDatabase(stack, 'startup', dbs);
  const keys = createTestKeys(['sessions']);
  const env = {
    KAFKA_BROKERS: stack.kafkaBrokers.join(','),
    RETENTION_TOPIC_PREFIX: prefix,
    DATABASE_URL: db.url,
    RETENTION_HASH_KEY: 'bench-hash-key-0123456789',
    RETENTION_COMMAND_KEK: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    HTTP_PORT: '0',
    LOG_LEVEL: 'info',
    KAFKAJS_NO_PARTITIONER_WARNING: '1',
    ...keys.serviceEnv('sessions'),
    ...benchKafkaSecurityEnv(),
  };
  for (const mode of ['tsx', 'compiled'] as const) {
    log(`warm-up start (${mode})`);
    await startOnce(mode, env);
  }
  for (let i = 0; i < RUNS; i++) {
    for (const mode of ['tsx', 'compiled'] as const) {
      const sample = await startOnce(mode, env);
      log(`${mode}: started in ${sample.startMs} ms, RSS ${sample.rssAtStartMiB} MiB at start, ${sample.rssIdleMiB} MiB idle, peak ${sample.peakMiB} MiB`);
      samples.push(sample);
    }
  }
} finally {
  await deleteTopics(stack.kafkaBrokers, prefix).catch((e: unknown) => log(`could not delete topics ${prefix}*: ${String(e)}`));
  await dbs.dropAll();
}

const summary = Object.fromEntries(
  (['tsx', 'compiled'] as const).map((mode) => {
    const of = samples.filter((s) => s.mode === mode);
    return [
      mode,
      {
        startMsMedian: median(of.map((s) => s.startMs)),
        rssAtStartMiBMedian: median(of.map((s) => s.rssAtStartMiB)),
        rssIdleMiBMedian: median(of.map((s) => s.rssIdleMiB)),
        peakMiBMedian: median(of.map((s) => s.peakMiB)),
      },
    ];
  }),
);
const result = { at: new Date().toISOString(), node: process.version, service: 'sessions', runs: RUNS, idleSeconds: IDLE_S, buildSeconds, summary, samples };
mkdirSync(resolve(ROOT, 'bench-results'), { recursive: true });
writeFileSync(resolve(ROOT, 'bench-results/startup.json'), `${JSON.stringify(result, null, 2)}\n`);
const rows = (['tsx', 'compiled'] as const).map(
  (m) => `| ${m} | ${summary[m]!.startMsMedian} | ${summary[m]!.rssAtStartMiBMedian} | ${summary[m]!.rssIdleMiBMedian} | ${summary[m]!.peakMiBMedian} |`,
);
const table = [
  `Sessions service, ${RUNS} starts each (median), Node ${process.version}, ${result.at}; ${buildSeconds === null ? 'dist/ as it was' : `npm run build took ${buildSeconds} s`}.`,
  '',
  '| run as | start (ms) | RSS at start (MiB) | RSS idle (MiB) | peak (MiB) |',
  '| --- | --- | --- | --- | --- |',
  ...rows,
].join('\n');
writeFileSync(resolve(ROOT, 'bench-results/startup.md'), `${table}\n`);
process.stdout.write(`${table}\n`);
