import { isUnreachable } from '@retention/contracts';
import type { Producer, ProducerBatch, RecordMetadata } from 'kafkajs';

/** The part of a kafkajs producer the publisher uses. */
export type BatchProducer = Pick<Producer, 'sendBatch' | 'disconnect'>;

/**
 * An idempotent kafkajs producer that replaces itself after a refused send. kafkajs rolls back the
 * sequence numbers of every partition of a failed produce request, also of the partitions whose
 * records the broker accepted; every later send to those partitions then fails with
 * OUT_OF_ORDER_SEQUENCE_NUMBER, for good (seen with a message too large in a batch that also held
 * messages for other partitions). A new producer has a new producer id and starts its sequences
 * afresh. A send that failed because the broker could not be reached leaves the state consistent
 * (nothing was accepted), so the producer is kept.
 */
export async function renewingProducer(create: () => Producer): Promise<BatchProducer> {
  const connect = async (): Promise<Producer> => {
    const producer = create();
    await producer.connect();
    return producer;
  };
  let current = await connect();
  // Set while a replacement connects: concurrent failures replace the producer once, and sends wait for it.
  let renewing: Promise<void> | undefined;
  const renew = (used: Producer): Promise<void> => {
    renewing ??= connect()
      .then(async (next) => {
        current = next;
        // Sends still in flight on the old producer fail as a closed connection (retriable).
        await used.disconnect().catch(() => undefined);
      })
      // Not connected now: the old producer stays, and the next refused send tries again.
      .catch(() => undefined)
      .finally(() => {
        renewing = undefined;
      });
    return renewing;
  };
  return {
    async sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]> {
      if (renewing) await renewing;
      const used = current;
      try {
        return await used.sendBatch(batch);
      } catch (error) {
        if (!isUnreachable(error) && used === current) await renew(used);
        throw error;
      }
    },
    disconnect: async () => {
      if (renewing) await renewing;
      await current.disconnect();
    },
  };
}
