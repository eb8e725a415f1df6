import { createLogger, type Logger } from '@retention/observability';
import { Writable } from 'node:stream';

/**
 * A logger for tests that keeps every line in memory (tests can assert that no personal data was
 * logged) and prints nothing unless TEST_LOG is set.
 */
export function createTestLogger(service: string): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      const text = chunk.toString('utf8');
      lines.push(...text.split('\n').filter(Boolean));
      if (process.env.TEST_LOG) process.stdout.write(text);
      callback();
    },
  });
  return { logger: createLogger({ service, level: process.env.TEST_LOG ? 'debug' : 'info', destination }), lines };
}
