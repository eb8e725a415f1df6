import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const isRoot = process.getuid?.() === 0;

/** deploy/local/state-dir.sh in a throwaway clone at `<parent>/repo`; returns what it prints. */
function defaultRoot(parent: string, setup: (repo: string) => void = () => {}): { repo: string; printed: string } {
  const repo = join(parent, 'repo');
  mkdirSync(join(repo, 'deploy/local'), { recursive: true });
  copyFileSync(join(root, 'deploy/local/state-dir.sh'), join(repo, 'deploy/local/state-dir.sh'));
  setup(repo);
  return { repo: realpathSync(repo), printed: execFileSync('bash', [join(repo, 'deploy/local/state-dir.sh')], { encoding: 'utf8' }).trim() };
}

describe('deploy/local/state-dir.sh (the default state dir of a clone)', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is <repo>/.local for a clone every user can enter', () => {
    dir = mkdtempSync(join(tmpdir(), 'state-dir-'));
    chmodSync(dir, 0o755);
    const { repo, printed } = defaultRoot(dir);
    expect(printed).toBe(join(repo, '.local'));
  });

  it(`is ${isRoot ? '/var/tmp/retention-<sha256 of the path>' : '<repo>/.local (not root: PostgreSQL runs as us)'} for a clone in a 0700 directory`, () => {
    dir = mkdtempSync(join(tmpdir(), 'state-dir-'));
    chmodSync(dir, 0o700);
    const { repo, printed } = defaultRoot(dir);
    const expected = isRoot ? `/var/tmp/retention-${createHash('sha256').update(repo).digest('hex').slice(0, 12)}` : join(repo, '.local');
    expect(printed).toBe(expected);
  });

  it('keeps <repo>/.local where a stack already lives there, even in a 0700 directory', () => {
    dir = mkdtempSync(join(tmpdir(), 'state-dir-'));
    chmodSync(dir, 0o700);
    const { repo, printed } = defaultRoot(dir, (r) => mkdirSync(join(r, '.local/kafka'), { recursive: true }));
    expect(printed).toBe(join(repo, '.local'));
  });
});
