import { RetentionError } from '@retention/contracts';

/**
 * Whether a PostgreSQL failure may pass when tried again, by SQLSTATE class: connection problems,
 * serialization failures, deadlocks, lock and statement timeouts, resource shortage and operator
 * intervention may; everything else (undefined column, constraint violations, bad input) will not.
 */
export function isRetriablePgError(error: unknown): boolean {
  if (error instanceof RetentionError) return error.retriable;
  const code = (error as { code?: unknown; driverError?: { code?: unknown } })?.driverError?.code ?? (error as { code?: unknown })?.code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) {
    // No SQLSTATE: a network error (ECONNREFUSED, ...) is retriable, a programming error is not.
    return !(error instanceof TypeError || error instanceof RangeError || error instanceof SyntaxError || error instanceof ReferenceError);
  }
  return ['08', '53', '57', '58'].includes(code.slice(0, 2)) || ['40001', '40P01', '55P03'].includes(code);
}

/**
 * An error description without values: PostgreSQL messages and details can quote the data of the
 * row (a subject id in "invalid input syntax", a key in "duplicate key"), so for driver errors only
 * the SQLSTATE and the names of the objects involved are kept.
 */
export function safeErrorMessage(error: unknown): string {
  const e = ((error as { driverError?: unknown })?.driverError ?? error) as {
    code?: unknown;
    table?: unknown;
    column?: unknown;
    constraint?: unknown;
    name?: unknown;
    message?: unknown;
  };
  if (typeof e?.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) {
    const parts = [`PostgreSQL error SQLSTATE ${e.code}`];
    if (typeof e.table === 'string') parts.push(`table ${e.table}`);
    if (typeof e.column === 'string') parts.push(`column ${e.column}`);
    if (typeof e.constraint === 'string') parts.push(`constraint ${e.constraint}`);
    return parts.join(', ');
  }
  if (error instanceof RetentionError) return `${error.name}: ${error.message}`;
  return error instanceof Error ? error.name : 'unknown error';
}
