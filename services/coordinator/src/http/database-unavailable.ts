import pg from 'pg';
import { CannotExecuteNotConnectedError, QueryFailedError } from 'typeorm';

/** Socket errors of a connection that could not be made or was lost. */
const CONNECTION_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs a query can fail with while the database cannot serve it now but may later: connection
 * exceptions (08), insufficient resources (53), operator intervention (57P01–57P05: shutdown,
 * cannot connect now, database dropped), system errors (58), a database that is gone (3D000), and
 * the conflicts a retry resolves (serialization failure, deadlock, lock not available, statement
 * timeout).
 */
function unavailableSqlState(code: string): boolean {
  return ['08', '53', '58'].includes(code.slice(0, 2)) || /^57P0[1-5]$/.test(code) || ['3D000', '40001', '40P01', '55P03', '57014'].includes(code);
}

const errnoOf = (error: unknown): unknown => (error as { code?: unknown } | null)?.code;

const isProgrammingError = (error: unknown): boolean =>
  error instanceof TypeError || error instanceof RangeError || error instanceof SyntaxError || error instanceof ReferenceError;

/**
 * Whether `error` says that PostgreSQL cannot serve the request now (the API answers 503), decided
 * by error class and code, never by message text:
 * - a server error (pg `DatabaseError`) wrapped in TypeORM's `QueryFailedError`: by SQLSTATE;
 * - a `QueryFailedError` whose cause is not a server error nor a programming error: the driver
 *   lost the connection before the server answered (pg raises those without a code);
 * - a server error that is not wrapped: TypeORM wraps every query's error, so it came from
 *   opening a connection (database renamed or dropped, not accepting connections, too many
 *   clients, authentication): whatever its SQLSTATE, there is no connection to serve with;
 * - a socket error (ECONNREFUSED, ...) from opening a connection, or a DataSource already closed.
 * Not classified: a connection closed during its start-up without any message (pg gives a plain
 * `Error`); it stays a 500.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (error instanceof QueryFailedError) {
    const cause: unknown = error.driverError;
    if (cause instanceof pg.DatabaseError) return typeof cause.code === 'string' && unavailableSqlState(cause.code);
    const errno = errnoOf(cause);
    if (typeof errno === 'string' && CONNECTION_ERRNO.has(errno)) return true;
    return cause instanceof Error && !isProgrammingError(cause);
  }
  if (error instanceof pg.DatabaseError) return true;
  if (error instanceof CannotExecuteNotConnectedError) return true;
  const errno = errnoOf(error);
  return typeof errno === 'string' && CONNECTION_ERRNO.has(errno);
}
