import { RetentionError } from './errors';

/**
 * The one list of conditions that may pass when tried again, decided by class and code, never by
 * message text. Everything not listed here is not retriable: retrying it only delays the failure
 * and, in a consumer, holds up every later message of its partition.
 *
 * - `connection_lost`: PostgreSQL SQLSTATE class 08, 57P01–57P03 (shutdown, crash, starting up),
 *   57P05 (idle session timeout); a Node socket error (`ECONNREFUSED`, `ECONNRESET`, …); a pg
 *   connection that ended without an error message ("Connection terminated unexpectedly": pg
 *   gives it no code, so the data source marks it with {@link markConnectionLost} when the client
 *   reports it, and the mark is what is checked here).
 * - `too_many_connections`: 53300.
 * - `serialization_failure`: 40001; `deadlock`: 40P01; `lock_timeout`: 55P03;
 *   `statement_timeout`: 57014 (statement timeout or cancel request).
 * - `broker_unavailable`: kafkajs connection, request-timeout and broker-not-found errors, and
 *   protocol errors that mean "no leader / broker / replica right now" (listed below).
 * - `broker_retriable`: any other kafkajs error that says `retriable: true`, and kafkajs's
 *   "number of retries exceeded" when what it retried was retriable.
 * - `transient`: one of our errors that says `retriable: true` (`TransientError`).
 */
export type RetryReason =
  | 'connection_lost'
  | 'too_many_connections'
  | 'serialization_failure'
  | 'deadlock'
  | 'lock_timeout'
  | 'statement_timeout'
  | 'broker_unavailable'
  | 'broker_retriable'
  | 'transient';

const SQLSTATE = /^[0-9A-Z]{5}$/;
const ERRNO = /^E[A-Z0-9_]+$/;

const SQLSTATES: Readonly<Record<string, RetryReason>> = {
  '57P01': 'connection_lost',
  '57P02': 'connection_lost',
  '57P03': 'connection_lost',
  '57P05': 'connection_lost',
  '53300': 'too_many_connections',
  '40001': 'serialization_failure',
  '40P01': 'deadlock',
  '55P03': 'lock_timeout',
  '57014': 'statement_timeout',
};

/** Socket errors: the other side could not be reached or went away. ENOTFOUND (no such host) is configuration, not luck. */
const SOCKET_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENETRESET',
  'EAI_AGAIN',
]);

/** kafkajs error classes (by `name`: this package depends on nothing) that mean the broker could not be reached. */
const KAFKA_UNREACHABLE_NAMES = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
]);

/** Kafka protocol errors (kafkajs `type`) that mean "no leader, broker or replica right now". */
const KAFKA_UNAVAILABLE_TYPES = new Set([
  'BROKER_NOT_AVAILABLE',
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
  'REPLICA_NOT_AVAILABLE',
  'REQUEST_TIMED_OUT',
  'NETWORK_EXCEPTION',
  'NOT_ENOUGH_REPLICAS',
  'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
  'NOT_CONTROLLER',
  'KAFKA_STORAGE_ERROR',
  'GROUP_COORDINATOR_NOT_AVAILABLE',
  'NOT_COORDINATOR_FOR_GROUP',
  'GROUP_LOAD_IN_PROGRESS',
  'PREFERRED_LEADER_NOT_AVAILABLE',
  'ELIGIBLE_LEADERS_NOT_AVAILABLE',
  'FENCED_LEADER_EPOCH',
  'UNKNOWN_LEADER_EPOCH',
]);

/** Built-in classes that mean a bug: the same input fails the same way. */
const PROGRAMMING_ERRORS = [TypeError, RangeError, SyntaxError, ReferenceError];

const CONNECTION_LOST = Symbol.for('retention.connection-lost');

interface ErrorFields {
  name?: unknown;
  code?: unknown;
  type?: unknown;
  retriable?: unknown;
  cause?: unknown;
  driverError?: unknown;
}

function fields(value: unknown): ErrorFields | undefined {
  return value !== null && typeof value === 'object' ? (value as ErrorFields) : undefined;
}

/**
 * Marks an error as the loss of a database connection. Called by the data source for every error
 * a pg client reports on its `error` event (pg emits that event only for connection-level
 * failures, and passes the same error object to the queries it fails).
 */
export function markConnectionLost(error: unknown): void {
  const e = fields(error);
  if (e && !Object.isFrozen(e)) Object.defineProperty(e, CONNECTION_LOST, { value: true, enumerable: false });
}

/** Why `error` may pass when tried again, or `undefined` when it will not (see {@link RetryReason}). */
export function retryReason(error: unknown): RetryReason | undefined {
  return classify(error, 0);
}

