import { isRetriable } from '@retention/contracts';

/** How long a command keeps trying after retriable failures (see `RETENTION_RETRY_*`). */
export interface RetryPolicy {
  /** Failed tries allowed before giving up. */
  attempts: number;
  /** Time allowed from the first failure before giving up. */
  maxMs: number;
  /** Delay after the first failure; doubles after each, up to `maxDelayMs`. */
  backoffMs: number;
  maxDelayMs?: number;
}

/** How long a job waits for rows other transactions hold locked (see `RETENTION_LOCK_*`). */
export interface LockWaitPolicy {
  maxMs: number;
  /** First pause; doubles on each pass that changes nothing, up to `maxDelayMs`. */
  initialDelayMs?: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, maxMs: 120_000, backoffMs: 500, maxDelayMs: 30_000 };
export const DEFAULT_LOCK_WAIT: LockWaitPolicy = { maxMs: 300_000, initialDelayMs: 50, maxDelayMs: 5_000 };

/**
 * Counts the failures of one command since it last made progress. `failed(error)` says how long to
 * wait before the next try, or `undefined` when the error is not retriable or the budget (tries
 * or time) is spent; `progressed()` (a batch committed) starts the count again.
 */
export function createRetryBudget(
  policy: RetryPolicy,
  clock: () => number = Date.now,
): { failed(error: unknown): number | undefined; progressed(): void; readonly failures: number } {
  let failures = 0;
  let since: number | undefined;
  return {
    failed(error) {
      if (!isRetriable(error)) return undefined;
      failures++;
      since ??= clock();
      if (failures >= policy.attempts || clock() - since >= policy.maxMs) return undefined;
      return Math.min(policy.maxDelayMs ?? 30_000, policy.backoffMs * 2 ** (failures - 1));
    },
    progressed() {
      failures = 0;
      since = undefined;
    },
    get failures() {
      return failures;
    },
  };
}

/**
 * Paces the passes of a job over rows that other transactions hold locked: `skipped(changed)` after
 * a pass that left such rows gives the pause before the next pass (growing while passes change
 * nothing, reset when one does), or `undefined` once the rows have stayed locked for `maxMs`;
 * `reset()` after a pass that skipped nothing.
 */
export function createLockWait(policy: LockWaitPolicy, clock: () => number = Date.now): { skipped(changed: number): number | undefined; reset(): void } {
  const initial = policy.initialDelayMs ?? 50;
  let delay = initial;
  let since: number | undefined;
  return {
    reset() {
      since = undefined;
    },
    skipped(changed) {
      if (changed > 0 || since === undefined) {
        since = clock();
        delay = initial;
      }
      if (clock() - since >= policy.maxMs) return undefined;
      const pause = delay;
      delay = Math.min(policy.maxDelayMs, delay * 2);
      return pause;
    },
  };
}
