import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { journalKeyFrom, subjectHash } from './subject-hash';

describe('subject hash of the deletion journal', () => {
  const key = journalKeyFrom('test-hash-key-0123456789');

  it('is HMAC-SHA256 of "<type>:<id>" under a key derived for the journal only (not the anonymization key)', () => {
    const derived = createHmac('sha256', 'test-hash-key-0123456789').update('retention-deletion-journal-v1').digest();
    expect(key.equals(derived)).toBe(true);
    expect(subjectHash(key, 'user', 'alice')).toBe(createHmac('sha256', derived).update('user:alice').digest('hex'));
    expect(subjectHash(key, 'user', 'alice')).not.toBe(createHmac('sha256', 'test-hash-key-0123456789').update('user:alice').digest('hex'));
  });

  it('separates types and keys, and hashes a uuid as PostgreSQL returns it (lowercase)', () => {
    expect(subjectHash(key, 'user', 'a')).not.toBe(subjectHash(key, 'customer', 'a'));
    expect(subjectHash(journalKeyFrom('another-key-0123456789'), 'user', 'a')).not.toBe(subjectHash(key, 'user', 'a'));
    expect(subjectHash(key, 'user', '0B6D3C1E-8C1C-4B7E-9D55-2F0C6F1A9E11')).toBe(subjectHash(key, 'user', '0b6d3c1e-8c1c-4b7e-9d55-2f0c6f1a9e11'));
    expect(subjectHash(key, 'user', 'Alice')).not.toBe(subjectHash(key, 'user', 'alice'));
  });

  it('hashes an integer as PostgreSQL returns it from an integer column (no leading zeros, no -0)', () => {
    expect(subjectHash(key, 'user', '0042')).toBe(subjectHash(key, 'user', '42'));
    expect(subjectHash(key, 'user', '-0')).toBe(subjectHash(key, 'user', '0'));
    expect(subjectHash(key, 'user', '-007')).toBe(subjectHash(key, 'user', '-7'));
    expect(subjectHash(key, 'user', '42')).not.toBe(subjectHash(key, 'user', '420'));
    // Beyond what an integer column holds: left as it is.
    expect(subjectHash(key, 'user', '0'.repeat(19) + '1')).not.toBe(subjectHash(key, 'user', '1'));
  });
});
