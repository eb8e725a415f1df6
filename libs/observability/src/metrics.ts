import { collectDefaultMetrics, Registry } from 'prom-client';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * A registry of the process's own (never the global one, so tests get theirs), with the default
 * Node.js metrics and the service name as a label on every series.
 */
export function createMetricsRegistry(service: string, options: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * Runs a scrape-time computation with a time limit. prom-client runs every `collect()` of a
 * registry in one `Promise.all`, so one that throws or hangs would fail the whole scrape.
 */
export async function boundedCollect<T>(work: () => Promise<T>, timeoutMs: number, onError: (error: unknown) => void): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`metric collection exceeded ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (error) {
    onError(error);
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}
