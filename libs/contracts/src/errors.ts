/**
 * The error hierarchy shared by every project. Retry decisions are made from `retriable`, never from
 * message text; HTTP status codes are mapped from `code` in one place (the coordinator's error handler).
 */
export abstract class RetentionError extends Error {
  abstract readonly code: string;
  abstract readonly retriable: boolean;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export interface Issue {
  /** Dotted path of the offending field, e.g. `data.subject.id`; empty for the whole value. */
  path: string;
  message: string;
}

/** Input that does not match its schema. Never retriable: the same bytes fail the same way. */
export class ValidationError extends RetentionError {
  readonly code = 'validation_failed';
  readonly retriable = false;

  constructor(
    message: string,
    readonly issues: readonly Issue[] = [],
  ) {
    super(issues.length > 0 ? `${message}: ${formatIssues(issues)}` : message);
  }
}

/** A message whose type is unknown, or whose schema major version this build does not understand. */
export class UnsupportedVersionError extends RetentionError {
  readonly code = 'unsupported_version';
  readonly retriable = false;
}

/** Configuration that cannot start the process; lists every invalid key at once. */
export class ConfigError extends RetentionError {
  readonly code = 'invalid_config';
  readonly retriable = false;

  constructor(
    message: string,
    readonly issues: readonly Issue[] = [],
  ) {
    super(issues.length > 0 ? `${message}:\n${issues.map((i) => `  - ${i.path || '(root)'}: ${i.message}`).join('\n')}` : message);
  }
}

export class NotFoundError extends RetentionError {
  readonly code = 'not_found';
  readonly retriable = false;
}

export class ConflictError extends RetentionError {
  readonly code = 'conflict';
  readonly retriable = false;
}

export class UnauthorizedError extends RetentionError {
  readonly code = 'unauthorized';
  readonly retriable = false;
}

export class ForbiddenError extends RetentionError {
  readonly code = 'forbidden';
  readonly retriable = false;
}

/** A failure of a dependency (broker, database) that may succeed when tried again. */
export class TransientError extends RetentionError {
  readonly code = 'transient';
  readonly retriable = true;
}

/**
 * Rows a job has to change stayed locked by other transactions for longer than the job may wait.
 * Retriable: a later retry passes once those transactions end.
 */
export class RowsLockedError extends RetentionError {
  readonly code = 'rows_locked';
  readonly retriable = true;
}

export function formatIssues(issues: readonly Issue[]): string {
  return issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
}
