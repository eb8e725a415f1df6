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
 * Deletes the files queued by committed batches (`retention_file_deletions`). A row is removed
 * from the queue only after its file is gone (or was already gone), so a crash between commit and
 * unlink is repaired by the next flush; a rolled-back batch queued nothing, so its files stay.
 */
export async function flushFileDeletions(dataSource: DataSource, root: string, batchSize = 500): Promise<FileFlushResult> {
  const total: FileFlushResult = { deleted: 0, missing: 0, refused: 0, failed: 0 };
  for (;;) {
    const done = await dataSource.transaction(async (manager) => {
      const rows = (await manager.query(`SELECT id, path FROM retention_file_deletions WHERE attempts < 10 ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`, [
        batchSize,
      ])) as Array<{
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
