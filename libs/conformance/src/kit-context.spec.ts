import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { encodeEvent, EventTypes, Headers, publicKeyOf, signMessage, topicNames } from '@retention/contracts';
import { describe, expect, it } from 'vitest';
import { createCommandFactory } from './command-factory';
import { createKitContext } from './kit-context';
import type { ConformanceOptions } from './options';
import type { Observed, TopicWatch } from './topic-watch';

const topics = topicNames('');
const coordinator = generateKeyPairSync('ed25519').privateKey;
const serviceKey = { keyId: 'billing-1', privateKey: generateKeyPairSync('ed25519').privateKey };
const options: ConformanceOptions = {
  brokers: ['127.0.0.1:1'],
  topicPrefix: '',
  service: 'billing',
  coordinatorKey: { keyId: 'coordinator-1', privateKey: coordinator },
  subjectType: 'customer',
  subjects: ['a', 'b'],
  timeoutMs: 300,
};

/** A watch over a fixed list of messages (what a topic held). */
function fixed(messages: Observed[]): TopicWatch {
  return {
    messages,
    async waitFor(description, pick, timeoutMs) {
      const found = pick(messages);
      if (found !== undefined) return found;
      await new Promise((r) => setTimeout(r, timeoutMs));
      throw new Error(`${description}: nothing`);
    },
    stop: async () => undefined,
  };
}

function observed(topic: string, key: string, value: string | null, headers: Record<string, string>): Observed {
  return { topic, partition: 0, offset: '0', key, value: value === null ? null : Buffer.from(value), headers };
}

const registration = (): Observed => {
  const { value } = encodeEvent(
    EventTypes.serviceRegistered,
    {
      service: 'billing',
      version: '1',
      subjects: [{ type: 'customer', tables: [{ table: 'customers', column: 'id', action: 'delete' }] }],
      policyHash: 'h',
      publishedAt: new Date().toISOString(),
      signingKey: { keyId: serviceKey.keyId, publicKey: publicKeyOf(serviceKey.privateKey) },
    },
    { source: '/x' },
  );
  return observed(topics.registry, 'billing', value, signMessage(serviceKey, { topic: topics.registry, key: 'billing', value }));
};

function ack(requestId: string, service: string, signer = serviceKey): Observed {
  const now = new Date().toISOString();
  const { value } = encodeEvent(
    EventTypes.ack,
    { requestId, commandId: 'c', kind: 'erasure', service, status: 'completed', dryRun: false, startedAt: now, finishedAt: now },
    { source: '/x' },
  );
  return observed(topics.acks, requestId, value, signMessage(signer, { topic: topics.acks, key: requestId, value }));
}

function deadLetter(key: string, consumer: string, code: string): Observed {
  const { value } = encodeEvent(
    EventTypes.deadLetter,
    { consumer, reason: { code, message: 'm' }, topic: topics.commands, partition: 0, offset: '1', payload: null, failedAt: new Date().toISOString() },
    { source: '/x' },
  );
  return observed(topics.dlq, key, value, { [Headers.dlqReason]: code });
}

const context = (acks: Observed[], letters: Observed[] = []) =>
  createKitContext({
    options,
    topics,
    factory: createCommandFactory(options, topics),
    runId: 'r',
    publish: async () => undefined,
    registry: fixed([registration()]),
    acks: fixed(acks),
    deadLetters: fixed(letters),
  });

describe('what the kit counts as the implementation’s answer', () => {
  it('acks of the service under test, signed with the key it registered; other services’ acks are not its own', async () => {
    const id = randomUUID();
    const ctx = context([ack(id, 'orders'), ack(id, 'billing')]);
    expect((await ctx.awaitAcks(id, 1, 'x')).map((a) => a.service)).toEqual(['billing']);
    expect(ctx.acksSoFar(id)).toHaveLength(1);
  });

  it('an ack signed with another key than the registered one fails the scenario, naming why', async () => {
    const id = randomUUID();
    const stranger = { keyId: 'billing-1', privateKey: generateKeyPairSync('ed25519').privateKey };
    await expect(context([ack(id, 'billing', stranger)]).awaitAcks(id, 1, 'the erasure')).rejects.toThrow(
      /an ack of the erasure is not signed with the key the service registered \(signature_invalid\)/,
    );
  });

  it('an ack that does not decode fails the scenario with the decoder’s reason', async () => {
    const id = randomUUID();
    const bad = observed(topics.acks, id, JSON.stringify({ specversion: '1.0' }), {});
    await expect(context([bad]).awaitAcks(id, 1, 'x')).rejects.toThrow(/does not decode: invalid CloudEvents envelope/);
  });

  it('dead letters of the service (or its parts) count, other consumers’ do not', async () => {
    const ctx = context(
      [],
      [deadLetter('k', 'sessions', 'validation_failed'), deadLetter('k', 'billing', 'unsupported_version'), deadLetter('k', 'billing.holds', 'seal_invalid')],
    );
    expect((await ctx.awaitDeadLetters('k', 2, 100)).map((d) => d.code)).toEqual(['unsupported_version', 'seal_invalid']);
  });
});
