import { describe, expect, it } from 'vitest';
import { entryHash, GENESIS_HASH } from './ledger.repository';
import { canonicalJson } from './canonical-json';

describe('ledger hashing', () => {
  it('is independent of key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}');
  });

  it('changes when any field changes', () => {
    const base = { seq: 1, requestId: 'r', type: 'ack.received', service: 's', createdAt: '2026-01-01T00:00:00.000Z', body: { deleted: 3 } };
    const h = entryHash(GENESIS_HASH, base);
    expect(entryHash(GENESIS_HASH, { ...base, body: { deleted: 4 } })).not.toBe(h);
    expect(entryHash(GENESIS_HASH, { ...base, seq: 2 })).not.toBe(h);
    expect(entryHash('1'.repeat(64), base)).not.toBe(h);
    expect(entryHash(GENESIS_HASH, { ...base, body: { deleted: 3 } })).toBe(h);
  });
});
