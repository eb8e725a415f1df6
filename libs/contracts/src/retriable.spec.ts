import { describe, expect, it } from 'vitest';
import { ConfigError, TransientError, ValidationError } from './errors';
import { errorCode, errorSummary, isRetriable, isUnreachable, markConnectionLost, retryReason } from './retriable';

/** An error shaped like pg's DatabaseError (the driver's error for an ErrorResponse). */
const pgError = (code: string): Error => Object.assign(new Error('server said no'), { name: 'error', code, severity: 'ERROR' });
/** Shaped like TypeORM's QueryFailedError around a driver error. */
const queryFailed = (driverError: Error): Error => Object.assign(new Error(driverError.message), { name: 'QueryFailedError', driverError, query: 'SELECT 1' });
/** Shaped like a Node system error. */
const errno = (code: string): Error => Object.assign(new Error(`${code}: something, scandir '/srv/files/user-42'`), { code, errno: -1, syscall: 'scandir' });

describe('retryReason: the explicit list of retriable conditions', () => {
  it.each([
    ['08006', 'connection_lost'],
    ['08001', 'connection_lost'],
    ['57P01', 'connection_lost'],
    ['57P02', 'connection_lost'],
    ['57P03', 'connection_lost'],
    ['53300', 'too_many_connections'],
    ['40001', 'serialization_failure'],
    ['40P01', 'deadlock'],
    ['55P03', 'lock_timeout'],
    ['57014', 'statement_timeout'],
  ])('SQLSTATE %s is %s, bare or wrapped by TypeORM', (code, reason) => {
    expect(retryReason(pgError(code))).toBe(reason);
    expect(retryReason(queryFailed(pgError(code)))).toBe(reason);
  });

  it.each(['23505', '23503', '22P02', '42P01', '42703', '28P01', '3D000', '53100', '53200', '58030', '57P04', '25P03'])(
    'SQLSTATE %s (constraint, bad input, schema, auth, disk full, io, …) is not retriable',
    (code) => {
      expect(retryReason(pgError(code))).toBeUndefined();
      expect(isRetriable(queryFailed(pgError(code)))).toBe(false);
    },
  );

  it.each(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'])('socket error %s is a lost connection', (code) => {
    expect(retryReason(errno(code))).toBe('connection_lost');
    expect(isUnreachable(errno(code))).toBe(true);
  });

  it.each(['EACCES', 'EPERM', 'ENOSPC', 'ENOTDIR', 'ELOOP', 'EISDIR', 'EROFS', 'ENOTFOUND'])(
    'file system or configuration error %s is not retriable',
    (code) => {
      expect(isRetriable(errno(code))).toBe(false);
    },
  );

  it('a pg connection that ended without a code is retriable only when the data source marked it', () => {
    const ended = new Error('Connection terminated unexpectedly');
    expect(isRetriable(ended)).toBe(false);
    markConnectionLost(ended);
    expect(retryReason(ended)).toBe('connection_lost');
    expect(retryReason(queryFailed(ended))).toBe('connection_lost');
    expect(errorCode(queryFailed(ended))).toBe('connection_lost');
  });

  it('the same message text without the mark is not retriable: nothing is decided by message text', () => {
    expect(isRetriable(new Error('Connection terminated unexpectedly'))).toBe(false);
    expect(isRetriable(new Error('ECONNREFUSED'))).toBe(false);
    expect(isRetriable(new Error('deadlock detected'))).toBe(false);
  });

  it('our errors say so themselves: TransientError is retriable, validation and config errors are not', () => {
    expect(retryReason(new TransientError('stopping'))).toBe('transient');
    expect(isRetriable(new ValidationError('bad'))).toBe(false);
    expect(isRetriable(new ConfigError('bad'))).toBe(false);
  });

  it('programming errors and unknown values are never retried', () => {
    for (const error of [new TypeError('x'), new RangeError('x'), new SyntaxError('x'), new ReferenceError('x'), new Error('x'), 'text', null, undefined, 42]) {
      expect(isRetriable(error)).toBe(false);
    }
    // A TypeError with a code is still a bug.
    expect(isRetriable(Object.assign(new TypeError('x'), { code: 'ECONNRESET' }))).toBe(false);
  });
});

describe('errorCode', () => {
  it('gives our code, the SQLSTATE, the errno code, or execution_failed', () => {
    expect(errorCode(new ValidationError('bad'))).toBe('validation_failed');
    expect(errorCode(queryFailed(pgError('23505')))).toBe('23505');
    expect(errorCode(errno('ENOTDIR'))).toBe('ENOTDIR');
    expect(errorCode(errno('EACCES'))).toBe('EACCES');
    expect(errorCode(new Error('whatever'))).toBe('execution_failed');
    expect(errorCode(new TypeError('x'))).toBe('execution_failed');
  });
});

describe('errorSummary', () => {
  it('is the name and message, bounded', () => {
    expect(errorSummary(new TypeError('boom'))).toBe('TypeError: boom');
    expect(errorSummary(new Error('x'.repeat(2000)))).toHaveLength(1000);
  });
});
