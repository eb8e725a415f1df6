import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetricsCache } from './metrics-cache';

describe('metrics cache', () => {
  it('never starts a second load of a source whose last one outlived its time box', async () => {
    const registry = new Registry();
    const cache = createMetricsCache(registry, { intervalMs: 1000, timeoutMs: 20, logger: pino({ level: 'silent' }) });
    let calls = 0;
    let settle: (v: number) => void = () => undefined;
    const value = cache.source('slow', () => {
      calls++;
      return new Promise<number>((resolve) => (settle = resolve));
    });
    await cache.refresh(); // times out: the query still runs
    await cache.refresh(); // skipped: counted as a failure, no second query
    expect(calls).toBe(1);
    expect(value()).toBeUndefined();
    expect(await registry.getSingleMetricAsString('retention_metrics_refresh_failures_total')).toContain(
      'retention_metrics_refresh_failures_total{source="slow"} 2',
    );
    settle(7);
    await new Promise((r) => setImmediate(r));
    await cache.refresh(); // settled: loads again
    expect(calls).toBe(2);
  });
});
