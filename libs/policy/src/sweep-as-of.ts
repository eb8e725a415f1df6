import { RetentionError } from '@retention/contracts';

/** A sweep whose `asOf` lies in the future: its cutoffs would reach rows that are not due yet. */
export class CutoffInFutureError extends RetentionError {
  readonly code = 'cutoff_in_future';
  readonly retriable = false;
}

/**
 * Refuses a sweep whose `asOf` is later than `now` plus the tolerated clock skew: a command that
 * says "it is the year 2100" would otherwise make every row of every policy due. Never retriable
 * (the same command is refused again), so the consumer dead-letters it with the code.
 */
export function assertSweepAsOf(asOf: Date, now: Date, maxSkewMs: number): void {
  if (Number.isNaN(asOf.getTime()) || asOf.getTime() > now.getTime() + maxSkewMs) {
    throw new CutoffInFutureError(
      `sweep asOf ${Number.isNaN(asOf.getTime()) ? '(invalid)' : asOf.toISOString()} is later than now plus the tolerated clock skew of ${Math.round(maxSkewMs / 1000)} s; nothing was applied`,
    );
  }
}

/** The instant a sweep's cutoffs are computed from: its `asOf`, but never later than now. */
export function sweepInstant(asOf: Date, now: Date): Date {
  return asOf.getTime() > now.getTime() ? new Date(now.getTime()) : asOf;
}
