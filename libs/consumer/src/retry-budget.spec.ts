import { TransientError, ValidationError } from '@retention/contracts';
import { describe, expect, it } from 'vitest';
import { createLockWait, createRetryBudget } from './retry-budget';

const deadlock = Object.assign(new Error('x'), { code: '40P01' });

describe('retry budget of a command', () => {
  it('gives doubling delays for retriable failures, then gives up after the allowed tries', () => {
    const budget = createRetryBudget({ attempts: 4, maxMs: 60_000, backoffMs: 100, maxDelayMs: 250 }, () => 0);
    expect([budget.failed(deadlock), budget.failed(deadlock), budget.failed(deadlock), budget.failed(deadlock)]).toEqual([100, 200, 250, undefined]);
    expect(budget.failures).toBe(4);
  });

  it('gives up when the time budget is spent, whatever tries are left', () => {
    let now = 0;
    const budget = createRetryBudget({ attempts: 100, maxMs: 1_000, backoffMs: 10 }, () => now);
    expect(budget.failed(new TransientError('x'))).toBe(10);
    now = 1_000;
    expect(budget.failed(new TransientError('x'))).toBeUndefined();
  });

  it('gives up at once for an error that is not retriable', () => {
    const budget = createRetryBudget({ attempts: 5, maxMs: 60_000, backoffMs: 10 }, () => 0);
    expect(budget.failed(new ValidationError('x'))).toBeUndefined();
    expect(budget.failed(Object.assign(new Error('x'), { code: 'EACCES' }))).toBeUndefined();
  });

  it('starts again after progress (a committed batch)', () => {
    const budget = createRetryBudget({ attempts: 2, maxMs: 60_000, backoffMs: 10 }, () => 0);
    expect(budget.failed(deadlock)).toBe(10);
    budget.progressed();
    expect(budget.failed(deadlock)).toBe(10);
    expect(budget.failed(deadlock)).toBeUndefined();
  });
});

describe('lock wait', () => {
  it('pauses longer while passes change nothing, shorter again after one that does, and gives up after maxMs', () => {
    let now = 0;
    const wait = createLockWait({ maxMs: 1_000, initialDelayMs: 50, maxDelayMs: 300 }, () => now);
    expect([wait.skipped(2), wait.skipped(0), wait.skipped(0), wait.skipped(0), wait.skipped(0)]).toEqual([50, 100, 200, 300, 300]);
    now = 500;
    expect(wait.skipped(1)).toBe(50);
    now = 1_499;
    expect(wait.skipped(0)).toBe(100);
    now = 1_500;
    expect(wait.skipped(0)).toBeUndefined();
    wait.reset();
    expect(wait.skipped(0)).toBe(50);
  });
});
