import { defineConfig } from 'vitest/config';

/**
 * Two projects:
 * - `unit`: `*.spec.ts` beside the code; fakes only, no network.
 * - `e2e`: `*.int.spec.ts` (one library against the real broker/database) and `test/e2e/**`
 *   (services together). Its global setup finds or starts Kafka and PostgreSQL once.
 */
export default defineConfig({
  test: {
    env: { TZ: 'UTC' },
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
