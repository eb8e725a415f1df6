import { defineConfig } from 'vitest/config';

/** Workspace packages export their sources under this condition (dist/ otherwise): tests never need a build. */
const sourceCondition = '@retention/source';
// Then what vitest resolves server code with by default.
const conditions = [sourceCondition, 'node', 'development|production'];

/**
 * Two projects:
 * - `unit`: `*.spec.ts` beside the code; fakes only, no network.
 * - `e2e`: `*.int.spec.ts` (one library against the real broker/database) and `test/e2e/**`
 *   (services together). Its global setup finds or starts Kafka and PostgreSQL once.
 */
export default defineConfig({
  ssr: { resolve: { conditions } },
  test: {
    // NODE_OPTIONS: processes the tests start (`node --import tsx ...`) resolve the sources too.
    env: { TZ: 'UTC', NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --conditions=${sourceCondition}`.trim() },
    reporters: ['default', './test/vitest-summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          sequence: { groupOrder: 0 },
          include: ['libs/*/src/**/*.spec.ts', 'services/*/src/**/*.spec.ts'],
          exclude: ['**/*.int.spec.ts', '**/node_modules/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          // After the unit tests, which are quick and need nothing running.
          sequence: { groupOrder: 1 },
          include: ['libs/*/src/**/*.int.spec.ts', 'services/*/src/**/*.int.spec.ts', 'test/e2e/**/*.e2e.ts'],
          globalSetup: ['./test/e2e/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // Two cores: files run two at a time at most; each file has its own topics and databases.
          maxWorkers: 2,
        },
      },
    ],
  },
});
