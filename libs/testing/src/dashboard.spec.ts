import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const dashboard = JSON.parse(readFileSync(join(root, 'deploy/grafana/retention.json'), 'utf8')) as {
  panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
};

/** Metric names the code registers (`name: 'retention_…'` in the sources of libs and services). */
function registeredMetrics(): Set<string> {
  const out = execFileSync('grep', ['-rhoE', "name: '(retention_[a-z_]+)'", '--include=*.ts', '--exclude=*.spec.ts', 'libs', 'services'], {
    cwd: root,
    encoding: 'utf8',
  });
  return new Set([...out.matchAll(/'(retention_[a-z_]+)'/g)].map((m) => m[1]!));
}

describe('deploy/grafana/retention.json', () => {
  it('queries only metrics the code emits (a misspelt name is an always-empty panel)', () => {
    const known = registeredMetrics();
    expect(known.size).toBeGreaterThan(10);
    for (const panel of dashboard.panels)
      for (const target of panel.targets ?? [])
        for (const [name] of target.expr.matchAll(/retention_[a-z_]+/g)) {
          const base = name.replace(/_(bucket|sum|count)$/, '');
          expect(known.has(base), `${panel.title}: ${name}`).toBe(true);
        }
  });

  it('keeps erasures out of the sweep duration panel and shows them in a panel of their own', () => {
    const expr = (title: RegExp): string => dashboard.panels.find((p) => title.test(p.title))!.targets![0]!.expr;
    expect(expr(/^Sweep duration/)).toContain('policy!="erasure"');
    expect(expr(/^Erasure duration/)).toContain('policy="erasure"');
  });
});

describe('deploy/prometheus/alerts.yml', () => {
  it('watches only metrics the code emits', () => {
    const known = registeredMetrics();
    const rules = readFileSync(join(root, 'deploy/prometheus/alerts.yml'), 'utf8').replace(/^\s*#.*$/gm, '');
    for (const [name] of rules.matchAll(/retention_[a-z_]+/g)) expect(known.has(name.replace(/_(bucket|sum|count)$/, '')), name).toBe(true);
  });
});
