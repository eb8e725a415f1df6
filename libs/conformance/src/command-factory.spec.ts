import { createPublicKey, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import {
  commandSubjectAad,
  decodeEvent,
  EventTypes,
  holdSubjectAad,
  keyLookup,
  openWith,
  topicNames,
  unwrapCommandKey,
  verifyMessage,
} from '@retention/contracts';
import { describe, expect, it } from 'vitest';
import { createCommandFactory } from './command-factory';
import type { ConformanceOptions } from './options';

const { privateKey } = generateKeyPairSync('ed25519');
const coordinator = keyLookup([{ keyId: 'coordinator-1', publicKey: createPublicKey(privateKey), owner: 'coordinator' }]);
const topics = topicNames('t1.');
const options = (kek?: Buffer): ConformanceOptions => ({
  brokers: ['127.0.0.1:1'],
  topicPrefix: 't1.',
  service: 'billing',
  coordinatorKey: { keyId: 'coordinator-1', privateKey },
  commandKek: kek,
  subjectType: 'customer',
  subjects: ['c-1', 'c-2'],
  timeoutMs: 1000,
});

describe('the commands the kit sends are the coordinator’s', () => {
  it('with a KEK: signed, valid 2.x messages whose subject ids open with the command key it publishes', () => {
    const kek = randomBytes(32);
    const factory = createCommandFactory(options(kek), topics);
    const keyEvent = factory.commandKeyEvent(new Date())!;
    const keyMessage = decodeEvent(keyEvent.value, [EventTypes.commandKey]);
    if (!keyMessage.ok || keyMessage.event.type !== EventTypes.commandKey) throw new Error('command key event does not decode');
    const commandKey = unwrapCommandKey(kek, keyMessage.event.data.keyId, keyMessage.event.data.wrapped);
    expect(verifyMessage(coordinator, keyEvent, keyEvent.headers).owner).toBe('coordinator');

    const requestId = randomUUID();
    const { eventId, message } = factory.erasure({ requestId, subjectId: 'c-1', dryRun: true }, 'k');
    expect(message.topic).toBe('t1.data.retention');
    expect(verifyMessage(coordinator, message, message.headers, { maxAgeMs: 60_000 }).owner).toBe('coordinator');
    const decoded = decodeEvent(message.value, [EventTypes.erasureRequested]);
    if (!decoded.ok || decoded.event.type !== EventTypes.erasureRequested) throw new Error('erasure does not decode');
    expect(decoded.event.id).toBe(eventId);
    expect(decoded.event.dataschema).toBe('urn:retention:schema:retention.erasure.requested:2.0');
    expect(decoded.event.data).toMatchObject({ requestId, dryRun: true, targets: ['billing'], attempt: 1 });
    const subject = decoded.event.data.subject as { type: string; sealedId: { keyId: string; iv: string; ciphertext: string } };
    expect(openWith(() => commandKey, subject.sealedId, commandSubjectAad(requestId, 'customer'))).toBe('c-1');

    const hold = factory.hold('h-1', 'c-2');
    const placed = decodeEvent(hold.value, [EventTypes.holdPlaced]);
    if (!placed.ok || placed.event.type !== EventTypes.holdPlaced) throw new Error('hold does not decode');
    expect(placed.event.data).toMatchObject({ holdId: 'h-1', scope: 'subject', service: 'billing' });
    const held = placed.event.data.subject as { sealedId: { keyId: string; iv: string; ciphertext: string } };
    expect(openWith(() => commandKey, held.sealedId, holdSubjectAad('h-1', 'customer'))).toBe('c-2');
    const release = factory.release('h-1');
    expect(release.value).toBeNull();
    expect(verifyMessage(coordinator, release, release.headers).owner).toBe('coordinator');
  });

  it('without a KEK: 1.x messages with the id in clear, and no command key', () => {
    const factory = createCommandFactory(options(), topics);
    expect(factory.commandKeyEvent(new Date())).toBeUndefined();
    const { message } = factory.erasure({ requestId: randomUUID(), subjectId: 'c-1', dryRun: false }, 'k');
    const decoded = decodeEvent(message.value, [EventTypes.erasureRequested]);
    expect(decoded.ok && decoded.event.dataschema).toBe('urn:retention:schema:retention.erasure.requested:1.0');
    expect(decoded.ok && (decoded.event.data.subject as unknown as { id: string }).id).toBe('c-1');
  });

  it('a dry-run sweep targets the service and changes nothing', () => {
    const { message } = createCommandFactory(options(), topics).drySweep(randomUUID(), 'k');
    const decoded = decodeEvent(message.value, [EventTypes.sweepRequested]);
    expect(decoded.ok && decoded.event.data).toMatchObject({ service: 'billing', dryRun: true, targets: ['billing'] });
  });
});
