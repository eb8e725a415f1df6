import { topicNames } from '@retention/contracts';
import { createLogger, Registry } from '@retention/observability';
import { type BoundPolicies, CutoffInFutureError, definePolicies } from '@retention/policy';
import { Writable } from 'node:stream';
import type { DataSource } from 'typeorm';
import { describe, expect, it, vi } from 'vitest';
import { createCommandHandler } from './command.handler';
import { createRetentionMetrics } from './metrics';

const silent = createLogger({ service: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const now = new Date('2026-06-15T12:00:00.000Z');

/** A database that fails the test on any use: a refused sweep must not touch it (no inbox row). */
function untouchableDatabase(): DataSource {
  const fail = vi.fn(() => {
    throw new Error('the database must not be used');
  });
  return { query: fail, transaction: fail } as unknown as DataSource;
}

function handler(dataSource: DataSource, maxClockSkewMs?: number) {
  const policies = definePolicies({
    service: 'sessions',
    rules: [{ name: 'session_logs', table: 'sessions', timestampColumn: 'started_at', retention: { days: 90 }, action: 'delete', legalBasis: 'test' }],
  });
  return createCommandHandler({
    dataSource,
    bound: { policies, tables: new Map(), hashKey: 'k' } as BoundPolicies,
    topics: topicNames(''),
    logger: silent,
    metrics: createRetentionMetrics(new Registry()),
    onAckQueued: () => {},
    holdsCaughtUp: async () => {},
    maxClockSkewMs,
    now: () => now,
  });
}

const sweep = (asOf: string, extra: Record<string, unknown> = {}) => ({
  kind: 'sweep' as const,
  commandId: 'c-1',
  data: {
    requestId: '0b6d3c1e-8c1c-4b7e-9d55-2f0c6f1a9e11',
    dryRun: false,
    requestedAt: asOf,
    asOf,
    targets: [],
    attempt: 1,
    holds: [],
    ...extra,
  },
});

describe('command handler: sweeps as of the future', () => {
  it('refuses a sweep as of 2100 before touching the database, with cutoff_in_future', async () => {
    const db = untouchableDatabase();
    const refused = await handler(db)(sweep('2100-01-01T00:00:00.000Z')).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CutoffInFutureError);
    expect(refused).toMatchObject({ code: 'cutoff_in_future', retriable: false });
    expect(db.query).not.toHaveBeenCalled();
    expect(db.transaction).not.toHaveBeenCalled();
  });

  it('uses the configured skew: 10 minutes ahead is refused with the default 5, accepted with 15', async () => {
    const tenMinutesAhead = new Date(now.getTime() + 10 * 60_000).toISOString();
    await expect(handler(untouchableDatabase())(sweep(tenMinutesAhead))).rejects.toBeInstanceOf(CutoffInFutureError);
    // Accepted: the handler goes on to its inbox (here, the database that must not be used).
    await expect(handler(untouchableDatabase(), 15 * 60_000)(sweep(tenMinutesAhead))).rejects.toThrow('the database must not be used');
  });

  it('does not refuse a sweep meant for another service (it is ignored there, dead-lettered by the one it targets)', async () => {
    await expect(handler(untouchableDatabase())(sweep('2100-01-01T00:00:00.000Z', { targets: ['orders'] }))).resolves.toBe('ignored');
  });
});
