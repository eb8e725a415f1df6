import { execFileSync, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { CLUSTER_BROKERS, clusterEnv, clusterStateDir, readStackEnv, script } from './cluster-stack';

/**
 * The `cluster` project's global setup: the 3-broker KRaft cluster of deploy/local
 * (RETENTION_KAFKA_BROKERS=3, a stack of its own with its own PostgreSQL), started here if it does
 * not run, and stopped again by PID at the end unless RETENTION_KEEP_STACK=true; a cluster that
 * was already running is left running.
 */
export default function setup(project: TestProject): () => void {
  const env = clusterEnv();
  const running = spawnSync('bash', [script('status.sh')], { stdio: 'ignore', env }).status === 0;
  if (!running) execFileSync('bash', [script('up.sh')], { stdio: ['ignore', 'ignore', 'inherit'], env });
  const stateDir = clusterStateDir();
  const stackEnv = readStackEnv(stateDir);
  const brokers = stackEnv.KAFKA_BROKERS?.split(',') ?? [];
  if (brokers.length !== CLUSTER_BROKERS || !stackEnv.DATABASE_URL)
    throw new Error(`${stateDir}/stack.env does not describe a ${CLUSTER_BROKERS}-broker cluster`);
  // The superuser: `postgres` over the cluster's own PostgreSQL's Unix socket (trusted there; 0700).
  const superuser = new URL(stackEnv.DATABASE_URL);
  superuser.username = 'postgres';
  superuser.password = '';
  superuser.pathname = '/postgres';
  superuser.search = `?host=${encodeURIComponent(resolve(stateDir, 'postgres/run'))}`;
  project.provide('stack', { kafkaBrokers: brokers, databaseUrl: stackEnv.DATABASE_URL, superuserUrl: superuser.toString(), source: 'local' });
  project.provide('cluster', { stateDir, brokers: CLUSTER_BROKERS });
  return () => {
    if (!running && process.env.RETENTION_KEEP_STACK !== 'true') execFileSync('bash', [script('down.sh')], { stdio: 'inherit', env });
  };
}
