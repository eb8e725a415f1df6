import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * Keys that may hold personal data. Logs name requests, services, policies and counts; these
 * paths are censored in case a caller passes a payload by mistake.
 */
export const REDACTED_PATHS = [
  'subject',
  'subject.id',
  '*.subject',
  'subjectId',
  '*.subjectId',
  'email',
  '*.email',
  'payload',
  '*.payload',
  'data',
  '*.data',
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
];

export interface LoggerOptions {
  service: string;
  level?: string;
  /** Where to write (tests pass a stream to inspect the output). */
  destination?: pino.DestinationStream;
}

/** A JSON logger with the service name on every line and personal-data keys censored. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: options.service },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination,
  );
}
