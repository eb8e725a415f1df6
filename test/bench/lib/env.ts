import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export interface Stack {
  kafkaBrokers: string[];
  /** URL of a maintenance database of a role that may CREATE DATABASE. */
  databaseUrl: string;
  source: 'env' | 'stack.env';
}

/** KAFKA_BROKERS / DATABASE_URL from the environment, else from the local stack's stack.env (run.sh calls up.sh). */
export function benchStack(): Stack {
  let kafka = process.env.KAFKA_BROKERS;
  let db = process.env.DATABASE_URL;
  let source: Stack['source'] = 'env';
  if (!kafka || !db) {
    // The state dir as deploy/local resolves it (<repo>/.local, or /var/tmp/retention-<hash>).
    const stateDir = process.env.RETENTION_LOCAL_DIR ?? execFileSync('bash', [resolve(ROOT, 'deploy/local/state-dir.sh')], { encoding: 'utf8' }).trim();
    const file = resolve(stateDir, 'stack.env');
    if (!existsSync(file))
      throw new Error(`KAFKA_BROKERS / DATABASE_URL are not set and ${file} does not exist: run "bash deploy/local/up.sh" or "npm run bench"`);
    const vars = Object.fromEntries(
      readFileSync(file, 'utf8')
        .split('\n')
        .map((line) => /^([A-Z_]+)=(.*)$/.exec(line.trim()))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => [m[1]!, m[2]!]),
    );
    kafka ||= vars.KAFKA_BROKERS;
    db ||= vars.DATABASE_URL;
    source = 'stack.env';
  }
  if (!kafka || !db) throw new Error('no KAFKA_BROKERS / DATABASE_URL');
  return { kafkaBrokers: kafka.split(',').map((b) => b.trim()), databaseUrl: db, source };
}

export function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

export const suffix = (): string => randomBytes(3).toString('hex');

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Creates a database of its own (`bench_<what>_<random>`); returns its URL and a drop function. */
export async function createBenchDatabase(stack: Stack, what: string, registry: BenchDatabases): Promise<{ name: string; url: string }> {
  const name = `bench_${what}_${suffix()}`.replace(/[^a-z0-9_]/g, '_').slice(0, 63);
  const admin = new pg.Client({ connectionString: withDatabase(stack.databaseUrl, 'postgres') });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  registry.add(name);
  return { name, url: withDatabase(stack.databaseUrl, name) };
}

/** Every database the run created, dropped at the end (also after a failure or Ctrl-C). */
export class BenchDatabases {
  private readonly names = new Set<string>();
  constructor(private readonly stack: Stack) {}
  add(name: string): void {
    this.names.add(name);
  }
  async drop(name: string): Promise<void> {
    const admin = new pg.Client({ connectionString: withDatabase(this.stack.databaseUrl, 'postgres') });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      this.names.delete(name);
    } finally {
      await admin.end();
    }
  }
  async dropAll(): Promise<void> {
    if (process.env.BENCH_KEEP_DBS === 'true') {
      if (this.names.size) log(`BENCH_KEEP_DBS=true: keeping databases ${[...this.names].join(', ')}`);
      return;
    }
    for (const name of [...this.names]) await this.drop(name).catch((e: unknown) => log(`could not drop database ${name}: ${String(e)}`));
  }
}

export async function pgClient(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: 'retention-bench' });
  await client.connect();
  return client;
}

export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Nearest-rank percentile of an unsorted list. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export const round = (n: number, digits = 2): number => (Number.isFinite(n) ? Number(n.toFixed(digits)) : n);

/** Resident memory of a process in MiB: current (VmRSS) and peak (VmHWM), from /proc. */
export function processMemory(pid: number): { rssMiB: number; peakMiB: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMiB: round(kb('VmRSS') / 1024, 1), peakMiB: round(kb('VmHWM') / 1024, 1) };
  } catch {
    return null;
  }
}

/** Runs EXPLAIN (ANALYZE, BUFFERS) of a statement in a transaction that is rolled back (costs on: PostgreSQL prints the JIT summary only then). */
export async function explainAnalyze(client: pg.Client, sql: string, params: unknown[]): Promise<string> {
  await client.query('BEGIN');
  try {
    const { rows } = await client.query(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params);
    return rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n');
  } finally {
    await client.query('ROLLBACK');
  }
}

/** CPU time (user + system) a process has used so far, in seconds (from /proc/<pid>/stat, 100 ticks/s). */
export function processCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** Busy and total CPU time of the whole machine so far (from /proc/stat), in ticks. */
export function machineCpu(): { busy: number; total: number } {
  const [cpu] = readFileSync('/proc/stat', 'utf8').split('\n');
  const v = cpu!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}
