import { defineConfig } from 'vitest/config';

const sourceCondition = '@retention/source';
const conditions = [sourceCondition, 'node', 'development|production'];

/**
 * The `cluster` project, apart from vitest.config.ts so that `npm test`'s main run (unit + e2e)
 * never starts it: failover tests against deploy/local's 3-broker KRaft cluster, which its global
 * setup starts (and stops again unless RETENTION_KEEP_STACK=true). Run by `npm run test:cluster`,
 * and by scripts/test.sh after the main run.
 */
export default defineConfig({
  ssr: { resolve: { conditions } },
  test: {
    env: { TZ: 'UTC', NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --conditions=${sourceCondition}`.trim() },
    reporters: ['default', './test/vitest-summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'cluster',
          include: ['test/cluster/**/*.e2e.ts'],
          globalSetup: ['./test/cluster/global-setup.ts'],
          testTimeout: 240_000,
          hookTimeout: 180_000,
          // One file, and it kills brokers: nothing else may run against the cluster meanwhile.
          fileParallelism: false,
          maxWorkers: 1,
        },
      },
    ],
  },
});
