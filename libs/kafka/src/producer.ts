import { CONTENT_TYPE, Headers, type SigningKey, signMessage } from '@retention/contracts';
import { currentTraceHeaders } from '@retention/observability';
import { type Kafka, Partitioners } from 'kafkajs';
import { renewingProducer } from './renewing-producer';

export interface OutgoingMessage {
  topic: string;
  key: string | null;
  /** Serialized value; `null` is a tombstone (compacted topics). */
  value: string | null;
  headers?: Record<string, string>;
}

export interface Publisher {
  publish(messages: readonly OutgoingMessage[]): Promise<void>;
  disconnect(): Promise<void>;
}

export interface PublisherOptions {
  /**
   * Signs every message at the moment it is sent (tombstones included), so the signing time says
   * when it was published, not when it was queued; see `signMessage` in libs/contracts.
   */
  signer?: SigningKey;
  now?: () => Date;
}

/**
 * An idempotent producer (no duplicates from its own retries; `acks=-1`). Messages without trace
 * headers get the current trace context, so a trace continues across Kafka.
 */
export async function createPublisher(kafka: Kafka, options: PublisherOptions = {}): Promise<Publisher> {
  const { signer } = options;
  const now = options.now ?? (() => new Date());
  // The default (murmur2, Java-compatible) partitioner, named to make the choice explicit.
  // Renewed after a refused send: see renewing-producer.ts.
  const producer = await renewingProducer(() =>
    kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    }),
  );
  return {
    async publish(messages) {
      const byTopic = new Map<string, OutgoingMessage[]>();
      for (const m of messages) byTopic.set(m.topic, [...(byTopic.get(m.topic) ?? []), m]);
      await producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, list]) => ({
          topic,
          messages: list.map((m) => ({
            key: m.key,
            value: m.value,
            headers: {
              [Headers.contentType]: CONTENT_TYPE,
              ...(m.headers ?? currentTraceHeaders()),
              ...(signer ? signMessage(signer, { topic, key: m.key, value: m.value }, now()) : {}),
            },
          })),
        })),
      });
    },
    disconnect: () => producer.disconnect(),
  };
}