function classify(error: unknown, depth: number): RetryReason | undefined {
  if (error instanceof RetentionError) return error.retriable ? 'transient' : undefined;
  if (PROGRAMMING_ERRORS.some((type) => error instanceof type)) return undefined;
  const e = fields(error);
  if (!e || depth > 4) return undefined;
  // TypeORM wraps driver errors (QueryFailedError); the driver's error carries the code.
  const driver = fields(e.driverError);
  if ((e as Record<symbol, unknown>)[CONNECTION_LOST] === true || (driver as Record<symbol, unknown> | undefined)?.[CONNECTION_LOST] === true) {
    return 'connection_lost';
  }
  const code = typeof driver?.code === 'string' ? driver.code : typeof e.code === 'string' ? e.code : undefined;
  // Errno first: "EPIPE" also has the shape of an SQLSTATE (no SQLSTATE class starts with E).
  if (code !== undefined && ERRNO.test(code)) return SOCKET_ERRNOS.has(code) ? 'connection_lost' : undefined;
  if (code !== undefined && SQLSTATE.test(code)) return code.startsWith('08') ? 'connection_lost' : SQLSTATES[code];
  const name = typeof e.name === 'string' ? e.name : '';
  if (name.startsWith('KafkaJS')) {
    // kafkajs gives up after its own retries with this (non-retriable) wrapper: what it retried decides.
    if (name === 'KafkaJSNumberOfRetriesExceeded') return classify(e.cause, depth + 1);
    // kafkajs itself does not retry BROKER_NOT_AVAILABLE; we do (the broker may come back).
    if (name === 'KafkaJSNonRetriableError') return classify(e.cause, depth + 1) === 'broker_unavailable' ? 'broker_unavailable' : undefined;
    if (KAFKA_UNREACHABLE_NAMES.has(name)) return 'broker_unavailable';
    if (typeof e.type === 'string' && KAFKA_UNAVAILABLE_TYPES.has(e.type)) return 'broker_unavailable';
    return e.retriable === true ? 'broker_retriable' : undefined;
  }
  return undefined;
}

/**
 * Whether an error may pass when tried again: only the conditions of {@link RetryReason}. Anything
 * else (constraint violations, bad input, file system errors such as EACCES, ENOSPC or ENOTDIR,
 * programming errors, unknown errors) is not.
 */
export function isRetriable(error: unknown): boolean {
  return retryReason(error) !== undefined;
}

/**
 * Whether the error says only that the other side (database or broker) could not be reached, so
 * that it says nothing about the message or statement being sent.
 */
export function isUnreachable(error: unknown): boolean {
  const reason = retryReason(error);
  return reason === 'connection_lost' || reason === 'broker_unavailable';
}

/**
 * A stable code for an error, safe to store and to use as a metric label: our own error code, the
 * SQLSTATE, the errno code (`EACCES`, `ENOSPC`, `ENOTDIR`, …), the Kafka protocol error type
 * (`MESSAGE_TOO_LARGE`, …), the kafkajs error class, or `execution_failed`.
 */
export function errorCode(error: unknown): string {
  return codeOf(error, 0) ?? 'execution_failed';
}

function codeOf(error: unknown, depth: number): string | undefined {
  if (error instanceof RetentionError) return error.code;
  const e = fields(error);
  if (!e || depth > 4) return undefined;
  const driver = fields(e.driverError);
  const code = typeof driver?.code === 'string' ? driver.code : typeof e.code === 'string' ? e.code : undefined;
  if (code !== undefined && (SQLSTATE.test(code) || ERRNO.test(code))) return code;
  if ((e as Record<symbol, unknown>)[CONNECTION_LOST] === true || (driver as Record<symbol, unknown> | undefined)?.[CONNECTION_LOST] === true) {
    return 'connection_lost';
  }
  const name = typeof e.name === 'string' ? e.name : '';
  if (!name.startsWith('KafkaJS')) return undefined;
  if (typeof e.type === 'string' && /^[A-Z_]{1,64}$/.test(e.type)) return e.type;
  // kafkajs wraps what it gave up on; the cause names the condition.
  return codeOf(e.cause, depth + 1) ?? name.slice(0, 64);
}

/**
 * An error for a log line, without the data it may quote. PostgreSQL messages and details quote
 * the values of the row ("invalid input syntax for type uuid: \"jane@example.com\"", "Key (email)=(…)
 * already exists"), and a system error's message names the path (a file name may name a person):
 * for those only the SQLSTATE or errno and the names of the objects involved are kept. Other errors
 * keep their name and message (ours and the Kafka client's never carry data); a thrown value that is
 * no Error is described by its type only.
 */
export function errorSummary(error: unknown): string {
  const safe = driverSummary(error);
  if (safe) return error instanceof Error ? `${error.name}: ${safe}` : safe;
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 1000);
  return `thrown ${typeof error}`;
}

/** {@link errorSummary}'s form of a database or system error, or undefined for another error. */
export function driverSummary(error: unknown): string | undefined {
  const e = fields(fields(error)?.driverError) ?? fields(error);
  if (!e) return undefined;
  const named = e as ErrorFields & { table?: unknown; column?: unknown; constraint?: unknown; syscall?: unknown };
  // Checked first: "EPIPE" also has the shape of an SQLSTATE.
  if (typeof named.code === 'string' && ERRNO.test(named.code)) {
    return typeof named.syscall === 'string' && /^[a-z_]{1,32}$/.test(named.syscall) ? `${named.code} (${named.syscall})` : named.code;
  }
  if (typeof named.code === 'string' && SQLSTATE.test(named.code)) {
    const parts = [`PostgreSQL error SQLSTATE ${named.code}`];
    for (const key of ['table', 'column', 'constraint'] as const) {
      const v = named[key];
      if (typeof v === 'string' && /^[A-Za-z0-9_.]{1,128}$/.test(v)) parts.push(`${key} ${v}`);
    }
    return parts.join(', ');
  }
  return undefined;
}
