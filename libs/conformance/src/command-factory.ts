import { randomBytes, randomUUID } from 'node:crypto';
import {
  commandSubjectAad,
  encodeEvent,
  encodeEventVersion,
  EventTypes,
  holdSubjectAad,
  newCommandKey,
  sealWith,
  signMessage,
  textRef,
  type TopicNames,
  wrapCommandKey,
} from '@retention/contracts';
import type { ConformanceOptions } from './options';

/** A message as the kit publishes it. */
export interface Outgoing {
  topic: string;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

export interface ErasureInput {
  requestId: string;
  subjectId: string;
  dryRun: boolean;
  attempt?: number;
}

export interface CommandFactory {
  /** The command key the kit seals with (absent without a KEK: 1.x messages, ids in clear). */
  readonly commandKeyId?: string;
  /** The command key, wrapped, for the keys topic (published before any sealed message). */
  commandKeyEvent(now: Date): Outgoing | undefined;
  /** Its tombstone (the kit's key is destroyed when the run ends). */
  commandKeyTombstone(): Outgoing | undefined;
  /** An erasure command for the implementation under test, signed as the coordinator signs it. */
  erasure(input: ErasureInput, key: string): { eventId: string; message: Outgoing };
  /** A dry-run sweep of every policy of the implementation: harmless, acked by a conforming service. */
  drySweep(requestId: string, key: string): { eventId: string; message: Outgoing };
  /** A subject hold on the holds topic, restricted to the implementation under test. */
  hold(holdId: string, subjectId: string): Outgoing;
  /** The hold's release: a tombstone, signed. */
  release(holdId: string): Outgoing;
  /** The coordinator's signature headers over a message (at `at`, default now). */
  sign(topic: string, key: string | null, value: string | null, at?: Date): Record<string, string>;
}

const SOURCE = '/retention/conformance';

/** Builds the messages the coordinator would send, signed with its key and, with a KEK, sealed. */
export function createCommandFactory(options: ConformanceOptions, topics: TopicNames): CommandFactory {
  const commandKey = options.commandKek ? newCommandKey(new Date()) : undefined;
  const sign = (topic: string, key: string | null, value: string | null, at?: Date): Record<string, string> =>
    signMessage(options.coordinatorKey, { topic, key, value }, at);
  const signed = (topic: string, key: string | null, value: string | null): Outgoing => ({ topic, key, value, headers: sign(topic, key, value) });
  const type = options.subjectType;

  return {
    commandKeyId: commandKey?.keyId,
    commandKeyEvent(now) {
      if (!commandKey || !options.commandKek) return undefined;
      const { value } = encodeEvent(
        EventTypes.commandKey,
        {
          keyId: commandKey.keyId,
          wrapped: wrapCommandKey(options.commandKek, commandKey.keyId, commandKey.key),
          createdAt: now.toISOString(),
          destroyAt: new Date(now.getTime() + 2 * 3600_000).toISOString(),
        },
        { source: SOURCE },
      );
      return signed(topics.keys, commandKey.keyId, value);
    },
    commandKeyTombstone() {
      return commandKey ? signed(topics.keys, commandKey.keyId, null) : undefined;
    },
    erasure(input, key) {
      const eventId = randomUUID();
      const now = new Date();
      const base = {
        requestId: input.requestId,
        dryRun: input.dryRun,
        requestedAt: now.toISOString(),
        dueAt: new Date(now.getTime() + 30 * 86_400_000).toISOString(),
        targets: [options.service],
        attempt: input.attempt ?? 1,
        holds: [],
      };
      const { value } = commandKey
        ? encodeEvent(
            EventTypes.erasureRequested,
            { ...base, subject: { type, sealedId: sealWith(commandKey, input.subjectId, commandSubjectAad(input.requestId, type)) } },
            { source: SOURCE, id: eventId },
          )
        : encodeEventVersion(EventTypes.erasureRequested, 1, { ...base, subject: { type, id: input.subjectId } }, { source: SOURCE, id: eventId });
      return { eventId, message: signed(topics.commands, key, value) };
    },
    drySweep(requestId, key) {
      const eventId = randomUUID();
      const now = new Date().toISOString();
      const { value } = encodeEvent(
        EventTypes.sweepRequested,
        { requestId, service: options.service, dryRun: true, requestedAt: now, asOf: now, targets: [options.service] },
        { source: SOURCE, id: eventId },
      );
      return { eventId, message: signed(topics.commands, key, value) };
    },
    hold(holdId, subjectId) {
      const placed = { holdId, scope: 'subject' as const, service: options.service, placedBy: 'retention-conformance', placedAt: new Date().toISOString() };
      const { value } = commandKey
        ? encodeEvent(
            EventTypes.holdPlaced,
            {
              ...placed,
              subject: { type, sealedId: sealWith(commandKey, subjectId, holdSubjectAad(holdId, type)) },
              // Any HMAC will do: only the coordinator keeps the text behind it.
              reasonRef: textRef(randomBytes(32), 'retention conformance kit'),
            },
            { source: SOURCE },
          )
        : encodeEventVersion(
            EventTypes.holdPlaced,
            1,
            { ...placed, subject: { type, id: subjectId }, reason: 'retention conformance kit' },
            { source: SOURCE },
          );
      return signed(topics.holds, holdId, value);
    },
    release(holdId) {
      return signed(topics.holds, holdId, null);
    },
    sign,
  };
}
