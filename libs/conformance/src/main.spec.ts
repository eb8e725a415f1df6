import { generateSigningKeyPair } from '@retention/contracts';
import { describe, expect, it } from 'vitest';
import { main } from './main';
import { formatReport } from './report';

function io(env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), env } };
}

const argv = (...args: string[]) => ['node', 'retention-conformance', ...args];

describe('retention-conformance command line', () => {
  it('refuses to run without the coordinator key, naming what is missing (exit 2, nothing published)', async () => {
    const t = io({ KAFKA_BROKERS: '127.0.0.1:1' });
    expect(await main(argv('--service', 'billing', '--subject-type', 'customer', '--subject', 'a', '--subject', 'b'), t.io)).toBe(2);
    expect(t.err.join('\n')).toMatch(/coordinator's signing key is needed/);
  });

  it('refuses one subject, a bad service name, and no brokers at once', async () => {
    const t = io({ RETENTION_COORDINATOR_SIGNING_KEY: generateSigningKeyPair().privateKey, RETENTION_COORDINATOR_SIGNING_KEY_ID: 'coordinator-1' });
    expect(await main(argv('--service', 'Billing!', '--subject-type', 'customer', '--subject', 'a'), t.io)).toBe(2);
    const message = t.err.join('\n');
    expect(message).toMatch(/brokers: at least one/);
    expect(message).toMatch(/service: "Billing!"/);
    expect(message).toMatch(/subjects: two ids are needed/);
  });

  it('refuses an unknown scenario name (commander) and a key that is not Ed25519', async () => {
    const t = io({ KAFKA_BROKERS: '127.0.0.1:1', RETENTION_COORDINATOR_SIGNING_KEY: 'abc', RETENTION_COORDINATOR_SIGNING_KEY_ID: 'c' });
    const base = ['--service', 'billing', '--subject-type', 'customer', '--subject', 'a', '--subject', 'b'];
    expect(await main(argv(...base, '--scenario', 'teleport'), t.io)).toBe(2);
    expect(await main(argv(...base), t.io)).toBe(2);
    expect(t.err.join('\n')).toMatch(/must be an Ed25519 private key/);
  });

  it('reports each scenario with PASS or FAIL and what is wrong', () => {
    const text = formatReport({
      service: 'billing',
      ok: false,
      results: [
        { name: 'registration', title: '', ok: true, detail: 'version 1', durationMs: 1200 },
        { name: 'legal-hold', title: '', ok: false, detail: 'acked completed, expected held', durationMs: 300 },
      ],
    });
    expect(text.split('\n')).toEqual([
      'PASS  registration  version 1 (1.2 s)',
      'FAIL  legal-hold    acked completed, expected held (0.3 s)',
      'billing: 1 of 2 scenarios conform; 1 do not',
    ]);
  });
});
