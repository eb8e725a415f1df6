import { randomUUID } from 'node:crypto';
import { ServiceName, SubjectType, topicNames } from '@retention/contracts';
import { Kafka, logLevel } from 'kafkajs';
import { createCommandFactory, type Outgoing } from './command-factory';
import { createKitContext } from './kit-context';
import { type ConformanceOptions, ScenarioFailure, type ScenarioName, ScenarioNames } from './options';
import { dryRun } from './scenarios/dry-run';
import { duplicateCommand } from './scenarios/duplicate-command';
import { forgedAndStale } from './scenarios/forged-and-stale';
import { legalHold } from './scenarios/legal-hold';
import { malformedMessage } from './scenarios/malformed-message';
import { registration } from './scenarios/registration';
import type { Scenario } from './scenarios/scenario';
import { unknownVersion } from './scenarios/unknown-version';
import { type TopicWatch, watchTopic } from './topic-watch';

const SCENARIOS: Record<ScenarioName, Scenario> = {
  registration,
  'dry-run': dryRun,
  'duplicate-command': duplicateCommand,
  'unknown-version': unknownVersion,
  'malformed-message': malformedMessage,
  'forged-and-stale': forgedAndStale,
  'legal-hold': legalHold,
};

export interface ScenarioResult {
  name: ScenarioName;
  title: string;
  ok: boolean;
  /** What was seen (passed) or what is wrong (failed). */
  detail: string;
  durationMs: number;
}

export interface ConformanceReport {
  service: string;
  results: ScenarioResult[];
  ok: boolean;
}

/** Options the kit cannot run with: said before anything is published. */
export class ConformanceUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConformanceUsageError';
  }
}

function check(options: ConformanceOptions): ScenarioName[] {
  const problems: string[] = [];
  if (options.brokers.length === 0) problems.push('brokers: at least one is required');
  if (!ServiceName.safeParse(options.service).success) problems.push(`service: "${options.service}" is not a service name ([a-z][a-z0-9-]{0,62})`);
  if (!SubjectType.safeParse(options.subjectType).success) problems.push(`subject type: "${options.subjectType}" is not a subject type`);
  if (options.subjects.length < 2) problems.push('subjects: two ids are needed (the first is erased in duplicate-command, the second in legal-hold)');
  if (new Set(options.subjects).size !== options.subjects.length) problems.push('subjects: the ids must differ');
  if (!(options.timeoutMs > 0)) problems.push('timeout: must be positive');
  const names = options.scenarios ?? ScenarioNames;
  for (const name of names) if (!ScenarioNames.includes(name)) problems.push(`scenario: "${String(name)}" is not one of ${ScenarioNames.join(', ')}`);
  if (problems.length > 0) throw new ConformanceUsageError(problems.join('; '));
  return ScenarioNames.filter((n) => names.includes(n));
}

/**
 * Drives the implementation under test through every scenario on the real broker: publishes
 * commands and holds signed with the coordinator's key, reads its acks, registration and dead
 * letters, and says per scenario whether it conforms and, if not, what is wrong.
 */
export async function runConformance(options: ConformanceOptions): Promise<ConformanceReport> {
  const names = check(options);
  const log = options.log ?? (() => undefined);
  const topics = topicNames(options.topicPrefix);
  const kafka = new Kafka({ clientId: 'retention-conformance', brokers: options.brokers, logLevel: logLevel.NOTHING });
  const groupPrefix = `${options.topicPrefix}retention-conformance.`;
  const factory = createCommandFactory(options, topics);
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  const stops: Array<() => Promise<void>> = [];
  const results: ScenarioResult[] = [];
  try {
    await producer.connect();
    stops.push(() => producer.disconnect());
    // One by one, each stopped at the end even when a later one cannot start (a topic missing).
    const watch = async (topic: string, fromStart: boolean): Promise<TopicWatch> => {
      const w = await watchTopic(kafka, topic, { fromStart, groupPrefix });
      stops.push(w.stop);
      return w;
    };
    const registry = await watch(topics.registry, true);
    const acks = await watch(topics.acks, false);
    const deadLetters = await watch(topics.dlq, false);
    const publish = async (...messages: Outgoing[]): Promise<void> => {
      for (const m of messages) await producer.send({ topic: m.topic, messages: [{ key: m.key, value: m.value, headers: m.headers }] });
    };
    const keyEvent = factory.commandKeyEvent(new Date());
    if (keyEvent) {
      await publish(keyEvent);
      // Destroyed when the run ends: what the kit sealed is unreadable from then on.
      stops.unshift(() => publish(factory.commandKeyTombstone()!));
    }
    const ctx = createKitContext({ options, topics, factory, runId: `conformance-${randomUUID().slice(0, 8)}`, publish, registry, acks, deadLetters });
    for (const name of names) {
      const scenario = SCENARIOS[name];
      const started = Date.now();
      log(`running ${name}`);
      try {
        const detail = await scenario.run(ctx);
        results.push({ name, title: scenario.title, ok: true, detail, durationMs: Date.now() - started });
      } catch (error) {
        const detail = error instanceof ScenarioFailure ? error.message : `the kit failed: ${(error as Error).message}`;
        results.push({ name, title: scenario.title, ok: false, detail, durationMs: Date.now() - started });
      }
    }
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
  }
  return { service: options.service, results, ok: results.every((r) => r.ok) };
}
