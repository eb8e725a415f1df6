import { describe, expect, it } from 'vitest';
import { decodeEvent, encodeEvent, EventTypes } from './envelope';
import { UnsupportedVersionError, ValidationError } from './errors';

const erasure = {
  requestId: '0b6d3c1e-8c1c-4b7e-9d55-2f0c6f1a9e11',
  subject: { type: 'user', sealedId: { keyId: 'ck-1', iv: 'AAAAAAAAAAAAAAAA', ciphertext: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } },
  requestedAt: '2026-11-01T00:00:00.000Z',
  dueAt: '2026-12-01T00:00:00.000Z',
};
/** What a 1.x coordinator sent: the subject id in clear. */
const erasureV1 = { ...erasure, subject: { type: 'user', id: 'demo-1' } };
const v1Command = (data: unknown, version = '1.0'): string =>
  JSON.stringify({
    specversion: '1.0',
    id: 'kcat-1',
    type: 'retention.erasure.requested',
    source: 'kcat',
    time: '2026-11-01T00:00:00Z',
    dataschema: `urn:retention:schema:retention.erasure.requested:${version}`,
    data,
  });

describe('event envelope', () => {
  it('round-trips an erasure command with defaults applied', () => {
    const { value, envelope } = encodeEvent(EventTypes.erasureRequested, erasure, { source: '/test' });
    expect(envelope.dataschema).toBe('urn:retention:schema:retention.erasure.requested:2.0');
    const decoded = decodeEvent(value, [EventTypes.erasureRequested]);
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    expect(decoded.event.type).toBe(EventTypes.erasureRequested);
    expect(decoded.event.data).toEqual({ ...erasure, dryRun: false, targets: [], attempt: 1, holds: [] });
  });

  it('accepts a hand-written 1.x command from another client with a newer minor version and extra fields', () => {
    const decoded = decodeEvent(v1Command({ ...erasureV1, futureField: true }, '1.7'));
    expect(decoded.ok).toBe(true);
    if (decoded.ok && decoded.event.type === EventTypes.erasureRequested) expect(decoded.event.data.subject).toEqual({ type: 'user', id: 'demo-1' });
  });

  it('never writes a subject id in clear: 2.x needs the sealed id', () => {
    expect(() => encodeEvent(EventTypes.erasureRequested, erasureV1 as never, { source: '/t' })).toThrow(/data\.subject\.sealedId/);
  });

  it('names the offending field of an invalid payload', () => {
    const decoded = decodeEvent(v1Command({ ...erasureV1, subject: { type: 'user', id: '' } }));
    expect(decoded.ok).toBe(false);
    if (decoded.ok) return;
    expect(decoded.error).toBeInstanceOf(ValidationError);
    expect(decoded.error.message).toContain('data.subject.id');
    expect(decoded.error.retriable).toBe(false);
  });

  it('rejects an unknown major version and an unknown type with UnsupportedVersionError', () => {
    const { value } = encodeEvent(EventTypes.erasureRequested, erasure, { source: '/test' });
    const v3 = value.replace(':2.0"', ':3.0"');
    const decoded = decodeEvent(v3);
    expect(decoded.ok || decoded.error).toBeInstanceOf(UnsupportedVersionError);
    if (!decoded.ok) expect(decoded.error.message).toContain('major version 3');

    const other = decodeEvent(value, [EventTypes.ack]);
    expect(other.ok || other.error).toBeInstanceOf(UnsupportedVersionError);
  });

  it('rejects non-JSON, empty values and broken envelopes without throwing', () => {
    for (const raw of ['{not json', null, '{}', '[]', JSON.stringify({ specversion: '0.3' })]) {
      const decoded = decodeEvent(raw);
      expect(decoded.ok).toBe(false);
    }
  });

  it('refuses to encode invalid data', () => {
    expect(() => encodeEvent(EventTypes.erasureRequested, { ...erasure, subject: { ...erasure.subject, type: 'User!' } }, { source: '/t' })).toThrow(
      /data\.subject\.type/,
    );
  });

  it('requires the subject of a subject hold', () => {
    expect(() =>
      encodeEvent(
        EventTypes.holdPlaced,
        { holdId: 'h1', scope: 'subject', reasonRef: 'a'.repeat(64), placedBy: 'legal', placedAt: '2026-11-01T00:00:00Z' },
        { source: '/t' },
      ),
    ).toThrow(/data\.subject: required/);
  });
});
