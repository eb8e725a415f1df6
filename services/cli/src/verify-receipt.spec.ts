import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ErasureReceipt, generateSigningKeyPair, ledgerEntryHash, parsePrivateKey, signReceipt, type SigningKey } from '@retention/contracts';
import { buildTestReceipt } from '@retention/testing';
import { describe, expect, it } from 'vitest';
import { main } from './main';

const pair = generateSigningKeyPair();
const key: SigningKey = { keyId: 'coordinator-1', privateKey: parsePrivateKey(pair.privateKey, 'test') };
const dir = mkdtempSync(join(tmpdir(), 'receipt-'));
const noApi = { call: () => Promise.reject(new Error('verify-receipt must not call the API')) };

async function check(receipt: unknown, publicKey = `coordinator-1=${pair.publicKey}`): Promise<{ code: number; out: string; err: string }> {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, typeof receipt === 'string' ? receipt : JSON.stringify(receipt, null, 2));
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['node', 'retention', '--json', 'verify-receipt', file, '--public-key', publicKey], {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    env: {},
    sleep: async () => {},
    client: noApi,
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const clone = (r: ErasureReceipt): ErasureReceipt => structuredClone(r);
const resign = (r: ErasureReceipt): ErasureReceipt => {
  const { keyId: _k, signature: _s, ...unsigned } = r;
  return signReceipt(key, unsigned);
};
/** Index of the receipt's entry of `type` (for `service`). */
const entryIndex = (r: ErasureReceipt, type: string, service?: string): number =>
  r.entries.findIndex((e) => e.type === type && (!service || e.service === service));

describe('retention verify-receipt', () => {
  const receipt = buildTestReceipt(key, { otherEntriesBefore: 6, otherEntriesAfter: 9 });

  it('accepts an intact receipt, offline, with the key as keyId=key, bare, or in a file', async () => {
    const ok = await check(receipt);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ ok: true, problems: [], summary: { requestId: receipt.request.id, targets: 2, entries: 5 } });
    expect((await check(receipt, pair.publicKey)).code).toBe(0);
    const keyFile = join(dir, 'coordinator.pub');
    writeFileSync(keyFile, `${pair.publicKey}\n`);
    expect((await check(receipt, keyFile)).code).toBe(0);
  });

  // Each field changed after signing, as someone holding the file (not the key) would: refused, naming what failed.
  const tamperings: Array<[string, (r: ErasureReceipt) => void, string[]]> = [
    ['request.id', (r) => void (r.request.id = '00000000-0000-4000-8000-000000000000'), ['receipt_signature', 'inconsistent']],
    ['request.subjectRef', (r) => void (r.request.subjectRef = 'cd'.repeat(32)), ['receipt_signature', 'inconsistent']],
    ['request.subjectType', (r) => void (r.request.subjectType = 'customer'), ['receipt_signature', 'inconsistent']],
    ['request.createdAt', (r) => void (r.request.createdAt = '2026-11-01T00:00:00.000Z'), ['receipt_signature', 'inconsistent']],
    ['request.dueAt', (r) => void (r.request.dueAt = '2027-11-01T00:00:00.000Z'), ['receipt_signature', 'inconsistent']],
    ['request.completedAt', (r) => void (r.request.completedAt = '2026-11-02T09:00:00.000Z'), ['receipt_signature', 'inconsistent']],
    ['targets[].status', (r) => void (r.targets[0]!.status = 'not_applicable'), ['receipt_signature', 'inconsistent']],
    ['targets[].tables counts', (r) => void (r.targets[0]!.tables[0]!.anonymized += 1), ['receipt_signature', 'inconsistent']],
    ['targets[].holdIds', (r) => void r.targets[1]!.holdIds.push('hold-1'), ['receipt_signature', 'inconsistent']],
    ['targets[].policyHash', (r) => void (r.targets[1]!.policyHash = 'other'), ['receipt_signature', 'inconsistent']],
    ['targets[].ackedAt', (r) => void (r.targets[1]!.ackedAt = '2026-11-02T10:00:09.000Z'), ['receipt_signature', 'inconsistent']],
    ['a target removed', (r) => void r.targets.pop(), ['receipt_signature', 'inconsistent']],
    [
      'entries[].body',
      (r) => void ((r.entries[entryIndex(r, 'ack.received', 'orders')]!.body.tables as Array<{ deleted: number }>)[0]!.deleted = 9),
      ['receipt_signature', 'entry_hash', 'inconsistent'],
    ],
    ['entries[].type', (r) => void (r.entries[entryIndex(r, 'command.sent')]!.type = 'request.failed'), ['receipt_signature', 'entry_hash']],
    ['entries[].createdAt', (r) => void (r.entries[0]!.createdAt = '2026-11-02T11:00:00.000Z'), ['receipt_signature', 'entry_hash', 'inconsistent']],
    ['entries[].seq', (r) => void (r.entries[1]!.seq += 1), ['receipt_signature', 'entry_hash', 'inclusion_proof']],
    ['entries[].prevHash', (r) => void (r.entries[1]!.prevHash = 'ef'.repeat(32)), ['receipt_signature', 'entry_hash']],
    [
      'entries[].body with its hash recomputed',
      (r) => {
        const e = r.entries[entryIndex(r, 'request.created')]!;
        e.body.subjectRef = 'cd'.repeat(32);
        e.hash = ledgerEntryHash(e.prevHash, e);
      },
      ['receipt_signature', 'inclusion_proof', 'inconsistent'],
    ],
    ['entries[].auditPath', (r) => void (r.entries[2]!.auditPath[1] = '00'.repeat(32)), ['receipt_signature', 'inclusion_proof']],
    ['entries[].auditPath shortened', (r) => void r.entries[2]!.auditPath.pop(), ['receipt_signature', 'inclusion_proof']],
    ['an entry removed', (r) => void r.entries.splice(entryIndex(r, 'request.completed'), 1), ['receipt_signature', 'inconsistent']],
    ['checkpoint.treeSize', (r) => void (r.checkpoint.treeSize += 1), ['receipt_signature', 'checkpoint_signature']],
    ['checkpoint.rootHash', (r) => void (r.checkpoint.rootHash = '11'.repeat(32)), ['receipt_signature', 'checkpoint_signature', 'inclusion_proof']],
    ['checkpoint.lastEntryHash', (r) => void (r.checkpoint.lastEntryHash = '11'.repeat(32)), ['receipt_signature', 'checkpoint_signature']],
    ['checkpoint.timestamp', (r) => void (r.checkpoint.timestamp = '2030-01-01T00:00:00.000Z'), ['receipt_signature', 'checkpoint_signature']],
    ['checkpoint.signature', (r) => void (r.checkpoint.signature = r.signature), ['receipt_signature', 'checkpoint_signature']],
    ['issuedAt', (r) => void (r.issuedAt = '2030-01-01T00:00:00.000Z'), ['receipt_signature']],
    ['keyId', (r) => void (r.keyId = 'someone-else'), ['receipt_signature']],
    ['signature', (r) => void (r.signature = r.checkpoint.signature), ['receipt_signature']],
  ];
  for (const [field, tamper, codes] of tamperings) {
    it(`refuses a receipt whose ${field} was changed, naming ${codes.join(', ')}`, async () => {
      const r = clone(receipt);
      tamper(r);
      const result = await check(r);
      expect(result.code).toBe(3);
      const found = new Set((JSON.parse(result.out) as { problems: Array<{ code: string }> }).problems.map((p) => p.code));
      expect([...found].sort()).toEqual([...codes].sort());
      for (const code of codes) expect(result.err).toContain(`receipt: ${code}`);
    });
  }

  // The same lies signed again (a key holder, or a coordinator bug): the proven entries still contradict them.
  const resigned: Array<[string, (r: ErasureReceipt) => void, string]> = [
    ['counts', (r) => void (r.targets[0]!.tables[0]!.anonymized += 1), 'targets[orders].tables'],
    ['subject', (r) => void (r.request.subjectRef = 'cd'.repeat(32)), 'request.subjectRef'],
    ['completion time', (r) => void (r.request.completedAt = '2026-11-02T09:00:00.000Z'), 'request.completedAt'],
    ['status', (r) => void (r.targets[1]!.status = 'held'), 'targets[sessions].status'],
    ['missing completion', (r) => void r.entries.splice(entryIndex(r, 'request.completed'), 1), 'entries'],
    ['missing target', (r) => void r.targets.pop(), 'targets'],
  ];
  for (const [what, tamper, path] of resigned) {
    it(`refuses a re-signed receipt whose ${what} the ledger entries contradict`, async () => {
      const r = clone(receipt);
      tamper(r);
      const result = await check(resign(r));
      expect(result.code).toBe(3);
      expect(JSON.parse(result.out).problems).toEqual([expect.objectContaining({ code: 'inconsistent', path })]);
    });
  }

  it('refuses with another public key, a file that is not a receipt, or not JSON', async () => {
    const other = generateSigningKeyPair().publicKey;
    const wrongKey = await check(receipt, `coordinator-1=${other}`);
    expect(wrongKey.code).toBe(3);
    expect(
      JSON.parse(wrongKey.out)
        .problems.map((p: { code: string }) => p.code)
        .sort(),
    ).toEqual(['checkpoint_signature', 'receipt_signature']);
    const unknownField = await check({ ...receipt, note: 'x' });
    expect(unknownField.code).toBe(3);
    expect(unknownField.err).toContain('receipt: malformed');
    expect((await check('{not json')).err).toContain('the file is not JSON');
  });

  it('is bad usage (exit 2) without a readable file or a usable key', async () => {
    const run = (argv: string[]) => main(['node', 'retention', ...argv], { out: () => {}, err: () => {}, env: {}, sleep: async () => {}, client: noApi });
    expect(await run(['verify-receipt', join(dir, 'missing.json'), '--public-key', pair.publicKey])).toBe(2);
    const file = join(dir, 'r.json');
    writeFileSync(file, JSON.stringify(receipt));
    expect(await run(['verify-receipt', file, '--public-key', 'not-a-key'])).toBe(2);
    expect(await run(['verify-receipt', file])).toBe(2);
  });
});
