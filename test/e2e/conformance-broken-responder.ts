import { encodeEvent, EventTypes, generateSigningKeyPair, parsePrivateKey, signMessage, topicNames } from '@retention/contracts';
import { testStack, uniqueSuffix } from '@retention/testing';
import { Kafka, logLevel } from 'kafkajs';

/**
 * A deliberately wrong implementation of the protocol, for the conformance kit to catch: it
 * registers properly and acks every command it can parse `completed` with made-up counts, but it
 * applies nothing, verifies no signature, knows no holds and dead-letters nothing.
 */
export async function startBrokenResponder(prefix: string, service: string): Promise<{ stop(): Promise<void> }> {
  const topics = topicNames(prefix);
  const pair = generateSigningKeyPair();
  const key = { keyId: `${service}-1`, privateKey: parsePrivateKey(pair.privateKey, 'broken') };
  const kafka = new Kafka({ clientId: `broken-${uniqueSuffix()}`, brokers: testStack().kafkaBrokers, logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const send = async (topic: string, k: string, value: string): Promise<void> => {
    await producer.send({ topic, messages: [{ key: k, value, headers: signMessage(key, { topic, key: k, value }) }] });
  };
  const { value: manifest } = encodeEvent(
    EventTypes.serviceRegistered,
    {
      service,
      version: '0.0.1',
      subjects: [{ type: 'user', tables: [{ table: 'things', column: 'user_id', action: 'delete' }] }],
      policies: [],
      policyHash: 'broken',
      publishedAt: new Date().toISOString(),
      signingKey: { keyId: key.keyId, publicKey: pair.publicKey },
    },
    { source: `/retention/services/${service}` },
  );
  await send(topics.registry, service, manifest);

  const consumer = kafka.consumer({ groupId: `${prefix}retention.${service}` });
  await consumer.connect();
  await consumer.subscribe({ topic: topics.commands, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      let command: { id?: string; type?: string; data?: { requestId?: string; dryRun?: boolean; targets?: string[] } };
      try {
        command = JSON.parse(message.value?.toString() ?? 'null') ?? {};
      } catch {
        return;
      }
      const data = command.data;
      if (!data?.requestId || !command.id || !/^[0-9a-f-]{36}$/.test(data.requestId) || !data.targets?.includes(service)) return;
      const now = new Date().toISOString();
      const kind = command.type === EventTypes.sweepRequested ? 'sweep' : 'erasure';
      // What its ack cannot carry (an id over 128 characters) it skips: broken, but never wedged.
      if (command.id.length > 128) return;
      const { value } = encodeEvent(
        EventTypes.ack,
        {
          requestId: data.requestId,
          commandId: command.id,
          kind,
          service,
          status: 'completed',
          dryRun: Boolean(data.dryRun),
          startedAt: now,
          finishedAt: now,
          tables: [{ table: 'things', action: 'delete', matched: 1, deleted: 1, anonymized: 0, archived: 0, held: 0 }],
        },
        { source: `/retention/services/${service}` },
      );
      await send(topics.acks, data.requestId, value);
    },
  });
  return {
    async stop() {
      await consumer.disconnect();
      await producer.disconnect();
    },
  };
}
