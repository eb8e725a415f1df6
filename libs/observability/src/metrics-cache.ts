import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { boundedCollect } from './metrics';

/**
 * Values that cost a database query, computed on an interval instead of at scrape time: a scrape
 * reads the last values and never waits on (or loads) the database, however often it comes.
 */
export interface MetricsCache {
  /**
   * Registers `load`, run on every refresh (time-boxed; a failure keeps the last value). Returns
   * the getter of its last value: undefined until its first refresh succeeded.
   */
  source<T>(name: string, load: () => Promise<T>): () => T | undefined;
  /** Runs every source now (each on its own: one that fails does not stop the others). */
  refresh(): Promise<void>;
  /** Refreshes every `intervalMs` until {@link MetricsCache.stop}. */
  start(): void;
  stop(): void;
}

export interface MetricsCacheOptions {
  intervalMs: number;
  /** Limit of one source's load (default 5 s, or the interval if shorter). */
  timeoutMs?: number;
  logger: Logger;
  now?: () => number;
}

/**
 * A {@link MetricsCache} registering `retention_metrics_cache_age_seconds{source}` (how old each
 * source's values are: it grows while the database does not answer, and the other series keep
 * their last values) and `retention_metrics_refresh_failures_total{source}`.
 */
export function createMetricsCache(registry: Registry, options: MetricsCacheOptions): MetricsCache {
  const now = options.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? Math.min(5000, options.intervalMs);
  // `busy`: the source's last load has not settled (it may outlive its time box): it is not started again.
  const sources = new Map<string, { load: () => Promise<unknown>; value?: unknown; at?: number; busy?: boolean }>();
  const failures = new Counter({
    name: 'retention_metrics_refresh_failures_total',
    help: 'Refreshes of cached gauge values that failed or timed out (the gauges keep their last values), by source',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'retention_metrics_cache_age_seconds',
    help: 'Seconds since the cached values of this source were last refreshed (gauges computed from the database are refreshed on an interval, not per scrape)',
    labelNames: ['source'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [name, s] of sources) if (s.at !== undefined) this.set({ source: name }, (now() - s.at) / 1000);
    },
  });
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const refreshAll = async (): Promise<void> => {
    await Promise.all(
      [...sources].map(async ([name, s]) => {
        // A load that timed out still runs on the database: never start a second one beside it.
        if (s.busy) {
          failures.inc({ source: name });
          return;
        }
        s.busy = true;
        const load = s.load().finally(() => (s.busy = false));
        let failed = false;
        const value = await boundedCollect(
          () => load,
          timeoutMs,
          (error) => {
            failed = true;
            failures.inc({ source: name });
            options.logger.warn({ source: name, err: error instanceof Error ? error.message : String(error) }, 'cached metric values not refreshed');
          },
        );
        if (!failed) Object.assign(s, { value, at: now() });
      }),
    );
  };
  const cache: MetricsCache = {
    source<T>(name: string, load: () => Promise<T>) {
      if (sources.has(name)) throw new Error(`metrics cache source "${name}" registered twice`);
      const entry: { load: () => Promise<unknown>; value?: unknown; at?: number; busy?: boolean } = { load };
      sources.set(name, entry);
      return () => entry.value as T | undefined;
    },
    // One refresh at a time, and one load per source until it settles: a slow database does not pile them up.
    refresh: () => (running ??= refreshAll().finally(() => (running = undefined))),
    start() {
      timer ??= setInterval(() => void cache.refresh(), options.intervalMs);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
  return cache;
}
