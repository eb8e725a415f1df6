/**
 * The baseline "service" of the erasure fan-out benchmark: a bare kafkajs consume → delete → ack
 * loop, one process per service like the platform's. For each command it runs the same data
 * statements the platform's executor would (DELETE, or the same UPDATE for the anonymizing orders
 * service) and produces an ack. No inbox, audit, outbox, holds, validation or ledger.
 * Started by fanout.bench.ts with BENCH_* variables; prints `{"ready":true}` once in its group.
 */
import { logLevel } from 'kafkajs';
import pg from 'pg';
import { BASELINE_STATEMENTS } from './fanout-services';
import { benchKafka } from './lib/kafka';

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};

const service = env('BENCH_SERVICE');
const statements = BASELINE_STATEMENTS[service];
if (!statements) throw new Error(`unknown service ${service}`);
const hashKey = env('BENCH_HASH_KEY');

const pool = new pg.Pool({ connectionString: env('BENCH_DB_URL'), max: 2, application_name: `bench-baseline-${service}` });
const kafka = benchKafka(env('BENCH_BROKERS').split(','), `bench-baseline-${service}`, logLevel.WARN);
const producer = kafka.producer({ allowAutoTopicCreation: false });
const consumer = kafka.consumer({ groupId: env('BENCH_GROUP'), allowAutoTopicCreation: false, sessionTimeout: 30_000, heartbeatInterval: 3_000 });
const acks = env('BENCH_ACKS_TOPIC');

await producer.connect();
await consumer.connect();
await consumer.subscribe({ topic: env('BENCH_COMMANDS_TOPIC'), fromBeginning: true });
consumer.on(consumer.events.GROUP_JOIN, () => process.stdout.write(`${JSON.stringify({ ready: true })}\n`));

async function apply(subjectId: string): Promise<number> {
  const params = (sql: string): unknown[] => (sql.includes('$2') ? [subjectId, hashKey] : [subjectId]);
  if (statements!.length === 1) return (await pool.query(statements![0]!, params(statements![0]!))).rowCount ?? 0;
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    let n = 0;
    for (const sql of statements!) n += (await client.query(sql, params(sql))).rowCount ?? 0;
    await client.query('COMMIT');
    return n;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

await consumer.run({
  partitionsConsumedConcurrently: 1,
  eachMessage: async ({ message }) => {
    const command = JSON.parse(message.value!.toString('utf8')) as { requestId: string; subjectId: string };
    const affected = await apply(command.subjectId);
    await producer.send({
      topic: acks,
      acks: -1,
      messages: [{ key: command.requestId, value: JSON.stringify({ requestId: command.requestId, service, affected }) }],
    });
  },
});

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  await consumer.disconnect().catch(() => undefined);
  await producer.disconnect().catch(() => undefined);
  await pool.end().catch(() => undefined);
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
