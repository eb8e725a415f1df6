import { inject } from 'vitest';

/** Where the real broker and database of this test run are (set by test/e2e/global-setup.ts). */
export interface TestStack {
  kafkaBrokers: string[];
  /** Superuser-capable URL of a maintenance database; tests create their own databases from it. */
  databaseUrl: string;
  /** How the stack was found: `env`, `testcontainers` or `local`. */
  source: 'env' | 'testcontainers' | 'local';
}

declare module 'vitest' {
  export interface ProvidedContext {
    stack: TestStack;
  }
}

export function testStack(): TestStack {
  const stack = inject('stack');
  if (!stack) throw new Error('no test stack: run through the e2e project (vitest --project e2e), whose global setup provides it');
  return stack;
}
