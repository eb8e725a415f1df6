// Run as a child process by tracing-instrumentations.e2e.ts: produces one message with kafkajs and
// prints the names and instrumentation scopes of the spans it ended, as JSON on stdout.
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { Kafka, logLevel } from 'kafkajs';

const [brokers, topic] = process.argv.slice(2) as [string, string];
const exporter = new InMemorySpanExporter();
new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).register();
const kafka = new Kafka({ brokers: brokers.split(','), logLevel: logLevel.NOTHING });
const producer = kafka.producer();
await producer.connect();
await producer.send({ topic, messages: [{ key: 'k', value: 'v' }] });
await producer.disconnect();
process.stdout.write(JSON.stringify(exporter.getFinishedSpans().map((s) => ({ name: s.name, scope: s.instrumentationScope.name }))));
