import { describe, expect, it } from 'vitest';
import { nextDelaySeconds } from './redelivery';
import { latestDueSlot } from './sweep-scheduler';

describe('sweep schedule slots', () => {
  it('finds the latest slot within the misfire grace window', () => {
    expect(latestDueSlot('0 3 * * *', new Date('2026-03-01T03:20:00Z'), 3600)?.toISOString()).toBe('2026-03-01T03:00:00.000Z');
    expect(latestDueSlot('0 3 * * *', new Date('2026-03-01T04:30:00Z'), 3600)).toBeNull();
    expect(latestDueSlot('*/5 * * * *', new Date('2026-03-01T03:17:00Z'), 3600)?.toISOString()).toBe('2026-03-01T03:15:00.000Z');
  });

  it('rejects an invalid cron expression', () => {
    expect(() => latestDueSlot('every night', new Date(), 60)).toThrow();
  });
});

describe('redelivery backoff', () => {
  it('doubles from the base up to the maximum', () => {
    const o = { baseSeconds: 60, maxSeconds: 600 };
    expect([1, 2, 3, 4, 5, 9].map((n) => nextDelaySeconds(n, o))).toEqual([60, 120, 240, 480, 600, 600]);
  });
});
