import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules') return [];
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') && !path.endsWith('.spec.ts') ? [path] : [];
  });
}

/** Metric names the code registers (`name: 'retention_...'`). */
const defined = new Set(
  [...sources(join(root, 'libs')), ...sources(join(root, 'services'))].flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(/name: '(retention_[a-z_]+)'/g)].map((m) => m[1]!),
  ),
);

/**
 * Tables the migrations create (`CREATE TABLE retention_...`), and schemas named in a config schema's
 * default (the agent's `retention_agent`): the runbooks and the README name them too.
 */
const tables = new Set(
  [...sources(join(root, 'libs')), ...sources(join(root, 'services'))].flatMap((file) => {
    const text = readFileSync(file, 'utf8');
    return [
      ...[...text.matchAll(/CREATE TABLE (?:IF NOT EXISTS )?(retention_[a-z_]+)/g)].map((m) => m[1]!),
      ...[...text.matchAll(/_SCHEMA: [^\n]*\.default\('(retention_[a-z_]+)'\)/g)].map((m) => m[1]!),
    ];
  }),
);

function referenced(text: string): string[] {
  return [...new Set([...text.matchAll(/\b(retention_[a-z_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, '')))].filter((n) => !tables.has(n));
}

/** The alert rules and the dashboard only use metrics the code really exports. */
describe('deploy/ monitoring configuration', () => {
  it('knows the metrics', () => {
    expect(defined.size).toBeGreaterThanOrEqual(12);
  });

  for (const file of ['deploy/prometheus/alerts.yml', 'deploy/grafana/retention.json', 'docs/operations.md', 'README.md']) {
    it(`${file} references only exported metrics`, () => {
      const names = referenced(readFileSync(join(root, file), 'utf8'));
      expect(names.length).toBeGreaterThan(0);
      expect(names.filter((n) => !defined.has(n))).toEqual([]);
    });
  }
});
