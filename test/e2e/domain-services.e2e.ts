import { createHash } from 'node:crypto';
import { analyticsService } from '@retention/service-analytics';
import { ordersService } from '@retention/service-orders';
import { sessionsService } from '@retention/service-sessions';
import { supportService } from '@retention/service-support';
import { waitFor } from '@retention/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Platform, startPlatform, TOKENS } from './support';

const MINUTE = 60_000;
const DAY = 86_400_000;

/** `at` minus a calendar period in UTC, the end of a month clamped (31 Mar - 1 month = 28/29 Feb). */
function minus(at: Date, period: { years?: number; months?: number; days?: number; ms?: number }): Date {
  const d = new Date(at.getTime());
  const months = (period.years ?? 0) * 12 + (period.months ?? 0);
  const day = d.getUTCDate();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() - months);
  d.setUTCDate(Math.min(day, new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate()));
  return new Date(d.getTime() - (period.days ?? 0) * DAY - (period.ms ?? 0));
}

const iso = (d: Date): string => d.toISOString();

/**
 * The orders, analytics and support services on the real broker and database, next to sessions:
 * an erasure reaches all four and each applies its own rule (anonymize the tax record, delete the
 * rest); a dry run reports the same counts and changes nothing; sweeps take exactly the rows past
 * each policy's cutoff, which is strict (a row exactly at the cutoff stays).
 */
