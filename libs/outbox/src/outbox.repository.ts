import type { EntityManager } from 'typeorm';
import type { OutgoingMessage } from '@retention/kafka';

/** Rows per statement: four array parameters whatever the count, but one statement stays bounded. */
const ROWS_PER_STATEMENT = 5000;

/**
 * Adds messages to the outbox inside the caller's transaction: they are published if and only if
 * the transaction commits. One multi-row statement per {@link ROWS_PER_STATEMENT} messages (a bulk
 * erasure enqueues thousands at once; row ids keep the given order, which the relay publishes in).
 */
export async function enqueueOutbox(manager: EntityManager, messages: readonly OutgoingMessage[]): Promise<void> {
  for (let i = 0; i < messages.length; i += ROWS_PER_STATEMENT) {
    const chunk = messages.slice(i, i + ROWS_PER_STATEMENT);
    await manager.query(
      `INSERT INTO retention_outbox (topic, key, value, headers)
       SELECT m.topic, m.key, m.value, m.headers::jsonb FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS m(topic, key, value, headers, n)
       ORDER BY m.n`,
      [chunk.map((m) => m.topic), chunk.map((m) => m.key), chunk.map((m) => m.value), chunk.map((m) => JSON.stringify(m.headers ?? {}))],
    );
  }
}
