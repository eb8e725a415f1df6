import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

/**
 * The local stack's state dir, as deploy/local resolves it: RETENTION_LOCAL_DIR, else the clone's
 * default root (<repo>/.local, or /var/tmp/retention-<hash> where PostgreSQL's user cannot reach
 * the clone; deploy/local/state-dir.sh decides).
 */
export function localStateDir(root: string): string {
  if (process.env.RETENTION_LOCAL_DIR) return resolve(process.env.RETENTION_LOCAL_DIR);
  return execFileSync('bash', [resolve(root, 'deploy/local/state-dir.sh')], { encoding: 'utf8' }).trim();
}
