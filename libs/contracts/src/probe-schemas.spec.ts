import { describe, expect, it } from 'vitest';
import { decodeEvent, encodeEvent, EventTypes } from './envelope';
import { UnsupportedVersionError, ValidationError } from './errors';

const requestId = '0b6d3c1e-8c1c-4b7e-9d55-2f0c6f1a9e11';
const hash = 'a'.repeat(64);
const probe = {
  probeId: '5d3f2a10-1b2c-4d5e-8f90-123456789abc',
  requestedAt: '2026-11-01T00:00:00.000Z',
  targets: ['sessions'],
  trigger: 'completion' as const,
  items: [{ requestId, subjectType: 'user', subjectHash: hash }],
};

describe('probe.requested and probe.result', () => {
  it('round-trip, and a 1.0 ack (no subjectHash) still decodes as ack 1.1 does', () => {
    const { value } = encodeEvent(EventTypes.probeRequested, probe, { source: '/test' });
    const decoded = decodeEvent(value, [EventTypes.probeRequested]);
    expect(decoded.ok && decoded.event.data).toEqual(probe);
    const result = {
      probeId: probe.probeId,
      service: 'sessions',
      startedAt: '2026-11-01T00:00:01.000Z',
      finishedAt: '2026-11-01T00:00:02.000Z',
      items: [{ requestId, status: 'found' as const, remaining: 2, held: 0, tables: [{ table: 'sessions', remaining: 2, held: 0 }] }],
    };
    expect(decodeEvent(encodeEvent(EventTypes.probeResult, result, { source: '/test' }).value).ok).toBe(true);
  });

  it('carries no subject id: an id where a keyed hash belongs is refused, naming the field', () => {
    expect(() =>
      encodeEvent(EventTypes.probeRequested, { ...probe, items: [{ requestId, subjectType: 'user', subjectHash: 'alice@example.com' }] }, { source: '/t' }),
    ).toThrow(ValidationError);
    const error = (() => {
      try {
        encodeEvent(EventTypes.probeRequested, { ...probe, items: [{ requestId, subjectType: 'user', subjectHash: 'alice' }] }, { source: '/t' });
      } catch (e) {
        return e as ValidationError;
      }
      return undefined;
    })();
    expect(error?.issues).toEqual([{ path: 'data.items.0.subjectHash', message: 'must be 64 lowercase hex digits (HMAC-SHA256)' }]);
  });

  it('is an unsupported type to a consumer that accepts only erasure and sweep commands (an older service dead-letters it and goes on)', () => {
    const { value } = encodeEvent(EventTypes.probeRequested, probe, { source: '/test' });
    const decoded = decodeEvent(value, [EventTypes.erasureRequested, EventTypes.sweepRequested]);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.error).toBeInstanceOf(UnsupportedVersionError);
  });
});
