import { describe, expect, it } from 'vitest';
import { cutoff, toIsoPeriod } from './period';

describe('retention period', () => {
  it('subtracts days across a month boundary', () => {
    expect(cutoff(new Date('2026-03-01T12:00:00Z'), { days: 90 }).toISOString()).toBe('2025-12-01T12:00:00.000Z');
  });

  it('clamps to the end of a shorter month', () => {
    expect(cutoff(new Date('2026-03-31T00:00:00Z'), { months: 13 }).toISOString()).toBe('2025-02-28T00:00:00.000Z');
    expect(cutoff(new Date('2028-03-31T00:00:00Z'), { months: 1 }).toISOString()).toBe('2028-02-29T00:00:00.000Z');
  });

  it('handles years over a leap day', () => {
    expect(cutoff(new Date('2028-02-29T00:00:00Z'), { years: 7 }).toISOString()).toBe('2021-02-28T00:00:00.000Z');
  });

  it('formats ISO periods', () => {
    expect(toIsoPeriod({ years: 7 })).toBe('P7Y');
    expect(toIsoPeriod({ months: 13, days: 2 })).toBe('P13M2D');
  });
});
