import { createHmac } from 'node:crypto';
import type { Subject } from '@retention/contracts';

/**
 * The keyed hash that stands for a subject in the ledger and as the Kafka key of its commands:
 * an auditor holding a subject id can find its entries, but the ledger is no list of people.
 */
export function subjectRef(key: string, subject: Subject): string {
  return createHmac('sha256', key).update(`${subject.type}\u0000${subject.id}`).digest('hex');
}
