import { retryReason, type RetryReason } from '@retention/contracts';
import pg from 'pg';
import { CannotExecuteNotConnectedError, QueryFailedError } from 'typeorm';

/** The conditions of the shared retriable list that are the database's. */
const DATABASE_REASONS = new Set<RetryReason>([
  'connection_lost',
  'too_many_connections',
  'serialization_failure',
  'deadlock',
  'lock_timeout',
  'statement_timeout',
]);

/**
 * SQLSTATEs that are not worth retrying inside a consumer (an operator must act) but still mean
 * "cannot serve now" to an API client: insufficient resources (53: disk full, out of memory),
 * system errors (58: I/O), the database dropped or gone (57P04, 3D000).
 */
const unavailableOnlySqlState = (code: string): boolean => ['53', '58'].includes(code.slice(0, 2)) || code === '57P04' || code === '3D000';

const isProgrammingError = (error: unknown): boolean =>
  error instanceof TypeError || error instanceof RangeError || error instanceof SyntaxError || error instanceof ReferenceError;

/**
 * Whether `error` says that PostgreSQL cannot serve the request now (the API answers 503), decided
 * by error class and code, never by message text:
 * - the database conditions of the shared retriable list (`retryReason` in libs/contracts:
 *   connection loss, too many connections, serialization failure, deadlock, lock or statement
 *   timeout), and the SQLSTATEs above that only an operator can fix;
 * - a TypeORM `QueryFailedError` whose cause is not a server error (pg `DatabaseError`) nor a
 *   programming error: the driver failed the query before the server answered it;
 * - a server error that TypeORM did not wrap: it wraps every query's error, so this one came from
 *   opening a connection (not accepting connections, database renamed or dropped, authentication):
 *   whatever its SQLSTATE, there is no connection to serve with;
 * - a host name that does not resolve (ENOTFOUND), a DataSource already closed.
 * Not classified: a connection closed during its start-up without any message (pg gives a plain
 * `Error`); it stays a 500.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const reason = retryReason(error);
  if (reason !== undefined && DATABASE_REASONS.has(reason)) return true;
  if (error instanceof QueryFailedError) {
    const cause: unknown = error.driverError;
    if (cause instanceof pg.DatabaseError) return typeof cause.code === 'string' && unavailableOnlySqlState(cause.code);
    return cause instanceof Error && !isProgrammingError(cause);
  }
  if (error instanceof pg.DatabaseError) return true;
  if (error instanceof CannotExecuteNotConnectedError) return true;
  return (error as { code?: unknown } | null)?.code === 'ENOTFOUND';
}
