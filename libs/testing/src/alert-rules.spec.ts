import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const rulesFile = join(root, 'deploy/prometheus/alerts.yml');
const rules = readFileSync(rulesFile, 'utf8');

function promtool(): string | undefined {
  try {
    return execFileSync('which', ['promtool'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Each `- alert:` block of the rules file, as text (the file is plain block YAML, one rule per item). */
function alertBlocks(): Map<string, string> {
  const blocks = new Map<string, string>();
  for (const part of rules.split(/\n(?= *- alert: )/).slice(1)) {
    const name = /- alert: (\w+)/.exec(part)![1]!;
    blocks.set(name, part);
  }
  return blocks;
}

describe('deploy/prometheus/alerts.yml', () => {
  it('names a runbook section of docs/operations.md for every alert, and that section exists', () => {
    const anchors = new Set(
      [...readFileSync(join(root, 'docs/operations.md'), 'utf8').matchAll(/^#+ (.+)$/gm)].map((m) =>
        m[1]!
          .trim()
          .toLowerCase()
          .replace(/[^a-z0-9 -]/g, '')
          .replace(/ /g, '-'),
      ),
    );
    const blocks = alertBlocks();
    expect(blocks.size).toBeGreaterThanOrEqual(9);
    for (const [name, block] of blocks) {
      const anchor = /runbook: docs\/operations\.md#([a-z0-9-]+)/.exec(block)?.[1];
      expect(anchor, name).toBeDefined();
      expect(anchors.has(anchor!), `${name} → #${anchor}`).toBe(true);
    }
  });

  it('RetentionDeadLetters watches retention_dead_letters_total, by process, consumer and reason', () => {
    const block = alertBlocks().get('RetentionDeadLetters')!;
    expect(block).toContain('increase(retention_dead_letters_total[1h])');
    expect(block).toContain('sum by (service, consumer, reason)');
    expect(block).toContain('runbook: docs/operations.md#retentiondeadletters');
  });

  it('has promtool unit tests (alerts.test.yml) that expect every alert to fire, and not to fire', () => {
    const tests = readFileSync(join(root, 'deploy/prometheus/alerts.test.yml'), 'utf8');
    for (const name of alertBlocks().keys()) {
      const cases = [...tests.matchAll(new RegExp(`alertname: ${name}\\n\\s+exp_alerts:(.*)`, 'g'))].map((m) => m[1]!.trim());
      expect(cases, `${name}: a case where it stays silent`).toContain('[]');
      expect(cases, `${name}: a case where it fires`).toContain('');
    }
  });

  it('absence is judged per service: expected services come from the coordinator, not one absent() over all', () => {
    const blocks = alertBlocks();
    expect(blocks.get('RetentionServiceMissing')).toContain('max by (target) (retention_pending_acks)');
    expect(blocks.get('RetentionGaugeMissing')).toContain('max by (target) (retention_pending_acks)');
    expect(blocks.get('RetentionGaugeMissing')).not.toContain('absent(retention_oldest_unprocessed_days)');
    expect(blocks.get('RetentionOutboxStuck')).toContain('max by (service) (retention_outbox_oldest_seconds)');
  });

  // promtool parses the file and its PromQL, and runs the alert unit tests in alerts.test.yml
  // (Debian package `prometheus`, which scripts/test.sh installs when missing). Without it this test
  // fails: a check that cannot run is not a check that passed.
  it('parses with promtool and passes its unit tests (alerts.test.yml)', () => {
    const tool = promtool();
    if (!tool) throw new Error('promtool not found: install Debian package prometheus (scripts/test.sh does when run as root)');
    expect(execFileSync(tool, ['check', 'rules', rulesFile], { encoding: 'utf8' })).toMatch(/SUCCESS: \d+ rules found/);
    expect(execFileSync(tool, ['test', 'rules', join(root, 'deploy/prometheus/alerts.test.yml')], { encoding: 'utf8' })).toContain('SUCCESS');
  });
});
