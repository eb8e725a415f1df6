import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { SecuredStackStatus } from '@retention/testing';
import { localStateDir } from './local-state-dir';

export interface SecuredBrokerStart {
  /** Where the outcome is written (see `securedTestStack()` in @retention/testing). */
  statusFile: string;
  /** Waits for the start to finish; stops the broker again if this run started it. */
  stop(): Promise<void>;
}

/**
 * Starts the secured broker of deploy/local (RETENTION_KAFKA_SECURITY=sasl, the broker only) in the
 * background, beside the plain stack: state in `<local dir>/secure`, ports 19192-19194, the jar
 * cache shared. Tests wait for it through the status file, so the JVM boots while other tests run.
 */
export function startSecuredBroker(root: string): SecuredBrokerStart {
  const base = localStateDir(root);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    RETENTION_KAFKA_SECURITY: 'sasl',
    RETENTION_KAFKA_ONLY: 'true',
    RETENTION_LOCAL_DIR: join(base, 'secure'),
    RETENTION_KAFKA_CACHE_DIR: join(base, 'cache'),
    KAFKA_BROKERS: '',
    DATABASE_URL: '',
  };
  // Ports chosen for the plain stack must not move the secured one onto them.
  for (const name of ['RETENTION_KAFKA_BROKERS', 'RETENTION_KAFKA_PORT', 'RETENTION_KAFKA_CONTROLLER_PORT', 'RETENTION_KAFKA_BROKER_PORT', 'RETENTION_PG_PORT'])
    delete env[name];
  const script = (name: string): string => resolve(root, 'deploy/local', name);
  const statusFile = join(tmpdir(), `retention-secured-${process.pid}-${randomBytes(4).toString('hex')}.json`);
  const report = (status: SecuredStackStatus): void => {
    writeFileSync(`${statusFile}.tmp`, JSON.stringify(status), { mode: 0o600 });
    renameSync(`${statusFile}.tmp`, statusFile);
  };

  const status = spawnSync('bash', [script('status.sh')], { env, encoding: 'utf8' });
  const wasRunning = /^kafka: running/m.test(status.stdout ?? '');
  const startedAt = Date.now();
  const done = new Promise<void>((resolveDone) => {
    const child = spawn('bash', [script('up.sh')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error) => {
      report({ ok: false, error: `could not run up.sh: ${error.message}` });
      resolveDone();
    });
    child.on('close', (code) => {
      const vars = Object.fromEntries([...stdout.matchAll(/^([A-Z_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
      if (code === 0 && vars.KAFKA_BROKERS && vars.RETENTION_KAFKA_CREDENTIALS_DIR && vars.RETENTION_KAFKA_PRINCIPALS) {
        report({
          ok: true,
          kafkaBrokers: vars.KAFKA_BROKERS.split(','),
          mechanism: 'scram-sha-512',
          credentialsDir: vars.RETENTION_KAFKA_CREDENTIALS_DIR,
          principals: vars.RETENTION_KAFKA_PRINCIPALS.split(','),
        });
        process.stderr.write(`[e2e] secured broker ${wasRunning ? 'reused' : 'started'} in ${((Date.now() - startedAt) / 1000).toFixed(1)} s\n`);
      } else {
        report({ ok: false, error: `deploy/local/up.sh (RETENTION_KAFKA_SECURITY=sasl) exited with ${code}: ${stderr.split('\n').slice(-15).join('\n')}` });
      }
      resolveDone();
    });
  });

  return {
    statusFile,
    async stop() {
      await done;
      rmSync(statusFile, { force: true });
      if (!wasRunning && process.env.RETENTION_KEEP_STACK !== 'true') execFileSync('bash', [script('down.sh')], { env, stdio: 'inherit' });
    },
  };
}
