import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import type { TestStack } from '@retention/testing';
import { startSecuredBroker } from './secured-broker-setup';
import { localStateDir } from './local-state-dir';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const script = (name: string): string => resolve(root, 'deploy/local', name);

function dockerAvailable(): boolean {
  if (process.env.RETENTION_TEST_DOCKER === 'false') return false;
  const result = spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 10_000 });
  return result.status === 0;
}

function readStackEnv(): Record<string, string> {
  const file = resolve(localStateDir(root), 'stack.env');
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
 * Starts the secured broker (in the background: tests wait for it through `securedTestStack()`),
 * and finds the plain stack (below). At the end, stops what it started.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const secured = startSecuredBroker(root);
  project.provide('securedStack', { statusFile: secured.statusFile });
  let stopStack: () => Promise<void>;
  try {
    stopStack = await setupStack(project);
  } catch (error) {
    await secured.stop();
    throw error;
  }
  return async () => {
    try {
      await stopStack();
    } finally {
      await secured.stop();
    }
  };
}

/**
 * Finds the real Kafka broker and PostgreSQL server for the e2e project, in this order:
 * 1. `KAFKA_BROKERS` and `DATABASE_URL` from the environment;
 * 2. containers started with testcontainers, where a Docker engine answers;
 * 3. the local stack of deploy/local (started here if it is not running, and then stopped again
 *    by PID at the end; a stack that was already running is left running).
 */
async function setupStack(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.KAFKA_BROKERS && process.env.DATABASE_URL) {
    const stack: TestStack = {
      kafkaBrokers: process.env.KAFKA_BROKERS.split(','),
      databaseUrl: process.env.DATABASE_URL,
      // An external server: its URL is taken to be a superuser's unless one is named.
      superuserUrl: process.env.RETENTION_TEST_SUPERUSER_URL || process.env.DATABASE_URL,
      source: 'env',
    };
    project.provide('stack', stack);
    return async () => {};
  }

  if (dockerAvailable()) {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const { KafkaContainer } = await import('@testcontainers/kafka');
    const [pg, kafka] = await Promise.all([
      new PostgreSqlContainer('postgres:15-alpine').withUsername('retention').withPassword('retention').withDatabase('retention').start(),
      new KafkaContainer('confluentinc/cp-kafka:7.9.0').withKraft().start(),
    ]);
    project.provide('stack', {
      kafkaBrokers: [`${kafka.getHost()}:${kafka.getMappedPort(9093)}`],
      databaseUrl: pg.getConnectionUri(),
      // The image makes its user a superuser.
      superuserUrl: pg.getConnectionUri(),
      source: 'testcontainers',
    });
    return async () => {
      await Promise.all([pg.stop(), kafka.stop()]);
    };
  }

  // The plain stack, whatever RETENTION_KAFKA_SECURITY / RETENTION_KAFKA_BROKERS the caller's shell has.
  const plainEnv = { ...process.env, RETENTION_KAFKA_SECURITY: 'none', RETENTION_KAFKA_BROKERS: '1' };
  const running = spawnSync('bash', [script('status.sh')], { stdio: 'ignore', env: plainEnv }).status === 0;
  if (!running) execFileSync('bash', [script('up.sh')], { stdio: 'inherit', env: { ...plainEnv, KAFKA_BROKERS: '', DATABASE_URL: '' } });
  const env = readStackEnv();
  if (!env.KAFKA_BROKERS || !env.DATABASE_URL) throw new Error('stack.env lacks KAFKA_BROKERS or DATABASE_URL');
  project.provide('stack', {
    kafkaBrokers: env.KAFKA_BROKERS.split(','),
    databaseUrl: env.DATABASE_URL,
    superuserUrl: localSuperuserUrl(env.DATABASE_URL),
    source: 'local',
  });
  return async () => {
    if (!running && process.env.RETENTION_KEEP_STACK !== 'true') execFileSync('bash', [script('down.sh')], { stdio: 'inherit', env: plainEnv });
  };
}

/** The local stack's superuser: `postgres` over the server's Unix socket (trusted there; the socket dir is the server user's, 0700). */
function localSuperuserUrl(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  url.username = 'postgres';
  url.password = '';
  url.pathname = '/postgres';
  url.search = `?host=${encodeURIComponent(resolve(localStateDir(root), 'postgres/run'))}`;
  return url.toString();
}
