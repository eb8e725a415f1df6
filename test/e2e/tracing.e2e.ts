import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { sessionsService } from '@retention/service-sessions';
import { waitFor } from '@retention/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform, TOKENS } from './support';

/**
 * One trace follows a request from the API through Kafka into the service and back: the spans of
 * the HTTP call, the service's processing of the command and the coordinator's processing of the
 * ack share one trace id, and carry no subject data.
 */
describe('tracing across Kafka', () => {
  const exporter = new InMemorySpanExporter();
  let provider: NodeTracerProvider;
  let platform: Platform;

  beforeAll(async () => {
    provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    provider.register();
    platform = await startPlatform([sessionsService]);
  });

  afterAll(async () => {
    await platform?.stop();
    await provider?.shutdown();
  });

  it('joins the API call, the service and the ack in one trace', async () => {
    exporter.reset();
    const created = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: 'trace-me' } } });
    await platform.waitForRequest(created.body.id);
    const spans = await waitFor('the ack span', async () => {
      const all = exporter.getFinishedSpans();
      return all.some((s) => s.name.endsWith('data.retention.ack process')) ? all : undefined;
    });
    const api = spans.find((s) => s.name === 'POST /v1/erasure-requests')!;
    expect(api).toBeDefined();
    const traceId = api.spanContext().traceId;
    const inTrace = spans.filter((s) => s.spanContext().traceId === traceId).map((s) => s.name);
    expect(inTrace).toEqual(
      expect.arrayContaining(['POST /v1/erasure-requests', `${platform.prefix}data.retention process`, `${platform.prefix}data.retention.ack process`]),
    );
    // pg spans from @opentelemetry/instrumentation-pg (TypeORM loads pg with require(), which its hook sees),
    // children of the service's and the coordinator's processing spans; SQL without parameter values.
    expect(spans.filter((s) => s.spanContext().traceId === traceId && s.name.startsWith('pg.query')).length).toBeGreaterThan(0);
    for (const span of spans) expect(JSON.stringify(span.attributes)).not.toContain('trace-me');
  });
});
