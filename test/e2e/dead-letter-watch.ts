import { type DeadLetter, decodeEvent, EventTypes } from '@retention/contracts';
import { testStack, uniqueSuffix, waitFor } from '@retention/testing';
import { Kafka, logLevel } from 'kafkajs';

export interface DeadLetterWatch {
  /** Every dead letter read so far, in topic order per partition. */
  letters: DeadLetter[];
  /** Waits until `match` holds for the letters read (polls; fails with a description on timeout). */
  until(description: string, match: (letters: DeadLetter[]) => boolean, timeoutMs?: number): Promise<DeadLetter[]>;
  stop(): Promise<void>;
}

/** Reads the dead-letter topic from its beginning for as long as a test file runs. */
export async function watchDeadLetters(topic: string): Promise<DeadLetterWatch> {
  const kafka = new Kafka({ clientId: `e2e-dlq-${uniqueSuffix()}`, brokers: testStack().kafkaBrokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `e2e-dlq-${uniqueSuffix()}` });
  const letters: DeadLetter[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const decoded = message.value ? decodeEvent(message.value, [EventTypes.deadLetter]) : undefined;
      if (decoded?.ok && decoded.event.type === EventTypes.deadLetter) letters.push(decoded.event.data);
    },
  });
  return {
    letters,
    until: (description, match, timeoutMs = 30_000) => waitFor(description, async () => (match(letters) ? letters : undefined), { timeoutMs }),
    stop: () => consumer.disconnect(),
  };
}

/** The value of one sample in a Prometheus text exposition, or 0 when the series is absent. */
export function sample(metrics: string, name: string, labels: Record<string, string>): number {
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.indexOf('}'));
    const have = Object.fromEntries([...body.matchAll(/([a-z_]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}
