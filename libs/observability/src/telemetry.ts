import { context, propagation, type Context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';

export interface TelemetryOptions {
  service: string;
  version?: string;
  /** OTLP/HTTP base URL (e.g. http://127.0.0.1:4318). Without it and without `exporter`, no spans leave the process. */
  otlpEndpoint?: string;
  /** An exporter to use instead of OTLP (tests use an in-memory one). */
  exporter?: SpanExporter;
}

export interface Telemetry {
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry SDK. W3C trace context is always propagated through Kafka headers by
 * libs/kafka, even when no exporter is configured, so traces stay joined across services.
 */
export function startTelemetry(options: TelemetryOptions): Telemetry {
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const exporter =
    options.exporter ?? (options.otlpEndpoint ? new OTLPTraceExporter({ url: `${options.otlpEndpoint.replace(/\/$/, '')}/v1/traces` }) : undefined);
  if (!exporter) return { shutdown: async () => {} };
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({ 'service.name': options.service, 'service.version': options.version ?? '0.0.0' }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
    instrumentations: [],
  });
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}

export const tracer = (): ReturnType<typeof trace.getTracer> => trace.getTracer('retention-platform');

/** Runs `work` in a span; records an exception and error status when it throws. */
export async function inSpan<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Record<string, string | number | boolean>; parent?: Context },
  work: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = options.parent ?? context.active();
  return tracer().startActiveSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes ?? {} }, parent, async (span) => {
    try {
      return await work(span);
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** The current trace context as W3C headers (`traceparent`, `tracestate`). */
export function currentTraceHeaders(ctx: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

/** A context continuing the trace described by W3C headers. */
export function contextFromHeaders(headers: Record<string, string | undefined>): Context {
  return propagation.extract(context.active(), headers);
}

export { SpanKind } from '@opentelemetry/api';
