import { errorSummary } from '@retention/contracts';
import type { Logger as PinoLogger } from 'pino';
import type { Logger } from 'typeorm';

/**
 * TypeORM's log lines through the structured logger. Query parameters are never logged: they are
 * the subject identifiers and personal data this platform exists to remove.
 */
export class TypeOrmPinoLogger implements Logger {
  private readonly out: PinoLogger;

  constructor(logger: PinoLogger) {
    this.out = logger.child({ component: 'typeorm' });
  }

  logQuery(): void {}

  logQueryError(error: string | Error, query: string): void {
    // A string from TypeORM is a driver message, which can quote the row's values: not logged.
    this.out.error({ err: typeof error === 'string' ? 'query error' : errorSummary(error), query: query.slice(0, 500) }, 'query failed');
  }

  logQuerySlow(time: number, query: string): void {
    this.out.warn({ durationMs: time, query: query.slice(0, 500) }, 'slow query');
  }

  logSchemaBuild(message: string): void {
    this.out.debug(message);
  }

  logMigration(message: string): void {
    this.out.info(message);
  }

  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (level === 'warn') this.out.warn(String(message));
    else this.out.debug(String(message));
  }
}
