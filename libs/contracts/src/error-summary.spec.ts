import { describe, expect, it } from 'vitest';
import { errorSummary } from './retriable';

describe('errorSummary', () => {
  it('keeps the SQLSTATE and object names of a database error, never the values PostgreSQL quotes', () => {
    const driverError = Object.assign(new Error('duplicate key value violates unique constraint "u"'), {
      code: '23505',
      table: 'customers',
      constraint: 'customers_email_key',
      detail: 'Key (email)=(jane@example.com) already exists.',
    });
    const wrapped = Object.assign(new Error('invalid input syntax for type uuid: "jane@example.com"'), { name: 'QueryFailedError', driverError });
    for (const error of [driverError, wrapped]) {
      const text = errorSummary(error);
      expect(text).toContain('SQLSTATE 23505');
      expect(text).toContain('table customers');
      expect(text).not.toContain('jane');
    }
  });

  it('keeps the errno and call of a system error, not the path it names', () => {
    const error = Object.assign(new Error("ENOENT: no such file or directory, unlink '/data/jane-doe.pdf'"), { code: 'ENOENT', syscall: 'unlink' });
    expect(errorSummary(error)).toBe('Error: ENOENT (unlink)');
  });

  it('describes a thrown value that is no Error by its type only', () => {
    expect(errorSummary('jane@example.com')).toBe('thrown string');
  });

  it('keeps name and message of other errors', () => {
    expect(errorSummary(new TypeError('x is not a function'))).toBe('TypeError: x is not a function');
  });
});
