import { trace } from '@opentelemetry/api';
import { sessionsService } from '@retention/service-sessions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForMessage } from './kafka-helpers';
import { type Platform, startPlatform, TOKENS } from './support';

/**
 * Trace context crosses the platform with no exporter configured (no OTEL endpoint, no tracer
 * provider registered by the test): the coordinator continues a caller's `traceparent`, the command
 * on Kafka carries the caller's trace id, and so does the service's ack.
 */
describe('trace context without an exporter', () => {
  let platform: Platform;

  beforeAll(async () => {
    platform = await startPlatform([sessionsService]);
  });

  afterAll(async () => {
    await platform?.stop();
  });

  it('carries a caller traceparent from the API to the command and the ack on Kafka', async () => {
    // Nothing but startTelemetry (called by the coordinator and the service, with no endpoint) registered this.
    expect(trace.getTracer('probe').startSpan('probe').spanContext().traceId).not.toBe('00000000000000000000000000000000');
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    const created = await platform.api('POST', '/v1/erasure-requests', {
      token: TOKENS.requester,
      headers: { traceparent: `00-${traceId}-${callerSpan}-01` },
      body: { subject: { type: 'user', id: 'trace-no-exporter' } },
    });
    expect(created.status).toBe(202);
    await platform.waitForRequest(created.body.id);

    const command = await waitForMessage(`${platform.prefix}data.retention`, (m) => (m.value ?? '').includes(created.body.id));
    expect(command.headers.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    // A span of its own under the caller's: the coordinator's server span, not the caller's id echoed.
    expect(command.headers.traceparent).not.toContain(callerSpan);

    const ack = await waitForMessage(`${platform.prefix}data.retention.ack`, (m) => (m.value ?? '').includes(created.body.id));
    expect(ack.headers.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
  });
});
