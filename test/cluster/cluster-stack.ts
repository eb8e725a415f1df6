import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The cluster's number of brokers (and KRaft voters). */
export const CLUSTER_BROKERS = 3;

/** What the cluster project's global setup hands its test files, besides the `stack` of libs/testing. */
export interface ClusterHandle {
  /** deploy/local's state dir of the cluster: node i keeps its PID file in kafka/node-<i>/kafka.pid. */
  stateDir: string;
  brokers: number;
}

declare module 'vitest' {
  export interface ProvidedContext {
    cluster: ClusterHandle;
  }
}

export const script = (name: string): string => resolve(ROOT, 'deploy/local', name);

/**
 * The environment deploy/local's scripts get for the cluster: RETENTION_KAFKA_BROKERS=3, and none
 * of the variables that would point them at another stack (a state dir, ports, external servers).
 */
export function clusterEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, RETENTION_KAFKA_BROKERS: String(CLUSTER_BROKERS), RETENTION_KAFKA_SECURITY: 'none' };
  for (const name of [
    'RETENTION_LOCAL_DIR',
    'RETENTION_KAFKA_PORT',
    'RETENTION_KAFKA_CONTROLLER_PORT',
    'RETENTION_KAFKA_BROKER_PORT',
    'RETENTION_PG_PORT',
    'RETENTION_KAFKA_ONLY',
    'KAFKA_BROKERS',
    'DATABASE_URL',
  ])
    delete env[name];
  return env;
}

/** <default state root>/cluster, as deploy/local/lib.sh resolves it for RETENTION_KAFKA_BROKERS > 1. */
export function clusterStateDir(): string {
  const rootDir = execFileSync('bash', [script('state-dir.sh')], { encoding: 'utf8', env: clusterEnv() }).trim();
  return resolve(rootDir, 'cluster');
}

export function readStackEnv(stateDir: string): Record<string, string> {
  const file = resolve(stateDir, 'stack.env');
  if (!existsSync(file)) throw new Error(`deploy/local/up.sh did not write ${file}`);
  return Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .map((line) => /^([A-Z_]+)=(.*)$/.exec(line.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1]!, m[2]!]),
  );
}

/**
 * The PID of node `id`'s JVM, from the PID file up.sh wrote; only if that process is alive and was
 * started with this node's server.properties (a PID file alone could name a reused PID).
 */
export function brokerPid(stateDir: string, id: number): number | undefined {
  const dir = resolve(stateDir, 'kafka', `node-${id}`);
  const file = resolve(dir, 'kafka.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return args.includes(resolve(dir, 'server.properties')) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Runs deploy/local/up.sh for the cluster: starts the nodes that do not run (and waits for them), reuses the others. */
export function upCluster(): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('bash', [script('up.sh')], { env: clusterEnv(), stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolvePromise() : reject(new Error(`deploy/local/up.sh (cluster) exited with ${code}`))));
  });
}
