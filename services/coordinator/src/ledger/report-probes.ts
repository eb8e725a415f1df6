import type { DataSource } from 'typeorm';

/** The latest answered deletion probe of one target of an erasure (what the service still stores). */
export interface ReportProbe {
  service: string;
  trigger: 'completion' | 'sample' | 'manual';
  status: 'clean' | 'found' | 'held' | 'not_applicable' | 'unknown';
  remaining: number;
  held: number;
  at: string;
}

/** Per request id, the latest answered probe of each of its targets (none for requests never probed). */
export async function latestProbes(db: DataSource, requestIds: readonly string[]): Promise<Map<string, ReportProbe[]>> {
  const probes = new Map<string, ReportProbe[]>();
  if (requestIds.length === 0) return probes;
  const rows = (await db.query(
    `SELECT DISTINCT ON (request_id, service) request_id, service, trigger, status, remaining, held, answered_at
     FROM erasure_probes WHERE request_id = ANY($1::uuid[]) AND answered_at IS NOT NULL
     ORDER BY request_id, service, answered_at DESC`,
    [requestIds],
  )) as Array<{
    request_id: string;
    service: string;
    trigger: ReportProbe['trigger'];
    status: ReportProbe['status'];
    remaining: number;
    held: number;
    answered_at: Date;
  }>;
  for (const r of rows) {
    const list = probes.get(r.request_id) ?? [];
    list.push({ service: r.service, trigger: r.trigger, status: r.status, remaining: r.remaining, held: r.held, at: new Date(r.answered_at).toISOString() });
    probes.set(r.request_id, list);
  }
  return probes;
}
