import { isRetriable, RetentionError } from '@retention/contracts';
import { lstat, unlink } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import type { DataSource } from 'typeorm';

/**
 * Resolves a stored path against the files root and refuses anything that would leave it (an
 * absolute path elsewhere, `..`), so a bad row can never make the executor delete a stranger's file.
 */
export function resolveUnderRoot(root: string, path: string): string | null {
  const full = resolve(root, path);
  const rel = relative(root, full);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? null : full;
}

export interface FileFlushResult {
  deleted: number;
  missing: number;
  refused: number;
  failed: number;
}

/**
 * Deletes the files queued by committed sweep batches (`retention_file_deletions` rows without an
 * owning request; an erasure deletes its own, see {@link deleteRequestFiles}). A row is removed
 * from the queue only after its file is gone (or was already gone), so a crash between commit and
 * unlink is repaired by the next flush; a rolled-back batch queued nothing, so its files stay.
 */
export async function flushFileDeletions(dataSource: DataSource, root: string, batchSize = 500): Promise<FileFlushResult> {
  const total: FileFlushResult = { deleted: 0, missing: 0, refused: 0, failed: 0 };
  for (;;) {
    const done = await dataSource.transaction(async (manager) => {
      const rows = (await manager.query(
        `SELECT id, path FROM retention_file_deletions WHERE request_id IS NULL AND attempts < 10 ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [batchSize],
      )) as Array<{
        id: string;
        path: string;
      }>;
      const finished: string[] = [];
      const failed: string[] = [];
      for (const row of rows) {
        const full = resolveUnderRoot(root, row.path);
        if (!full) {
          total.refused++;
          failed.push(row.id);
          continue;
        }
        try {
          const info = await lstat(full);
          if (!info.isFile()) {
            total.refused++;
            failed.push(row.id);
            continue;
          }
          await unlink(full);
          total.deleted++;
          finished.push(row.id);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
            total.missing++;
            finished.push(row.id);
          } else {
            total.failed++;
            failed.push(row.id);
          }
        }
      }
      if (finished.length) await manager.query(`DELETE FROM retention_file_deletions WHERE id = ANY($1::bigint[])`, [finished]);
      if (failed.length) await manager.query(`UPDATE retention_file_deletions SET attempts = attempts + 1 WHERE id = ANY($1::bigint[])`, [failed]);
      return rows.length < batchSize;
    });
    if (done) return total;
  }
}

/**
 * A queued file that could not be deleted. `code` is the errno (`EACCES`, `EISDIR`, `ENOTDIR`,
 * `EROFS`, …) or `file_outside_root`; the message names no path (paths can name a person). Not
 * retriable (see `retryReason` in libs/contracts): the command acks `failed` with the code, and
 * the coordinator's retry runs the deletion again once the cause is fixed.
 */
export class FileDeletionError extends RetentionError {
  // Decided by the one retriable list, as if the errno itself had been thrown: no file system errno is on it.
  readonly retriable: boolean;

  constructor(
    readonly code: string,
    readonly failed: number,
  ) {
    super(`${failed} file(s) of deleted rows could not be deleted (${code})`);
    this.retriable = isRetriable({ code });
  }
}

/**
 * Deletes the files queued by one request's committed batches, before the request acks. Idempotent:
 * a file already gone counts as deleted, and a row leaves the queue only once its file is gone, so a
 * crash at any point is repaired by running it again. Throws {@link FileDeletionError} when a file
 * stays (its row stays queued for the next try).
 */
export async function deleteRequestFiles(dataSource: DataSource, root: string, requestId: string): Promise<{ deleted: number; missing: number }> {
  const rows = (await dataSource.query(`SELECT id, path FROM retention_file_deletions WHERE request_id = $1 ORDER BY id`, [requestId])) as Array<{
    id: string;
    path: string;
  }>;
  const result = { deleted: 0, missing: 0 };
  const gone: string[] = [];
  const errors: string[] = [];
  for (const row of rows) {
    const code = await removeFile(root, row.path);
    if (code === 'deleted') result.deleted++;
    else if (code === 'missing') result.missing++;
    else errors.push(code);
    if (code === 'deleted' || code === 'missing') gone.push(row.id);
  }
  if (gone.length) await dataSource.query(`DELETE FROM retention_file_deletions WHERE id = ANY($1::bigint[])`, [gone]);
  if (errors.length) {
    await dataSource.query(`UPDATE retention_file_deletions SET attempts = attempts + 1 WHERE request_id = $1`, [requestId]);
    throw new FileDeletionError(errors[0]!, errors.length);
  }
  return result;
}

/** Removes one file: `deleted`, `missing` (already gone), or the error code that kept it. */
async function removeFile(root: string, path: string): Promise<string> {
  const full = resolveUnderRoot(root, path);
  if (!full) return 'file_outside_root';
  try {
    // A directory where the file was is an error to report, not something to remove recursively.
    if ((await lstat(full)).isDirectory()) return 'EISDIR';
    await unlink(full);
    return 'deleted';
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'missing';
    return typeof code === 'string' && /^E[A-Z0-9_]+$/.test(code) ? code : 'file_delete_failed';
  }
}

/** Depth of the file deletion queue and the age of its oldest row, for the gauges. */
export async function fileDeletionBacklog(dataSource: DataSource): Promise<{ pending: number; oldestSeconds: number }> {
  const [row] = (await dataSource.query(
    `SELECT count(*)::int AS pending, COALESCE(EXTRACT(EPOCH FROM now() - min(queued_at)), 0)::float AS oldest FROM retention_file_deletions`,
  )) as Array<{ pending: number; oldest: number }>;
  return { pending: row?.pending ?? 0, oldestSeconds: row?.oldest ?? 0 };
}
