import { Registry } from '@retention/observability';
import { describe, expect, it } from 'vitest';
import { createRetentionMetrics } from './metrics';

describe('createRetentionMetrics', () => {
  it('exports a held series (0) for a policy from its first batch, so the "records held" panel has data before any hold', async () => {
    const registry = new Registry();
    const metrics = createRetentionMetrics(registry);
    expect(await registry.metrics()).not.toContain('retention_records_held_total{');
    metrics.recordBatch('session_logs', 'delete', 0, 0);
    const text = await registry.metrics();
    expect(text).toContain('retention_records_held_total{policy="session_logs"} 0');
    expect(text).toContain('retention_records_processed_total{policy="session_logs",action="delete"} 0');
    metrics.recordBatch('session_logs', 'delete', 5, 2);
    expect(await registry.metrics()).toContain('retention_records_held_total{policy="session_logs"} 2');
  });

  it('labels erasure runs policy="erasure", which the dashboard keeps out of the sweep duration panel', async () => {
    const registry = new Registry();
    createRetentionMetrics(registry).observeRun('erasure', 0.2);
    expect(await registry.metrics()).toContain('retention_run_duration_seconds_count{policy="erasure"} 1');
  });
});