describe('domain services: orders, analytics, support', () => {
  let platform: Platform;
  /** The coordinator's clock: real time unless a test pins it (sweeps take their cutoffs from it). */
  let pinnedClock: Date | undefined;

  beforeAll(async () => {
    platform = await startPlatform([sessionsService, ordersService, analyticsService, supportService], {
      now: () => pinnedClock ?? new Date(),
      // No scheduled sweep behind the tests' back (the nightly 03:00 slot would sweep the fixtures).
      coordinatorEnv: { SWEEP_MISFIRE_GRACE_SECONDS: '0' },
    });
  });

  afterAll(async () => {
    await platform?.stop();
  });

  const db = (service: string) => platform.services.get(service)!.dataSource;
  const hashOf = (id: string): string =>
    createHash('sha256')
      .update(`${platform.serviceConfigs.get('orders')!.RETENTION_HASH_KEY}:${id}`)
      .digest('hex');

  async function resetTables(): Promise<void> {
    await db('orders').query('DELETE FROM orders');
    await db('analytics').query('DELETE FROM analytics_events');
    await db('support').query('DELETE FROM support_tickets');
    await db('sessions').query('DELETE FROM sessions');
  }

  /** Every row of every domain table, to prove that a dry run changed nothing. */
  async function snapshot(): Promise<Record<string, unknown>> {
    const tables = [
      ['orders', 'orders'],
      ['analytics', 'analytics_events'],
      ['support', 'support_tickets'],
      ['sessions', 'sessions'],
    ] as const;
    const out: Record<string, unknown> = {};
    for (const [service, table] of tables) {
      const [row] = (await db(service).query(`SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.id), '[]'::jsonb) AS rows FROM ${table} t`)) as Array<{
        rows: unknown[];
      }>;
      out[table] = row!.rows;
    }
    return out;
  }

  async function addOrder(
    customerId: string,
    createdAt: Date,
    fields: { email?: string; phone?: string | null; amountCents?: number; anonymizedAt?: Date } = {},
  ): Promise<string> {
    const [row] = (await db('orders').query(
      `INSERT INTO orders (customer_id, customer_name, email, shipping_address, phone, amount_cents, currency, created_at, anonymized_at)
       VALUES ($1, $2, $3, $4, $5, $6, 'EUR', $7, $8) RETURNING id`,
      [
        customerId,
        `Name of ${customerId}`,
        fields.email ?? `${customerId}@example.org`,
        `1 Main Street, ${customerId}ville`,
        fields.phone === undefined ? '+49 30 1234567' : fields.phone,
        fields.amountCents ?? 1999,
        iso(createdAt),
        fields.anonymizedAt ? iso(fields.anonymizedAt) : null,
      ],
    )) as Array<{ id: string }>;
    return row!.id;
  }

  async function addEvent(userId: string, occurredAt: Date): Promise<string> {
    const [row] = (await db('analytics').query(
      `INSERT INTO analytics_events (user_id, event_type, properties, occurred_at) VALUES ($1, 'page_view', '{"path":"/cart"}', $2) RETURNING id`,
      [userId, iso(occurredAt)],
    )) as Array<{ id: string }>;
    return row!.id;
  }

  async function addTicket(requesterId: string, status: 'open' | 'pending' | 'resolved', createdAt: Date, resolvedAt: Date | null): Promise<string> {
    const [row] = (await db('support').query(
      `INSERT INTO support_tickets (requester_id, requester_email, subject, body, status, created_at, resolved_at)
       VALUES ($1, $2, 'Where is my parcel?', 'It has not arrived.', $3, $4, $5) RETURNING id`,
      [requesterId, `${requesterId}@example.org`, status, iso(createdAt), resolvedAt ? iso(resolvedAt) : null],
    )) as Array<{ id: string }>;
    return row!.id;
  }

  const ids = async (service: string, table: string): Promise<string[]> =>
    ((await db(service).query(`SELECT id::text AS id FROM ${table} ORDER BY id`)) as Array<{ id: string }>).map((r) => r.id).sort();

  async function sweep(body: { service?: string; policy?: string; dryRun?: boolean }): Promise<any> {
    const created = await platform.api('POST', '/v1/sweeps', { token: TOKENS.admin, body });
    expect(created.status).toBe(202);
    return waitFor(`sweep ${created.body.id}`, async () => {
      const { body: view } = await platform.api('GET', `/v1/sweeps/${created.body.id}`, { token: TOKENS.admin });
      return ['completed', 'failed'].includes(view.status) ? view : undefined;
    });
  }

  // Partition names depend on the day the tests run (analytics_events is partitioned by month): the
  // partitioned sweep has its own e2e (partitioned-sweep.e2e.ts); here only the counts are compared.
  const tablesOf = (view: any, service: string): unknown[] =>
    view.targets.find((t: any) => t.service === service)?.tables.map(({ partitions: _partitions, ...t }: any) => t);
  const counts = (table: string, action: 'delete' | 'anonymize', n: number, policy?: string) => ({
    table,
    ...(policy ? { policy } : {}),
    action,
    matched: n,
    deleted: action === 'delete' ? n : 0,
    anonymized: action === 'anonymize' ? n : 0,
    archived: 0,
    held: 0,
  });

  describe('erasure', () => {
    // Distinctive ids, so a log line containing one can only be a leak.
    const ERIN = 'erin-7f3a9c';
    const FRANK = 'frank-2c9d41';
    const now = new Date();
    let erinOrders: string[];

    beforeAll(async () => {
      await resetTables();
      erinOrders = [
        await addOrder(ERIN, minus(now, { days: 1 }), { email: 'erin.smith@shop.example', amountCents: 4250 }),
        await addOrder(ERIN, minus(now, { years: 3 }), { phone: null, amountCents: 1999 }),
        // Older than 7 years and not yet swept: an erasure does not wait for the sweep.
        await addOrder(ERIN, minus(now, { years: 8 }), { amountCents: 123456789012 }),
      ];
      await addOrder(FRANK, minus(now, { days: 2 }));
      await addOrder(FRANK, minus(now, { years: 5 }));
      for (const days of [0, 10, 100, 700]) await addEvent(ERIN, minus(now, { days }));
      for (const days of [0, 10]) await addEvent(FRANK, minus(now, { days }));
      await addTicket(ERIN, 'open', minus(now, { days: 1 }), null);
      await addTicket(ERIN, 'pending', minus(now, { days: 20 }), null);
      await addTicket(ERIN, 'resolved', minus(now, { days: 400 }), minus(now, { days: 390 }));
      await addTicket(FRANK, 'resolved', minus(now, { days: 400 }), minus(now, { days: 390 }));
      await db('sessions').query(`INSERT INTO sessions (user_id, started_at) VALUES ($1, now()), ($1, now() - interval '3 days'), ($2, now())`, [ERIN, FRANK]);
    });

    async function erase(id: string, dryRun: boolean): Promise<any> {
      const created = await platform.api('POST', '/v1/erasure-requests', {
        token: TOKENS.requester,
        body: { subject: { type: 'user', id }, reason: 'Art. 17 request', dryRun },
      });
      expect(created.status).toBe(202);
      expect([...created.body.targets].sort()).toEqual(['analytics', 'orders', 'sessions', 'support']);
      return platform.waitForRequest(created.body.id);
    }

    const expected = {
      orders: [counts('orders', 'anonymize', 3)],
      analytics: [counts('analytics_events', 'delete', 4)],
      support: [counts('support_tickets', 'delete', 3)],
      sessions: [counts('sessions', 'delete', 2)],
    };

    it('a dry run reports what the erasure would do in every service, and changes nothing', async () => {
      const before = await snapshot();
      const done = await erase(ERIN, true);
      expect(done).toMatchObject({ status: 'completed', dryRun: true });
      for (const [service, tables] of Object.entries(expected)) {
        expect(
          done.targets.find((t: any) => t.service === service),
          service,
        ).toMatchObject({ status: 'completed', tables });
      }
      expect(await snapshot()).toEqual(before);
      const audit = (await db('orders').query(`SELECT action, anonymized, dry_run FROM retention_audit WHERE request_id = $1`, [done.id])) as unknown[];
      expect(audit).toEqual([{ action: 'anonymize', anonymized: 3, dry_run: true }]);
    });

    it('the real erasure reports the same counts: orders anonymized with amounts kept, everything else deleted', async () => {
      const frankBefore = await db('orders').query(`SELECT * FROM orders WHERE customer_id = $1 ORDER BY id`, [FRANK]);
      const amountsBefore = await db('orders').query(`SELECT id, amount_cents, currency, created_at FROM orders WHERE id = ANY($1) ORDER BY id`, [erinOrders]);

      const done = await erase(ERIN, false);
      expect(done).toMatchObject({ status: 'completed', dryRun: false });
      expect(done.targets).toHaveLength(4);
      for (const [service, tables] of Object.entries(expected)) {
        expect(
          done.targets.find((t: any) => t.service === service),
          service,
        ).toMatchObject({ status: 'completed', tables });
      }

      // Orders: the tax record stays, the person goes.
      const erin = (await db('orders').query(
        `SELECT id, customer_id, customer_name, email, shipping_address, phone, amount_cents, currency, created_at FROM orders WHERE id = ANY($1) ORDER BY id`,
        [erinOrders],
      )) as Array<Record<string, unknown>>;
      expect(erin).toHaveLength(3);
      for (const row of erin) {
        expect(row).toMatchObject({ customer_name: '[redacted]', shipping_address: null, phone: null });
        expect(row.customer_id).toMatch(/^[0-9a-f]{64}$/);
        // A random surrogate: no key the service holds turns Erin's id into it.
        expect(row.customer_id).not.toBe(hashOf(ERIN));
      }
      // Erin's orders still group together under one surrogate.
      expect(new Set(erin.map((r) => r.customer_id)).size).toBe(1);
      expect(erin.map((r) => r.email).sort()).toEqual(['redacted@example.org', 'redacted@example.org', 'redacted@shop.example']);
      expect(erin.map(({ id, amount_cents, currency, created_at }) => ({ id, amount_cents, currency, created_at }))).toEqual(amountsBefore);
      expect(amountsBefore.map((r: any) => r.amount_cents).sort()).toEqual(['123456789012', '1999', '4250']);
      expect(await db('orders').query(`SELECT count(*)::int AS n FROM orders WHERE customer_id = $1`, [ERIN])).toEqual([{ n: 0 }]);
      expect(await db('orders').query(`SELECT * FROM orders WHERE customer_id = $1 ORDER BY id`, [FRANK])).toEqual(frankBefore);

      // Analytics, support, sessions: the subject's rows are gone, the other subject's stay.
      const remaining = async (service: string, table: string, column: string) =>
        (await db(service).query(`SELECT ${column} AS subject, count(*)::int AS n FROM ${table} GROUP BY 1 ORDER BY 1`)) as unknown[];
      expect(await remaining('analytics', 'analytics_events', 'user_id')).toEqual([{ subject: FRANK, n: 2 }]);
      expect(await remaining('support', 'support_tickets', 'requester_id')).toEqual([{ subject: FRANK, n: 1 }]);
      expect(await remaining('sessions', 'sessions', 'user_id')).toEqual([{ subject: FRANK, n: 1 }]);
    });

    it('a second erasure of the same subject finds nothing left', async () => {
      const done = await erase(ERIN, false);
      expect(done.status).toBe('completed');
      expect(tablesOf(done, 'orders')).toEqual([counts('orders', 'anonymize', 0)]);
      expect(tablesOf(done, 'analytics')).toEqual([counts('analytics_events', 'delete', 0)]);
      expect(tablesOf(done, 'support')).toEqual([counts('support_tickets', 'delete', 0)]);
    });

    it('writes no subject id to any log line', () => {
      expect(platform.logs.length).toBeGreaterThan(0);
      expect(platform.logs.filter((l) => l.includes(ERIN) || l.includes(FRANK))).toEqual([]);
    });
  });

  describe('sweeps', () => {
    beforeEach(resetTables);

    it("take exactly the rows past each policy's cutoff; a dry run first reports the same and changes nothing", async () => {
      const now = new Date();
      // Due rows: well past the cutoff, and one minute past it (the sweep's own clock is later still).
      // Kept rows: two days inside the period, recent ones, and rows the rule's conditions exclude.
      const orders = {
        due: [await addOrder('o-old', minus(now, { years: 10 })), await addOrder('o-edge', minus(now, { years: 7, ms: MINUTE }), { amountCents: 777 })],
        kept: [
          await addOrder('o-inside', minus(now, { years: 7, days: -2 })),
          await addOrder('o-new', minus(now, { days: 1 })),
          // Anonymized by an earlier sweep: the marker column keeps it from being rewritten again.
          await addOrder(hashOf('o-done'), minus(now, { years: 9 }), { email: 'redacted@example.org', phone: null, anonymizedAt: minus(now, { years: 1 }) }),
        ],
      };
      const events = {
        due: [await addEvent('a-old', minus(now, { years: 2 })), await addEvent('a-edge', minus(now, { months: 13, ms: MINUTE }))],
        kept: [await addEvent('a-inside', minus(now, { months: 13, days: -2 })), await addEvent('a-new', now)],
      };
      const tickets = {
        due: [
          await addTicket('s-old', 'resolved', minus(now, { years: 4 }), minus(now, { years: 3 })),
          await addTicket('s-edge', 'resolved', minus(now, { years: 2, days: 10 }), minus(now, { years: 2, ms: MINUTE })),
        ],
        kept: [
          await addTicket('s-inside', 'resolved', minus(now, { years: 2, days: 10 }), minus(now, { years: 2, days: -2 })),
          // Reopened: resolved long ago, but someone is working on it again.
          await addTicket('s-reopened', 'open', minus(now, { years: 4 }), minus(now, { years: 3 })),
          await addTicket('s-pending', 'pending', minus(now, { years: 5 }), null),
          await addTicket('s-open', 'open', minus(now, { years: 5 }), null),
        ],
      };

      const before = await snapshot();
      const dry = await sweep({ dryRun: true });
      expect(dry.status).toBe('completed');
      expect(tablesOf(dry, 'orders')).toEqual([counts('orders', 'anonymize', 2, 'purchase_records')]);
      expect(tablesOf(dry, 'analytics')).toEqual([counts('analytics_events', 'delete', 2, 'product_events')]);
      expect(tablesOf(dry, 'support')).toEqual([counts('support_tickets', 'delete', 2, 'resolved_tickets')]);
      expect(await snapshot()).toEqual(before);

      const ordersSwept = await sweep({ service: 'orders' });
      expect(ordersSwept).toMatchObject({ status: 'completed', dryRun: false });
      expect(ordersSwept.targets.map((t: any) => t.service)).toEqual(['orders']);
      expect(tablesOf(ordersSwept, 'orders')).toEqual([counts('orders', 'anonymize', 2, 'purchase_records')]);
      const anonymized = (await db('orders').query(
        `SELECT customer_id, customer_name, email, shipping_address, phone, amount_cents, anonymized_at IS NOT NULL AS marked FROM orders WHERE id = ANY($1) ORDER BY amount_cents`,
        [orders.due],
      )) as Array<Record<string, unknown>>;
      for (const [row, id] of [
        [anonymized[0], 'o-edge'],
        [anonymized[1], 'o-old'],
      ] as const) {
        expect(row?.customer_id).toMatch(/^[0-9a-f]{64}$/);
        expect(row?.customer_id).not.toBe(hashOf(id));
      }
      expect(anonymized[0]?.customer_id).not.toBe(anonymized[1]?.customer_id);
      expect(anonymized).toEqual([
        {
          customer_id: anonymized[0]?.customer_id,
          customer_name: '[redacted]',
          email: 'redacted@example.org',
          shipping_address: null,
          phone: null,
          amount_cents: '777',
          marked: true,
        },
        {
          customer_id: anonymized[1]?.customer_id,
          customer_name: '[redacted]',
          email: 'redacted@example.org',
          shipping_address: null,
          phone: null,
          amount_cents: '1999',
          marked: true,
        },
      ]);
      const keptBefore = (before.orders as Array<{ id: string }>).filter((r) => orders.kept.includes(r.id));
      expect(keptBefore).toHaveLength(3);
      expect(((await snapshot()).orders as Array<{ id: string }>).filter((r) => orders.kept.includes(r.id))).toEqual(keptBefore);

      const analyticsSwept = await sweep({ service: 'analytics' });
      expect(tablesOf(analyticsSwept, 'analytics')).toEqual([counts('analytics_events', 'delete', 2, 'product_events')]);
      expect(await ids('analytics', 'analytics_events')).toEqual([...events.kept].sort());

      const supportSwept = await sweep({ service: 'support', policy: 'resolved_tickets' });
      expect(tablesOf(supportSwept, 'support')).toEqual([counts('support_tickets', 'delete', 2, 'resolved_tickets')]);
      expect(await ids('support', 'support_tickets')).toEqual([...tickets.kept].sort());

      // Already done: the next sweep finds nothing (orders are not anonymized twice).
      const again = await sweep({});
      for (const [service, table, action, policy] of [
        ['orders', 'orders', 'anonymize', 'purchase_records'],
        ['analytics', 'analytics_events', 'delete', 'product_events'],
        ['support', 'support_tickets', 'delete', 'resolved_tickets'],
      ] as const) {
        expect(tablesOf(again, service), service).toEqual([counts(table, action, 0, policy)]);
      }
      expect(await ids('orders', 'orders')).toEqual([...orders.due, ...orders.kept].sort());
    });

    it("cutoffs are strict, calendar-based and taken from the sweep's clock: a row exactly at the cutoff stays", async () => {
      // The last day of March, 13 months back, is the last day of February (not 3 March).
      const asOf = new Date('2026-03-31T12:00:00.000Z');
      const at = {
        orders: new Date('2019-03-31T12:00:00.000Z'),
        analytics: new Date('2025-02-28T12:00:00.000Z'),
        support: new Date('2024-03-31T12:00:00.000Z'),
      };
      const before = (d: Date) => new Date(d.getTime() - 1);
      const after = (d: Date) => new Date(d.getTime() + 1);

      const dueOrder = await addOrder('e-before', before(at.orders));
      const keptOrders = [await addOrder('e-at', at.orders), await addOrder('e-after', after(at.orders))];
      const dueEvent = await addEvent('e-before', before(at.analytics));
      const keptEvents = [
        await addEvent('e-at', at.analytics),
        await addEvent('e-after', after(at.analytics)),
        await addEvent('e-march', new Date('2025-03-02T12:00:00.000Z')),
      ];
      const dueTicket = await addTicket('e-before', 'resolved', minus(at.support, { days: 5 }), before(at.support));
      const keptTickets = [
        await addTicket('e-at', 'resolved', minus(at.support, { days: 5 }), at.support),
        await addTicket('e-after', 'resolved', minus(at.support, { days: 5 }), after(at.support)),
        await addTicket('e-reopened', 'open', minus(at.support, { days: 5 }), before(at.support)),
      ];

      // Every one of these rows is past its cutoff by today's clock: only the sweep's clock keeps them.
      pinnedClock = asOf;
      let view: any;
      try {
        view = await sweep({});
      } finally {
        pinnedClock = undefined;
      }
      expect(view.createdAt).toBe(asOf.toISOString());
      expect(tablesOf(view, 'orders')).toEqual([counts('orders', 'anonymize', 1, 'purchase_records')]);
      expect(tablesOf(view, 'analytics')).toEqual([counts('analytics_events', 'delete', 1, 'product_events')]);
      expect(tablesOf(view, 'support')).toEqual([counts('support_tickets', 'delete', 1, 'resolved_tickets')]);

      expect(await db('orders').query(`SELECT id FROM orders WHERE anonymized_at IS NOT NULL`)).toEqual([{ id: dueOrder }]);
      expect(await db('orders').query(`SELECT count(*)::int AS n FROM orders WHERE id = ANY($1) AND customer_name <> '[redacted]'`, [keptOrders])).toEqual([
        { n: 2 },
      ]);
      expect(await ids('analytics', 'analytics_events')).toEqual([...keptEvents].sort());
      expect(await ids('analytics', 'analytics_events')).not.toContain(dueEvent);
      expect(await ids('support', 'support_tickets')).toEqual([...keptTickets].sort());
      expect(await ids('support', 'support_tickets')).not.toContain(dueTicket);
    });
  });
});
