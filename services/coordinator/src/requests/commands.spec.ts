import { decodeEvent, EventTypes, topicNames } from '@retention/contracts';
import { describe, expect, it } from 'vitest';
import { buildCommand, type StoredRequest } from './commands';

const now = new Date('2026-06-15T12:00:00.000Z');
const sweep = (asOf: Date | null): StoredRequest => ({
  id: '0b6d3c1e-8c1c-4b7e-9d55-2f0c6f1a9e11',
  kind: 'sweep',
  dryRun: false,
  subjectType: null,
  subjectId: null,
  subjectRef: null,
  serviceFilter: 'sessions',
  policyFilter: null,
  asOf,
  createdAt: new Date('2026-06-15T11:00:00.000Z'),
  dueAt: new Date('2026-06-16T11:00:00.000Z'),
  holds: [],
  traceHeaders: {},
});

function asOfSent(request: StoredRequest): string {
  const { message } = buildCommand(request, ['sessions'], 2, topicNames(''), now);
  const decoded = decodeEvent(message.value!, [EventTypes.sweepRequested]);
  if (!decoded.ok || decoded.event.type !== EventTypes.sweepRequested) throw new Error('not a sweep command');
  return decoded.event.data.asOf;
}

describe('sweep commands', () => {
  it('carry the stored asOf (or the creation time)', () => {
    expect(asOfSent(sweep(new Date('2026-06-15T10:00:00.000Z')))).toBe('2026-06-15T10:00:00.000Z');
    expect(asOfSent(sweep(null))).toBe('2026-06-15T11:00:00.000Z');
  });

  it('never carry a future asOf, even when the stored request says so (a row altered in the database)', () => {
    expect(asOfSent(sweep(new Date('2100-01-01T00:00:00.000Z')))).toBe(now.toISOString());
  });
});
