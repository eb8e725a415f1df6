import { context, propagation, type Context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { KafkaJsInstrumentation } from '@opentelemetry/instrumentation-kafkajs';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

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

let instrumented = false;

/**
 * pg and kafkajs spans. Idempotent (several processes share one Node process in tests).
 * pg: TypeORM loads `pg` with require() when it first connects, which require-in-the-middle sees, so
 * this works when called before the first connection. kafkajs is imported as ESM, which only an
 * import hook sees: its spans appear when the process was started with
 * `--import @retention/observability/instrument` (see the README), and are absent otherwise.
 */
export function registerTracingInstrumentations(): void {
  if (instrumented) return;
  instrumented = true;
  registerInstrumentations({
    instrumentations: [
      // No statement text in spans: parameters are never recorded, but a literal in SQL could be personal data.
      new PgInstrumentation({ enhancedDatabaseReporting: false, requireParentSpan: true }),
      new KafkaJsInstrumentation(),
    ],
  });
}

/**
 * Starts tracing. A tracer provider is always registered, with or without an exporter, so that spans
 * have real trace ids and W3C trace context (`traceparent`) reaches Kafka headers and continues a
 * caller's trace; without an exporter the spans simply go nowhere. A provider registered before
 * (tests register one with an in-memory exporter) is kept.
 */
export function startTelemetry(options: TelemetryOptions): Telemetry {
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  registerTracingInstrumentations();
  const exporter =
    options.exporter ?? (options.otlpEndpoint ? new OTLPTraceExporter({ url: `${options.otlpEndpoint.replace(/\/$/, '')}/v1/traces` }) : undefined);
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.service, 'service.version': options.version ?? '0.0.0' }),
    spanProcessors: exporter ? [new BatchSpanProcessor(exporter)] : [],
  });
  // The API refuses a second global provider (and says so only to a diag logger): the first one
  // registered in the process wins. If ours would be the first, register it with its context manager.
  if (trace.setGlobalTracerProvider(provider)) {
    trace.disable();
    provider.register();
  }
  return { shutdown: () => provider.shutdown() };
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
