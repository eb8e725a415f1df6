import { intEnv, percentile, round } from './env';

/** How many times each sweep pass runs (`BENCH_REPEAT`, at least 5 unless set lower for a quick look). */
export const repeatCount = (): number => Math.max(1, intEnv('BENCH_REPEAT', 5));

/** Median and spread of repeated measurements: min, max, and (max − min) ÷ median in percent. */
export function spread(values: readonly number[]): { median: number; min: number; max: number; spreadPercent: number; runs: number[] } {
  const median = percentile(values, 50);
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length % 2 === 0 ? (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2 : median;
  const min = sorted[0] ?? NaN;
  const max = sorted[sorted.length - 1] ?? NaN;
  return {
    median: round(middle, 3),
    min: round(min, 3),
    max: round(max, 3),
    spreadPercent: round(((max - min) / middle) * 100, 1),
    runs: values.map((v) => round(v, 3)),
  };
}
