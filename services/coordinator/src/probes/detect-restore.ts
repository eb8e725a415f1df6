import type { ServiceRegistered, TopicNames } from '@retention/contracts';
import type { DataSource } from 'typeorm';
import { type ReplayIssued, requestReplay } from './request-replay';

/** How far before the journal's newest entry a detected restore replays from (service and coordinator clocks differ). */
const CLOCK_MARGIN_MS = 10 * 60_000;

/**
 * Compares a registration's deletion journal (service.registered 1.3) with what the coordinator
 * knows: the real erasures this service acked `completed` with a keyed hash before the
 * registration was published. Fewer journal entries than those means the service's database was
 * restored from a backup (or lost): the erasures acked since its newest entry are replayed
 * (trigger `restore_detected`). Once per registration: a replay created after it was published
 * (by an operator or an earlier detection) is enough, and an old registration re-read from the
 * compacted topic only counts the acks before it.
 */
export async function detectRestore(dataSource: DataSource, topics: TopicNames, manifest: ServiceRegistered, at: Date): Promise<ReplayIssued | undefined> {
  if (!manifest.journal) return undefined;
  const publishedAt = new Date(manifest.publishedAt);
  const [known] = (await dataSource.query(
    `SELECT count(*)::int AS n FROM request_targets t JOIN retention_requests r ON r.id = t.request_id
     WHERE t.service = $1 AND t.status = 'completed' AND t.acked_at <= $2 AND t.ack ? 'subjectHash' AND r.kind = 'erasure' AND NOT r.dry_run`,
    [manifest.service, publishedAt],
  )) as Array<{ n: number }>;
  if (!known || known.n <= manifest.journal.entries) return undefined;
  const [handled] = (await dataSource.query(`SELECT 1 FROM erasure_replays WHERE service = $1 AND created_at >= $2 LIMIT 1`, [
    manifest.service,
    publishedAt,
  ])) as unknown[];
  if (handled) return undefined;
  const since = manifest.journal.lastErasedAt ? new Date(new Date(manifest.journal.lastErasedAt).getTime() - CLOCK_MARGIN_MS) : new Date(0);
  return requestReplay(dataSource, topics, { service: manifest.service, since, requestedBy: 'coordinator:restore-detection', trigger: 'restore_detected' }, at);
}
