import { Counter, type Registry } from '@retention/observability';

/** Probe metrics; labels are target service names and result codes only. */
export interface ProbeMetrics {
  /** Erased subjects a probe found data of (rows not under a hold still linked to them), by target. */
  found: Counter<'target'>;
  /** Probe answers per erased subject, by target and status. */
  results: Counter<'target' | 'status'>;
}

export function createProbeMetrics(registry: Registry): ProbeMetrics {
  return {
    found: new Counter({
      name: 'retention_probe_found_total',
      help: 'Erased subjects a deletion probe found data of (rows not under a legal hold still linked to them), by target service',
      labelNames: ['target'] as const,
      registers: [registry],
    }),
    results: new Counter({
      name: 'retention_probe_results_total',
      help: 'Deletion probe answers per erased subject, by target service and status (clean, found, held, not_applicable, unknown)',
      labelNames: ['target', 'status'] as const,
      registers: [registry],
    }),
  };
}
