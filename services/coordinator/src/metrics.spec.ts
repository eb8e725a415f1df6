import { createLogger, createMetricsCache, createMetricsRegistry } from '@retention/observability';
import { OutboxRelay } from '@retention/outbox';
import type { DataSource } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { createLedgerMetrics } from './ledger/ledger-metrics';
import { createCoordinatorMetrics } from './metrics';

/** A database that counts its queries and answers each gauge's query with fixed rows, or fails. */
function fakeDatabase() {
  const state = { queries: 0, down: false, pending: 3 };
  const dataSource = {
    query: async (sql: string) => {
      state.queries += 1;
      if (state.down) throw new Error('connection refused');
      if (sql.includes('FROM retention_requests GROUP BY')) return [{ kind: 'erasure', status: 'pending', n: state.pending }];
      if (sql.includes('FROM registered_services')) return [{ service: 'orders', n: state.pending, oldest: 42 }];
      if (sql.includes('FROM ledger_entries')) return [{ max: '10' }];
      if (sql.includes('FROM retention_outbox')) return [{ parked: 0, unpublished: 2, oldest: 1.5 }];
      throw new Error(`unexpected query: ${sql}`);
    },
  } as unknown as DataSource;
  return { state, dataSource };
}

const value = async (registry: ReturnType<typeof createMetricsRegistry>, name: string, labels: Record<string, string> = {}): Promise<number | undefined> =>
  (await registry.getSingleMetric(name)!.get()).values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;

describe("the coordinator's database gauges", () => {
  it('are computed on the cache interval: a scrape never queries the database, and keeps the last values with their age while it is down', async () => {
    const { state, dataSource } = fakeDatabase();
    let now = 1_000_000;
    const registry = createMetricsRegistry('coordinator', { defaultMetrics: false });
    const logger = createLogger({ service: 'coordinator', level: 'silent' });
    const cache = createMetricsCache(registry, { intervalMs: 15_000, logger, now: () => now });
    createCoordinatorMetrics(registry, dataSource, cache);
    createLedgerMetrics(registry, dataSource, () => 4, cache);
    new OutboxRelay({ dataSource, publisher: {} as never, logger, registry, metricsCache: cache });

    // Before the first refresh: no values, and no query however many scrapes.
    for (let i = 0; i < 5; i++) await registry.metrics();
    expect(state.queries).toBe(0);
    expect(await value(registry, 'retention_pending_acks', { target: 'orders' })).toBeUndefined();

    await cache.refresh();
    expect(state.queries).toBe(4); // requests, pending by target, ledger, outbox: once each
    for (let i = 0; i < 20; i++) await registry.metrics();
    expect(state.queries).toBe(4);
    expect(await value(registry, 'retention_requests', { kind: 'erasure', status: 'pending' })).toBe(3);
    expect(await value(registry, 'retention_pending_acks', { target: 'orders' })).toBe(3);
    expect(await value(registry, 'retention_oldest_unacked_command_seconds', { target: 'orders' })).toBe(42);
    expect(await value(registry, 'retention_ledger_unanchored_entries')).toBe(6);
    expect(await value(registry, 'retention_outbox_pending')).toBe(2);
    expect(await value(registry, 'retention_metrics_cache_age_seconds', { source: 'requests' })).toBe(0);

    // The database goes down: refreshes fail and are counted, scrapes answer with the last values and their age.
    state.down = true;
    state.pending = 99;
    now += 45_000;
    await cache.refresh();
    const body = await registry.metrics();
    expect(body).toMatch(/retention_pending_acks\{target="orders",service="coordinator"\} 3/);
    expect(await value(registry, 'retention_metrics_cache_age_seconds', { source: 'requests' })).toBe(45);
    expect(await value(registry, 'retention_metrics_refresh_failures_total', { source: 'pending_by_target' })).toBe(1);

    // Back up: the next refresh brings the new values.
    state.down = false;
    await cache.refresh();
    expect(await value(registry, 'retention_pending_acks', { target: 'orders' })).toBe(99);
    expect(await value(registry, 'retention_metrics_cache_age_seconds', { source: 'outbox' })).toBe(0);
  });

  it('refresh on the interval once started, one refresh at a time', async () => {
    const { state, dataSource } = fakeDatabase();
    const registry = createMetricsRegistry('coordinator', { defaultMetrics: false });
    const cache = createMetricsCache(registry, { intervalMs: 20, logger: createLogger({ service: 'coordinator', level: 'silent' }) });
    createCoordinatorMetrics(registry, dataSource, cache);
    await Promise.all([cache.refresh(), cache.refresh()]);
    expect(state.queries).toBe(2);
    cache.start();
    await new Promise((resolve) => setTimeout(resolve, 150));
    cache.stop();
    const after = state.queries;
    expect(after).toBeGreaterThan(2);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(state.queries).toBe(after);
  });
});
