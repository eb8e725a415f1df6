import { ConfigError } from '@retention/contracts';
import { describe, expect, it } from 'vitest';
import { parsePolicyFile } from './policy-file';

const YAML = `
service: billing
version: "3"
subjects:
  user: { table: page_views, column: user_id }
rules:
  - name: page_views
    table: page_views
    timestampColumn: viewed_at
    retention: { days: 30 }
    action: delete
    legalBasis: Legitimate interest
`;

const refusal = (run: () => unknown): ConfigError => {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('was accepted');
};

describe('policy file', () => {
  it('reads YAML into the SDK policy model, with its defaults', () => {
    const { policies, version } = parsePolicyFile(YAML);
    expect(version).toBe('3');
    expect(policies.service).toBe('billing');
    expect(policies.subjects).toEqual({ user: [{ table: 'page_views', column: 'user_id', action: 'delete' }] });
    expect(policies.rules[0]).toMatchObject({ name: 'page_views', batchSize: 1000, conditions: [] });
  });

  it('reads JSON the same way, and takes the service name from the environment', () => {
    const json = JSON.stringify({ rules: [{ name: 'x', table: 't', timestampColumn: 'at', retention: { days: 5 }, action: 'delete', legalBasis: 'why not' }] });
    const { policies, version } = parsePolicyFile(json, { serviceName: 'billing' });
    expect(policies.service).toBe('billing');
    expect(version).toBe('1');
  });

  it('refuses a service name that disagrees with the environment, or none at all', () => {
    expect(refusal(() => parsePolicyFile(YAML, { serviceName: 'crm' })).issues).toEqual([
      { path: 'service', message: 'is "billing" but RETENTION_SERVICE_NAME is "crm"' },
    ]);
    expect(refusal(() => parsePolicyFile('rules: []')).issues[0]).toMatchObject({ path: 'service' });
  });

  it('names the line of a YAML error and refuses duplicate keys', () => {
    const broken = refusal(() => parsePolicyFile('service: billing\nrules: [\n', { origin: 'retention.yaml' }));
    expect(broken.message).toContain('retention.yaml is not valid YAML or JSON');
    expect(broken.issues[0]!.path).toMatch(/^line \d+, column \d+$/);
    expect(refusal(() => parsePolicyFile('service: a\nservice: b\n')).issues[0]!.message).toMatch(/unique/i);
  });

  it('applies the same validation as definePolicies (same rules, same messages)', () => {
    const bad = refusal(() => parsePolicyFile(YAML.replace('strategy', '').replace('action: delete', 'action: shred')));
    expect(bad.issues).toEqual([expect.objectContaining({ path: 'rules.0.action' })]);
    expect(refusal(() => parsePolicyFile(YAML.replace('{ days: 30 }', '{ days: 0 }'))).issues[0]!.path).toBe('rules.0.retention');
    expect(refusal(() => parsePolicyFile('- a\n- b\n')).message).toContain('must hold an object');
    expect(refusal(() => parsePolicyFile(YAML.replace('"3"', '3'))).issues).toEqual([{ path: 'version', message: expect.any(String) }]);
  });
});
