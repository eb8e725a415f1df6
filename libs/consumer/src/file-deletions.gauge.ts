import { boundedCollect, Gauge, type Logger, type Registry } from '@retention/observability';
import { fileDeletionBacklog } from '@retention/policy';
import type { DataSource } from 'typeorm';
import { safeErrorMessage } from './pg-errors';

/**
 * `retention_file_deletions_pending` and `retention_file_deletion_oldest_seconds`, computed at
 * scrape time from the file deletion queue (one time-boxed query per scrape, shared by both): sweep
 * files wait there for the asynchronous flush, an erasure's files only until it acks (or, when one
 * could not be deleted, until its retry). A queue that does not drain means files of deleted rows
 * are still on disk (alert RetentionFileDeletionsStuck).
 */
export function registerFileDeletionGauges(registry: Registry, deps: { dataSource: DataSource; logger: Logger; timeoutMs?: number }): void {
  let inFlight: Promise<{ pending: number; oldestSeconds: number } | undefined> | undefined;
  // Both gauges are collected in the same scrape: one query serves them.
  const backlog = (): Promise<{ pending: number; oldestSeconds: number } | undefined> => {
    inFlight ??= boundedCollect(
      () => fileDeletionBacklog(deps.dataSource),
      deps.timeoutMs ?? 2000,
      (error) => deps.logger.warn({ err: safeErrorMessage(error) }, 'file deletion gauges not collected'),
    ).finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
  new Gauge({
    name: 'retention_file_deletions_pending',
    help: 'Files of deleted rows queued for deletion from disk and not yet deleted',
    registers: [registry],
    async collect() {
      const b = await backlog();
      if (b) this.set(b.pending);
    },
  });
  new Gauge({
    name: 'retention_file_deletion_oldest_seconds',
    help: 'Age of the oldest queued file deletion (0 when the queue is empty)',
    registers: [registry],
    async collect() {
      const b = await backlog();
      if (b) this.set(b.oldestSeconds);
    },
  });
}
