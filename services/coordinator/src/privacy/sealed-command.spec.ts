import { randomBytes } from 'node:crypto';
import { commandSubjectAad, decodeEvent, EventTypes, openWith, SealError, topicNames } from '@retention/contracts';
import { describe, expect, it } from 'vitest';
import { buildCommand, type StoredRequest, toStoredRequest } from '../requests/commands';
import { createSubjectVault } from './subject-vault';

const now = new Date('2026-06-15T12:00:00.000Z');
const key = { keyId: 'ck-test', key: randomBytes(32) };
const erasure: StoredRequest = {
  id: '0b6d3c1e-8c1c-4b7e-9d55-2f0c6f1a9e11',
  kind: 'erasure',
  dryRun: false,
  subjectType: 'user',
  subjectId: 'jane@example.com',
  subjectRef: 'ref',
  serviceFilter: null,
  policyFilter: null,
  asOf: null,
  createdAt: now,
  dueAt: now,
  holds: [],
  traceHeaders: {},
};

describe('erasure commands', () => {
  it('carry the subject id sealed with the command key, never in clear (erasure.requested 2.0)', () => {
    const { message } = buildCommand(erasure, ['orders'], 1, topicNames(''), now, key);
    expect(message.value).not.toContain('jane');
    const decoded = decodeEvent(message.value!, [EventTypes.erasureRequested]);
    if (!decoded.ok || decoded.event.type !== EventTypes.erasureRequested) throw new Error('not an erasure');
    expect(decoded.event.dataschema).toBe('urn:retention:schema:retention.erasure.requested:2.0');
    const sealed = decoded.event.data.subject.sealedId!;
    expect(sealed.keyId).toBe('ck-test');
    expect(openWith(() => key.key, sealed, commandSubjectAad(erasure.id, 'user'))).toBe('jane@example.com');
    // Bound to its request: moved into another command it does not open.
    expect(() => openWith(() => key.key, sealed, commandSubjectAad('another', 'user'))).toThrow(SealError);
    // A destroyed key opens nothing.
    expect(() => openWith(() => undefined, sealed, commandSubjectAad(erasure.id, 'user'))).toThrow(/unknown or destroyed/);
  });

  it('refuse to be built without a command key', () => {
    expect(() => buildCommand(erasure, ['orders'], 1, topicNames(''), now)).toThrow(TypeError);
  });
});

describe('subject ids at rest', () => {
  const vault = createSubjectVault('a-test-hmac-key-of-16+');
  it('are sealed per row and opened by toStoredRequest', () => {
    const stored = vault.seal('request', erasure.id, 'jane@example.com');
    expect(stored).toMatch(/^sealed:v1:/);
    expect(stored).not.toContain('jane');
    const row = {
      id: erasure.id,
      kind: 'erasure' as const,
      dry_run: false,
      subject_type: 'user',
      subject_id: stored,
      subject_ref: 'ref',
      service_filter: null,
      policy_filter: null,
      as_of: null,
      created_at: now,
      due_at: now,
      hold_snapshot: [],
      trace_headers: {},
    };
    expect(toStoredRequest(row, vault).subjectId).toBe('jane@example.com');
    expect(() => vault.open('request', 'another-row', stored)).toThrow();
    expect(vault.open('hold', erasure.id, null)).toBeNull();
  });
});
