import type { EntityManager } from 'typeorm';
import type { OutgoingMessage } from '@retention/kafka';
import { OutboxMessage } from './outbox-message.entity';

/**
 * Adds messages to the outbox inside the caller's transaction: they are published if and only if
 * the transaction commits.
 */
export async function enqueueOutbox(manager: EntityManager, messages: readonly OutgoingMessage[]): Promise<void> {
  if (messages.length === 0) return;
  await manager.insert(
    OutboxMessage,
    messages.map((m) => ({ topic: m.topic, key: m.key, value: m.value, headers: m.headers ?? {} })),
  );
}
