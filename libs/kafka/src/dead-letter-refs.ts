import { createHash } from 'node:crypto';
import type { DeadLetter } from '@retention/contracts';

const ID = /^[A-Za-z0-9._:-]{1,128}$/;
const NAME = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * What a dead letter keeps of the message instead of its bytes: identifiers that say which event it
 * was (CloudEvent id and type, request, command, hold, service), each kept only when it has the
 * shape of an identifier, plus the payload's size and SHA-256 so an operator can match it with the
 * original on its topic (partition and offset) while that is retained. The payload itself is never
 * copied: a message that failed to parse may hold anything, a subject id or a typed-in name included.
 */
export function deadLetterRefs(value: Buffer | null): Pick<DeadLetter, 'refs' | 'payloadBytes' | 'payloadSha256'> {
  if (!value) return { refs: {}, payloadBytes: 0, payloadSha256: null };
  return { refs: identifiersOf(value), payloadBytes: value.length, payloadSha256: createHash('sha256').update(value).digest('hex') };
}

function identifiersOf(value: Buffer): NonNullable<DeadLetter['refs']> {
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch {
    return {};
  }
  const envelope = record(json);
  const data = record(envelope?.data);
  const refs: NonNullable<DeadLetter['refs']> = {};
  const pick = (from: Record<string, unknown> | undefined, field: string, pattern: RegExp): string | undefined => {
    const v = from?.[field];
    return typeof v === 'string' && pattern.test(v) ? v : undefined;
  };
  const set = (name: keyof typeof refs, v: string | undefined): void => {
    if (v !== undefined) refs[name] = v;
  };
  set('eventId', pick(envelope, 'id', ID));
  set('eventType', pick(envelope, 'type', ID));
  set('requestId', pick(data, 'requestId', ID));
  set('commandId', pick(data, 'commandId', ID));
  set('holdId', pick(data, 'holdId', ID));
  set('service', pick(data, 'service', NAME));
  return refs;
}

function record(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}
