import { z } from 'zod';

/** Comma-separated `host:port` list. */
export const brokerList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().regex(/^[^:\s]+:\d{1,5}$/, 'must be host:port')).min(1, 'must name at least one broker'));

export const postgresUrl = z.string().refine((s) => /^postgres(ql)?:\/\//.test(s), 'must be a postgres:// URL');

export const port = z.coerce.number().int().min(0).max(65535);

export const boolFlag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

export const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** Settings every process of the platform shares. */
export const commonEnv = {
  KAFKA_BROKERS: brokerList.default(['127.0.0.1:19092']),
  KAFKA_CLIENT_ID: z.string().min(1).optional(),
  /** Prefix for every topic name (per environment, or per test). */
  RETENTION_TOPIC_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._-]*$/, 'may contain letters, digits, dot, dash, underscore')
    .default(''),
  LOG_LEVEL: logLevel.default('info'),
  /** OTLP/HTTP endpoint for traces; unset = tracing off. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
};
