import type { Dirent } from 'node:fs';
import { lstat, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveUnderRoot } from './file-deletions';

export interface DirectoryStep {
  kind: 'directory';
  policy: string;
  /** Directory relative to the files root. */
  path: string;
  suffixes: readonly string[];
  /** Files last modified before this instant are due. */
  before: Date;
  heldBy: readonly string[];
}

/**
 * Removes regular files under the step's directory (recursively) that are older than the cutoff
 * and end in an allowed suffix. Symbolic links are never followed or removed; every other file is
 * left alone. A dry run counts the same files and removes none.
 */
export async function sweepDirectory(root: string, step: DirectoryStep, dryRun: boolean): Promise<{ matched: number; deleted: number; held: number }> {
  const dir = resolveUnderRoot(root, step.path);
  if (!dir) throw new TypeError(`directory "${step.path}" is outside the files root`);
  let matched = 0;
  let deleted = 0;
  const walk = async (current: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(current, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const entry of entries) {
      const full = join(current, entry.name);
      if (entry.isDirectory()) await walk(full);
      if (!entry.isFile() || !step.suffixes.some((s) => entry.name.endsWith(s))) continue;
      const info = await lstat(full);
      if (!info.isFile() || info.mtime >= step.before) continue;
      matched++;
      if (dryRun || step.heldBy.length > 0) continue;
      try {
        await unlink(full);
        deleted++;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
  };
  await walk(dir);
  return { matched, deleted, held: step.heldBy.length > 0 ? matched : 0 };
}
