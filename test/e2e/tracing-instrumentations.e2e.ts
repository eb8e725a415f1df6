import { testStack, uniqueTopicPrefix } from '@retention/testing';
import { Kafka, logLevel } from 'kafkajs';
import { execFileSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const fixture = resolve(root, 'test/e2e/kafkajs-span-fixture.ts');

/**
 * kafkajs is imported as an ES module, which the OpenTelemetry instrumentation's require() hook never
 * sees: its spans appear with the `@retention/observability/instrument` preload (what npm start uses)
 * and not without it. A real broker, a real child process each time.
 */
describe('kafkajs spans and the instrument preload', () => {
  const stack = testStack();
  const topic = `${uniqueTopicPrefix()}spans`;
  const admin = new Kafka({ brokers: stack.kafkaBrokers, logLevel: logLevel.NOTHING }).admin();

  beforeAll(async () => {
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  });
  afterAll(async () => {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  const run = (preload: string[]): Array<{ name: string; scope: string }> =>
    JSON.parse(
      execFileSync(process.execPath, ['--conditions=@retention/source', '--import', 'tsx', ...preload, fixture, stack.kafkaBrokers.join(','), topic], {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, NODE_OPTIONS: '', TSX_TSCONFIG_PATH: resolve(root, 'tsconfig.runtime.json') },
        timeout: 60_000,
      }),
    ) as Array<{ name: string; scope: string }>;

  it('records a kafkajs send span with the preload', () => {
    expect(run(['--import', '@retention/observability/instrument'])).toContainEqual({ name: `send ${topic}`, scope: '@opentelemetry/instrumentation-kafkajs' });
  });

  it('records none without it (the import hook is what makes it work)', () => {
    expect(run([]).filter((s) => s.scope === '@opentelemetry/instrumentation-kafkajs')).toEqual([]);
  });
});
