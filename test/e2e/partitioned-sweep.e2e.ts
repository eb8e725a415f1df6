import { analyticsService } from '@retention/service-analytics';
import { waitFor } from '@retention/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform, TOKENS } from './support';

const DAY = 86_400_000;

/** The 15th of the month `back` months before `now`, at noon UTC: well inside that month's partition. */
const midMonth = (now: Date, back: number): Date => new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - back, 15, 12));

/**
 * Issue 13, partition-aware sweeps on the real stack: the analytics service's `analytics_events`
 * is range-partitioned by month (its migration). A sweep requested through the coordinator's API
 * drops every month wholly past the 13-month period, keeps the month holding a row under a subject
 * hold (its other rows deleted in batches), deletes the rows of the month straddling the cutoff in
 * batches; the dry run before it names the same partitions and changes nothing; the ack and the
 * service's audit rows count every row exactly.
 */
describe('partitioned sweep, end to end', () => {
  let platform: Platform;

  beforeAll(async () => {
    platform = await startPlatform([analyticsService], { coordinatorEnv: { SWEEP_MISFIRE_GRACE_SECONDS: '0' } });
  });

  afterAll(async () => {
    await platform?.stop();
  });

  const db = () => platform.services.get('analytics')!.dataSource;
  const partitions = async (): Promise<string[]> =>
    (
      (await db().query(
        `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'analytics_events'::regclass ORDER BY 1`,
      )) as Array<{ relname: string }>
    ).map((r) => r.relname);
  const partitionOf = async (id: string): Promise<string> =>
    ((await db().query(`SELECT tableoid::regclass::text AS p FROM analytics_events WHERE id = $1`, [id])) as Array<{ p: string }>)[0]!.p;

  async function addEvent(user: string, at: Date): Promise<string> {
    const [row] = (await db().query(`INSERT INTO analytics_events (user_id, event_type, occurred_at) VALUES ($1, 'page_view', $2) RETURNING id`, [
      user,
      at,
    ])) as Array<{ id: string }>;
    return row!.id;
  }

  async function sweep(dryRun: boolean): Promise<any> {
    const created = await platform.api('POST', '/v1/sweeps', { token: TOKENS.admin, body: { service: 'analytics', dryRun } });
    expect(created.status).toBe(202);
    return waitFor(`sweep ${created.body.id}`, async () => {
      const { body } = await platform.api('GET', `/v1/sweeps/${created.body.id}`, { token: TOKENS.admin });
      return ['completed', 'failed'].includes(body.status) ? body : undefined;
    });
  }

  it('drops the expired months, keeps the one with a held row, deletes the rest in batches; the dry run says so first', async () => {
    await db().query('DELETE FROM analytics_events');
    const now = new Date();
    const old = [await addEvent('u1', midMonth(now, 20)), await addEvent('u2', midMonth(now, 20)), await addEvent('u3', midMonth(now, 20))];
    const held = await addEvent('keep-me', midMonth(now, 18));
    const heldMonthOther = await addEvent('u4', midMonth(now, 18));
    // One day before the 13-month cutoff: due, in the month that straddles it (or an earlier one).
    const cutoff = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 13, now.getUTCDate(), now.getUTCHours()));
    const edge = await addEvent('u5', new Date(cutoff.getTime() - DAY));
    const kept = [await addEvent('u6', new Date(cutoff.getTime() + 2 * DAY)), await addEvent('u7', now)];

    const oldMonth = await partitionOf(old[0]!);
    const heldMonth = await partitionOf(held);
    expect(oldMonth).toMatch(/^analytics_events_\d{4}_\d{2}$/);
    // Every month before the cutoff's month is dropped, the empty ones too (the migration made 36 months back).
    const before = await partitions();
    const cutoffMonth = `analytics_events_${cutoff.getUTCFullYear()}_${String(cutoff.getUTCMonth() + 1).padStart(2, '0')}`;
    const expired = before.filter((p) => /_\d{4}_\d{2}$/.test(p) && p < cutoffMonth && p !== heldMonth);

    const hold = await platform.api('POST', '/v1/legal-holds', {
      token: TOKENS.admin,
      body: { scope: 'subject', subject: { type: 'user', id: 'keep-me' }, reason: 'litigation 2026-17' },
    });
    expect(hold.status).toBe(201);

    const expected = {
      table: 'analytics_events',
      policy: 'product_events',
      action: 'delete',
      matched: 6,
      deleted: 5,
      anonymized: 0,
      archived: 0,
      held: 1,
      partitions: { dropped: expired, detached: [], kept: [heldMonth] },
    };
    const dry = await sweep(true);
    expect(dry.status).toBe('completed');
    const dryTables = dry.targets.find((t: any) => t.service === 'analytics').tables;
    expect(dryTables).toEqual([{ ...expected, partitions: { ...expected.partitions, dropped: expect.arrayContaining(expired) } }]);
    expect(dryTables[0].partitions.dropped).toHaveLength(expired.length);
    expect(await partitions()).toEqual(before);
    expect(await db().query('SELECT count(*)::int AS n FROM analytics_events')).toEqual([{ n: 8 }]);

    const real = await sweep(false);
    expect(real.status).toBe('completed');
    const tables = real.targets.find((t: any) => t.service === 'analytics').tables;
    expect(tables).toEqual([{ ...expected, partitions: { ...expected.partitions, dropped: expect.arrayContaining(expired) } }]);

    const after = await partitions();
    for (const p of expired) expect(after).not.toContain(p);
    expect(after).toContain(heldMonth);
    expect(after).toContain('analytics_events_default');
    const left = ((await db().query('SELECT id FROM analytics_events ORDER BY id')) as Array<{ id: string }>).map((r) => r.id);
    expect(left.sort()).toEqual([held, ...kept].sort());
    expect(left).not.toContain(heldMonthOther);
    expect(left).not.toContain(edge);

    // The service's audit rows add up to the ack, one row per dropped partition among them.
    const audit = (await db().query(`SELECT deleted, held, dry_run FROM retention_audit WHERE request_id = $1 ORDER BY id`, [real.id])) as Array<{
      deleted: number;
      held: number;
      dry_run: boolean;
    }>;
    expect(audit.reduce((n, a) => n + a.deleted, 0)).toBe(5);
    expect(audit.every((a) => !a.dry_run)).toBe(true);
    expect(audit[0]).toMatchObject({ deleted: 3 });

    // Released: the month that was kept for the hold now goes whole (its last row counted first).
    expect((await platform.api('DELETE', `/v1/legal-holds/${hold.body.id}`, { token: TOKENS.admin })).status).toBe(200);
    const released = await sweep(false);
    const again = released.targets.find((t: any) => t.service === 'analytics').tables[0];
    expect(again).toMatchObject({ deleted: 1, held: 0 });
    expect(await db().query('SELECT count(*)::int AS n FROM analytics_events')).toEqual([{ n: 2 }]);
    expect(await partitions()).not.toContain(heldMonth);
  });
});
