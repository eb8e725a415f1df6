import pg from 'pg';
import { CannotExecuteNotConnectedError, QueryFailedError } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from './database-unavailable';

const serverError = (code: string): pg.DatabaseError => Object.assign(new pg.DatabaseError('from the server', 0, 'error'), { code });
const failedQuery = (cause: Error): QueryFailedError => new QueryFailedError('SELECT 1', [], cause);
const socketError = (code: string): Error => Object.assign(new Error('socket'), { code });

describe('a database that cannot serve (503), by class and code', () => {
  it.each(['57P01', '57P03', '08006', '53300', '3D000', '40001', '40P01', '55P03', '57014', '58030'])('a query failing with SQLSTATE %s', (code) => {
    expect(isDatabaseUnavailable(failedQuery(serverError(code)))).toBe(true);
  });

  it.each(['22P02', '22P05', '22021', '23505', '42P01', '42703', '55000'])('not a query failing with SQLSTATE %s (the statement or the data)', (code) => {
    expect(isDatabaseUnavailable(failedQuery(serverError(code)))).toBe(false);
  });

  it('a query whose connection was lost before the server answered (pg raises that without a code)', () => {
    expect(isDatabaseUnavailable(failedQuery(new Error('Connection terminated unexpectedly')))).toBe(true);
    expect(isDatabaseUnavailable(failedQuery(socketError('ECONNRESET')))).toBe(true);
  });

  it('not a query that failed on a programming error', () => {
    expect(isDatabaseUnavailable(failedQuery(new TypeError('x is not a function')))).toBe(false);
  });

  it('any server error while connecting (not wrapped by TypeORM): not accepting connections, gone, too many clients', () => {
    for (const code of ['55000', '3D000', '53300', '28P01']) expect(isDatabaseUnavailable(serverError(code))).toBe(true);
  });

  it('a socket error while connecting, and a closed DataSource', () => {
    for (const code of ['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'EAI_AGAIN', 'ENOTFOUND']) expect(isDatabaseUnavailable(socketError(code))).toBe(true);
    expect(isDatabaseUnavailable(new CannotExecuteNotConnectedError('default'))).toBe(true);
  });

  it('nothing else', () => {
    for (const error of [new Error('boom'), socketError('ENOENT'), socketError('EACCES'), new TypeError('t'), 'text', undefined, null]) {
      expect(isDatabaseUnavailable(error)).toBe(false);
    }
  });
});
