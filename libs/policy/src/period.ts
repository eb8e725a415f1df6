/** A retention period in calendar units. */
export interface Period {
  years?: number;
  months?: number;
  days?: number;
}

/** `{ months: 13 }` → `P13M`. */
export function toIsoPeriod(period: Period): string {
  const parts = [period.years ? `${period.years}Y` : '', period.months ? `${period.months}M` : '', period.days ? `${period.days}D` : ''].join('');
  return `P${parts || '0D'}`;
}

/**
 * The instant before which rows are due: `asOf` minus the period, in UTC calendar arithmetic
 * (13 months before 31 March is 28 or 29 February, never 3 March).
 */
export function cutoff(asOf: Date, period: Period): Date {
  const d = new Date(asOf.getTime());
  const totalMonths = (period.years ?? 0) * 12 + (period.months ?? 0);
  if (totalMonths > 0) {
    const day = d.getUTCDate();
    d.setUTCDate(1);
    d.setUTCMonth(d.getUTCMonth() - totalMonths);
    const lastDay = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
    d.setUTCDate(Math.min(day, lastDay));
  }
  if (period.days) d.setUTCDate(d.getUTCDate() - period.days);
  return d;
}

/** Approximate length in days, for the "oldest unprocessed" gauge and for humans. */
export function periodDays(period: Period): number {
  return (period.years ?? 0) * 365 + (period.months ?? 0) * 30 + (period.days ?? 0);
}

/**
 * The shortest time a period can span, in days: a month can be 28 days and a year 365. Compared
 * with the configured floor, so that no calendar position makes a cutoff closer to now than the floor.
 */
export function shortestPeriodDays(period: Period): number {
  return (period.years ?? 0) * 365 + (period.months ?? 0) * 28 + (period.days ?? 0);
}
