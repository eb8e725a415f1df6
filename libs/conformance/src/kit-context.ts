import {
  type Ack,
  type DeadLetter,
  decodeEvent,
  EventTypes,
  Headers,
  keyLookup,
  parsePublicKey,
  type TableResult,
  type TopicNames,
  type TrustedKey,
  verifyMessage,
} from '@retention/contracts';
import type { CommandFactory, Outgoing } from './command-factory';
import { type ConformanceOptions, ScenarioFailure } from './options';
import type { Observed, TopicWatch } from './topic-watch';

/** A dead letter the implementation wrote, as the kit read it. */
export interface ObservedDeadLetter {
  /** `reason.code` of the dead letter. */
  code: string;
  /** Its `x-retention-dlq-reason` header. */
  header: string | undefined;
  data: DeadLetter;
}

/** What a scenario works with. */
export interface KitContext {
  options: ConformanceOptions;
  topics: TopicNames;
  factory: CommandFactory;
  /** Unique per run: message keys carry it, so runs never see each other's messages. */
  runId: string;
  publish(...messages: Outgoing[]): Promise<void>;
  registry: TopicWatch;
  /** The key the implementation presented in its registration (waits for the registration). */
  serviceKey(): Promise<TrustedKey>;
  /** The first `count` acks of `requestId` from the implementation, each decoded and its signature checked. */
  awaitAcks(requestId: string, count: number, what: string): Promise<Ack[]>;
  /** Every ack of `requestId` read so far (decoded; for absence checks). */
  acksSoFar(requestId: string): Ack[];
  /** The implementation's dead letters of messages keyed `key`: waits until `count` are there, or `timeoutMs`. */
  awaitDeadLetters(key: string, count: number, timeoutMs: number): Promise<ObservedDeadLetter[]>;
  /** Facts a scenario leaves for the next (the dry run's counts for the real erasure). */
  state: { dryRun?: { subjectId: string; tables: TableResult[] } };
}

export function latestRegistration(registry: readonly Observed[], service: string): Observed | undefined {
  return registry.filter((m) => m.key === service && m.value !== null).at(-1);
}

export interface ContextParts {
  options: ConformanceOptions;
  topics: TopicNames;
  factory: CommandFactory;
  runId: string;
  publish: KitContext['publish'];
  registry: TopicWatch;
  acks: TopicWatch;
  deadLetters: TopicWatch;
}

export function createKitContext(parts: ContextParts): KitContext {
  const { options, topics } = parts;
  let trusted: TrustedKey | undefined;

  const serviceKey = async (): Promise<TrustedKey> => {
    if (trusted) return trusted;
    const found = await parts.registry.waitFor(
      `a registration of "${options.service}" on ${topics.registry}`,
      (all) => latestRegistration(all, options.service),
      options.timeoutMs,
    );
    const decoded = decodeEvent(found.value, [EventTypes.serviceRegistered]);
    if (!decoded.ok) throw new ScenarioFailure(`the registration does not decode: ${decoded.error.message}`);
    const signingKey = decoded.event.type === EventTypes.serviceRegistered ? decoded.event.data.signingKey : undefined;
    if (!signingKey) throw new ScenarioFailure('the registration presents no data.signingKey: the coordinator cannot trust its acks');
    trusted = { keyId: signingKey.keyId, publicKey: parsePublicKey(signingKey.publicKey, 'data.signingKey.publicKey'), owner: options.service };
    return trusted;
  };

  const decodeAck = (m: Observed, requestId: string): Ack | undefined => {
    if (m.key !== requestId || m.value === null) return undefined;
    const decoded = decodeEvent(m.value, [EventTypes.ack]);
    if (!decoded.ok) {
      // Another party's message under the same key (a probe result…) is not ours to judge.
      if (decoded.error.code === 'unsupported_version') return undefined;
      throw new ScenarioFailure(`an ack of request ${requestId} does not decode: ${decoded.error.message}`);
    }
    if (decoded.event.type !== EventTypes.ack || decoded.event.data.service !== options.service) return undefined;
    return decoded.event.data;
  };
  const acksOf = (all: readonly Observed[], requestId: string): Array<{ ack: Ack; message: Observed }> =>
    all.flatMap((m) => {
      const ack = decodeAck(m, requestId);
      return ack ? [{ ack, message: m }] : [];
    });

  return {
    options,
    topics,
    factory: parts.factory,
    runId: parts.runId,
    publish: parts.publish,
    registry: parts.registry,
    serviceKey,
    async awaitAcks(requestId, count, what) {
      const found = await parts.acks.waitFor(
        `${count === 1 ? 'an ack' : `${count} acks`} of ${what} (request ${requestId}) on ${topics.acks}`,
        (all) => {
          const acks = acksOf(all, requestId);
          return acks.length >= count ? acks.slice(0, count) : undefined;
        },
        options.timeoutMs,
      );
      const key = await serviceKey();
      for (const { message } of found) {
        try {
          verifyMessage(keyLookup([key]), { topic: message.topic, key: message.key, value: message.value }, message.headers);
        } catch (error) {
          throw new ScenarioFailure(
            `an ack of ${what} is not signed with the key the service registered (${(error as { code?: string }).code ?? String(error)})`,
          );
        }
      }
      return found.map((f) => f.ack);
    },
    acksSoFar: (requestId) => acksOf(parts.acks.messages, requestId).map((f) => f.ack),
    async awaitDeadLetters(key, count, timeoutMs) {
      const mine = (all: readonly Observed[]): ObservedDeadLetter[] =>
        all.flatMap((m) => {
          if (m.key !== key || m.value === null) return [];
          const decoded = decodeEvent(m.value, [EventTypes.deadLetter]);
          if (!decoded.ok || decoded.event.type !== EventTypes.deadLetter) return [];
          const data = decoded.event.data;
          // Other consumers of the command topic (other services) dead-letter the same messages.
          if (data.consumer !== options.service && !data.consumer.startsWith(`${options.service}.`)) return [];
          return [{ code: data.reason.code, header: m.headers[Headers.dlqReason], data }];
        });
      try {
        return await parts.deadLetters.waitFor('dead letters', (all) => (mine(all).length >= count ? mine(all) : undefined), timeoutMs);
      } catch {
        return mine(parts.deadLetters.messages);
      }
    },
    state: {},
  };
}

/** Sum of one count over every table of an ack. */
export function total(tables: readonly TableResult[], field: 'matched' | 'deleted' | 'anonymized' | 'archived' | 'held'): number {
  return tables.reduce((n, t) => n + t[field], 0);
}

/** Rows an ack says were (or, in a dry run, would be) changed. */
export function changed(tables: readonly TableResult[]): number {
  return total(tables, 'deleted') + total(tables, 'anonymized') + total(tables, 'archived');
}

/** The counts of an ack's tables, comparable between two acks. */
export function counts(tables: readonly TableResult[]): string {
  return JSON.stringify(
    [...tables]
      .map((t) => ({ table: t.table, action: t.action, matched: t.matched, deleted: t.deleted, anonymized: t.anonymized, archived: t.archived, held: t.held }))
      .sort((a, b) => a.table.localeCompare(b.table)),
  );
}

/** Fails the scenario unless `condition` holds. */
export function expectThat(condition: boolean, message: string): asserts condition {
  if (!condition) throw new ScenarioFailure(message);
}
