import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import type { KafkaLogin, SecuredTestStack } from './stack';
import { waitFor } from './wait-for';

/** What test/e2e/global-setup.ts writes into the status file once the secured broker is up. */
export type SecuredStackStatus =
  { ok: true; kafkaBrokers: string[]; mechanism: 'scram-sha-512'; credentialsDir: string; principals: string[] } | { ok: false; error: string };

let cached: Promise<SecuredTestStack> | undefined;

/**
 * The secured broker of this run, once it is ready: the e2e global setup starts it in the
 * background, so the first caller may wait for it (up to `timeoutMs`). Fails with the start's
 * error if it could not be started.
 */
export function securedTestStack(timeoutMs = 300_000): Promise<SecuredTestStack> {
  cached ??= load(timeoutMs);
  return cached;
}

async function load(timeoutMs: number): Promise<SecuredTestStack> {
  const handle = inject('securedStack');
  if (!handle) throw new Error('no secured stack: run through the e2e project (vitest --project e2e), whose global setup starts it');
  const status = await waitFor(
    `the secured broker to start (status in ${handle.statusFile})`,
    async () => (existsSync(handle.statusFile) ? (JSON.parse(readFileSync(handle.statusFile, 'utf8')) as SecuredStackStatus) : undefined),
    { timeoutMs, intervalMs: 250 },
  );
  if (!status.ok) throw new Error(`the secured broker did not start: ${status.error}`);
  const login = (username: string): KafkaLogin => {
    const passwordFile = join(status.credentialsDir, `${username}.password`);
    return { username, password: readFileSync(passwordFile, 'utf8').replace(/\r?\n$/, ''), passwordFile };
  };
  const principals = Object.fromEntries(status.principals.filter((p) => p !== 'admin').map((p) => [p, login(p)]));
  return { kafkaBrokers: status.kafkaBrokers, mechanism: status.mechanism, admin: login('admin'), principals };
}
