import { inject } from 'vitest';

/** Where the real broker and database of this test run are (set by test/e2e/global-setup.ts). */
export interface TestStack {
  kafkaBrokers: string[];
  /** Superuser-capable URL of a maintenance database; tests create their own databases from it. */
  databaseUrl: string;
  /**
   * A PostgreSQL superuser's URL on the same server: tests create roles with it, and act as the
   * insider who alters the ledger. On the local stack: `postgres` over the server's Unix socket.
   */
  superuserUrl: string;
  /** How the stack was found: `env`, `testcontainers` or `local`. */
  source: 'env' | 'testcontainers' | 'local';
}

/** A SCRAM login on the secured broker. */
export interface KafkaLogin {
  username: string;
  password: string;
  /** The 0600 file holding the password (give it to a process as KAFKA_SASL_PASSWORD_FILE). */
  passwordFile: string;
}

/**
 * The secured broker of this test run (deploy/local with RETENTION_KAFKA_SECURITY=sasl): SASL/SCRAM
 * on its only client listener, ACLs, no access without one. Read with `securedTestStack()`.
 */
export interface SecuredTestStack {
  kafkaBrokers: string[];
  mechanism: 'scram-sha-512';
  /** A super user: creates topics and ACLs. */
  admin: KafkaLogin;
  /** One login per process: `coordinator`, `orders`, `sessions`, `analytics`, `support`, `ml-data`. */
  principals: Record<string, KafkaLogin>;
}

/**
 * Where the e2e global setup reports on the secured broker, which it starts in the background
 * while the other tests run: a JSON file, written once the broker is ready (or failed).
 */
export interface SecuredStackHandle {
  statusFile: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    stack: TestStack;
    securedStack: SecuredStackHandle;
  }
}

export function testStack(): TestStack {
  const stack = inject('stack');
  if (!stack) throw new Error('no test stack: run through the e2e project (vitest --project e2e), whose global setup provides it');
  return stack;
}
