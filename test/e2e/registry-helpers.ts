import { encodeEvent, EventTypes, type ManifestSubject, type SigningKey, signMessage, topicNames } from '@retention/contracts';
import type { Kafka } from 'kafkajs';
import type { z } from 'zod';
import { produceRaw } from './kafka-helpers';

/**
 * Publishes `service`'s registration as a service not built on the SDK would: the manifest presents
 * `key` (its signing key) and is signed with it.
 */
export async function publishRegistration(
  prefix: string,
  service: string,
  key: SigningKey,
  options: { subjects?: Array<z.input<typeof ManifestSubject>>; consumerGroup?: string; via?: Kafka } = {},
): Promise<void> {
  const topic = topicNames(prefix).registry;
  const { value } = encodeEvent(
    EventTypes.serviceRegistered,
    {
      service,
      version: '1.0.0',
      subjects: options.subjects ?? [{ type: 'user', tables: [{ table: 'accounts', column: 'user_id', action: 'delete' }] }],
      policies: [],
      policyHash: 'x'.repeat(64),
      publishedAt: new Date().toISOString(),
      signingKey: { keyId: key.keyId, publicKey: (key.privateKey.export({ format: 'jwk' }) as { x: string }).x },
      ...(options.consumerGroup ? { consumerGroup: options.consumerGroup } : {}),
    },
    { source: `/retention/services/${service}` },
  );
  await produceRaw(topic, [{ key: service, value, headers: signMessage(key, { topic, key: service, value }) }], options.via);
}
