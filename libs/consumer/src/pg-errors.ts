import { isRetriable, RetentionError, retryReason } from '@retention/contracts';

/**
 * Whether a failure may pass when tried again.
 * @deprecated The one list lives in libs/contracts: use `isRetriable` (or `retryReason`) from there.
 */
export function isRetriablePgError(error: unknown): boolean {
  return isRetriable(error);
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
    syscall?: unknown;
  };
  // A system error's message names the path (a file name may name a person): keep the code and the
  // call. Checked first: "EPIPE" also has the shape of an SQLSTATE.
  if (typeof e?.code === 'string' && /^E[A-Z0-9_]+$/.test(e.code)) {
    return typeof e.syscall === 'string' && /^[a-z_]{1,32}$/.test(e.syscall) ? `${e.code} (${e.syscall})` : e.code;
  }
  if (typeof e?.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) {
    const parts = [`PostgreSQL error SQLSTATE ${e.code}`];
    if (typeof e.table === 'string') parts.push(`table ${e.table}`);
    if (typeof e.column === 'string') parts.push(`column ${e.column}`);
    if (typeof e.constraint === 'string') parts.push(`constraint ${e.constraint}`);
    return parts.join(', ');
  }
  if (error instanceof RetentionError) return `${error.name}: ${error.message}`;
  if (retryReason(error) === 'connection_lost') return 'database connection lost';
  return error instanceof Error ? error.name : 'unknown error';
}
