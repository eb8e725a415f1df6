import { ValidationError } from '@retention/contracts';
import { describe, expect, it } from 'vitest';
import { graceUntil } from './create-erasure-request.use-case';

const created = new Date('2026-07-01T00:00:00Z');
const due = new Date('2026-07-31T00:00:00Z');
const at = (seconds: number) => new Date(created.getTime() + seconds * 1000);

describe('graceUntil: when a new erasure may be sent', () => {
  it('sends at once without a grace period, or with a notBefore that is not in the future', () => {
    expect(graceUntil(undefined, created, due, { graceSeconds: 0, maxGraceSeconds: 86_400 })).toBeNull();
    expect(graceUntil(at(-1), created, due, { graceSeconds: 3600, maxGraceSeconds: 86_400 })).toBeNull();
    expect(graceUntil(created, created, due, { graceSeconds: 3600, maxGraceSeconds: 86_400 })).toBeNull();
  });

  it('waits the default grace period, or until the notBefore the request names', () => {
    expect(graceUntil(undefined, created, due, { graceSeconds: 3600, maxGraceSeconds: 86_400 })).toEqual(at(3600));
    expect(graceUntil(at(60), created, due, { graceSeconds: 3600, maxGraceSeconds: 86_400 })).toEqual(at(60));
  });

  it('refuses a notBefore past the maximum grace or not before the due date, naming the field', () => {
    expect(() => graceUntil(at(86_401), created, due, { graceSeconds: 0, maxGraceSeconds: 86_400 })).toThrow(ValidationError);
    expect(graceUntil(at(86_400), created, due, { graceSeconds: 0, maxGraceSeconds: 86_400 })).toEqual(at(86_400));
    try {
      graceUntil(due, created, due, { graceSeconds: 0, maxGraceSeconds: 60 * 86_400 });
      expect.unreachable();
    } catch (error) {
      expect((error as ValidationError).issues).toEqual([{ path: 'notBefore', message: expect.stringContaining('due date') }]);
    }
  });
});
