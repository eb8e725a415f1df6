import { ConfigError } from '@retention/contracts';
import { createDataSource, openDatabase } from '@retention/database';
import { createTestDatabase, type TestDatabase, testStack } from '@retention/testing';
import { Column, type DataSource, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bindPolicies, type BoundPolicies } from './bind-policies';
import { definePolicies, type PolicyFileInput } from './define-policies';
import { overdueDays, type TableStep } from './executor';
import { activeScopedHolds, upsertHold } from './holds.repository';
import { missingIndexes } from './index-advice';
import { type BatchReport, initialJobState, type JobState, planSweep, runJobBatch } from './jobs';
import { policyMigrations } from './tables.migration';

@Entity({ name: 'samples' })
class Sample {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id!: string;
  @Column({ type: 'text' }) owner!: string;
  @Column({ type: 'timestamptz', name: 'created_at' }) createdAt!: Date;
  @Column({ type: 'int', name: 'retention_days', nullable: true }) retentionDays!: number | null;
  @Column({ type: 'timestamptz', name: 'expires_at', nullable: true }) expiresAt!: Date | null;
  @Column({ type: 'text', nullable: true }) label!: string | null;
}

/** Range-partitioned by month on occurred_at: the key in the database is (id, occurred_at). */
@Entity({ name: 'events' })
class Event {
  @PrimaryColumn({ type: 'bigint' }) id!: string;
  @Column({ type: 'text', name: 'user_id' }) userId!: string;
  @Column({ type: 'timestamptz', name: 'occurred_at' }) occurredAt!: Date;
}

@Entity({ name: 'events_archive' })
class ArchivedEvent extends Event {}

/** A plain (not partitioned) table with an index on its timestamp, as most services have. */
@Entity({ name: 'visits' })
class Visit {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id!: string;
  @Column({ type: 'text', name: 'user_id' }) userId!: string;
  @Column({ type: 'timestamptz', name: 'seen_at' }) seenAt!: Date;
}

const asOf = new Date('2026-06-01T00:00:00Z');
const base = { reason: 'r', placedBy: 'test', placedAt: '2026-01-01T00:00:00Z' };

/**
 * The two retention shapes beyond one period per table, against a real PostgreSQL: per-record
 * periods and deadlines (clamped to the floor, held rows kept, dry run equal to the real run, the
 * deadline index advised and used), and sweeps of a range-partitioned table that drop (or detach
 * into the archive) every partition wholly before the cutoff, keep a partition with a held row and
 * sweep the rest in batches, with exact counts.
 */
describe('policy executor: per-record and partitioned retention', () => {
  let db: TestDatabase;
  let ds: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase(testStack().databaseUrl, 'int_shapes');
    ds = createDataSource({ url: db.url, entities: [Sample, Event, ArchivedEvent, Visit], migrations: [...policyMigrations] });
    await openDatabase(ds);
    await ds.query(`CREATE TABLE samples (id bigserial PRIMARY KEY, owner text NOT NULL, created_at timestamptz NOT NULL,
      retention_days int, expires_at timestamptz, label text)`);
  });

  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  async function sweep(bound: BoundPolicies, dryRun = false): Promise<{ state: JobState; batches: BatchReport[] }> {
    let state = initialJobState();
    const batches: BatchReport[] = [];
    for (let i = 0; i < 100; i++) {
      const plan = planSweep(bound, { asOf }, await activeScopedHolds(ds.manager));
      if (plan.status !== 'run') throw new Error(plan.status);
      const result = await ds.transaction((m) => runJobBatch(m, bound, plan.steps, state, dryRun));
      state = result.state;
      batches.push(...result.batches);
      if (result.done) return { state, batches };
    }
    throw new Error('did not finish');
  }

  const bind = (rule: Record<string, unknown>, extra: Partial<PolicyFileInput> = {}): BoundPolicies =>
    bindPolicies(
      definePolicies(
        { service: 'int', ...extra, rules: [{ name: 'r', legalBasis: 'test', action: 'delete', ...rule } as NonNullable<PolicyFileInput['rules']>[number]] },
        { minPeriodDays: 7 },
      ),
      ds,
      { hashKey: 'k', minPeriodDays: 7 },
    );

  describe('per-record periods and deadlines', () => {
    beforeEach(async () => {
      await ds.query('TRUNCATE samples, retention_holds');
    });

    it('takes each row at its own period (default for NULL, clamped to the floor), keeps held rows, dry run = real run', async () => {
      await ds.query(`INSERT INTO samples (owner, created_at, retention_days, label) VALUES
        ('a', '2026-04-01', 30, 'own period passed'),
        ('b', '2026-04-01', 365, 'licensed: kept a year'),
        ('c', '2026-02-01', NULL, 'default 90 days passed'),
        ('d', '2026-04-01', NULL, 'default 90 days not passed'),
        ('e', '2026-05-28', 0, 'zero days: clamped to the 7-day floor'),
        ('f', '2026-05-20', 1, 'one day, older than the floor'),
        ('g', '2026-01-01', 30, 'held')`);
      const bound = bind({ table: 'samples', timestampColumn: 'created_at', retentionDaysColumn: 'retention_days', retention: { days: 90 } });
      const [{ id }] = (await ds.query(`SELECT id FROM samples WHERE owner = 'g'`)) as [{ id: string }];
      await upsertHold(ds.manager, { ...base, holdId: 'h-rec', scope: 'record', table: 'samples', recordKey: id });

      const plan = planSweep(bound, { asOf }, []);
      if (plan.status !== 'run') throw new Error(plan.status);
      // Oldest due deadline: a's (2026-05-01), 31 days ago; g's (2026-01-31) is held.
      expect(await overdueDays(ds.manager, bound, plan.steps[0] as TableStep, asOf)).toBeCloseTo(31, 5);

      const dry = await sweep(bound, true);
      expect(await ds.query(`SELECT count(*)::int AS n FROM samples`)).toEqual([{ n: 7 }]);
      const real = await sweep(bound);
      expect(real.state.results).toEqual([{ table: 'samples', policy: 'r', action: 'delete', matched: 4, deleted: 3, anonymized: 0, archived: 0, held: 1 }]);
      expect(dry.state.results).toEqual(real.state.results);
      expect((await ds.query(`SELECT owner FROM samples ORDER BY owner`)).map((r: { owner: string }) => r.owner)).toEqual(['b', 'd', 'e', 'g']);
      expect(await overdueDays(ds.manager, bound, plan.steps[0] as TableStep, asOf)).toBe(0);
    });

    it('takes a row once its expiry passed (NULL: the default period), never before the floor, and not under a subject hold', async () => {
      await ds.query(`INSERT INTO samples (owner, created_at, expires_at) VALUES
        ('a', '2026-01-01', '2026-05-01'),
        ('b', '2026-01-01', '2027-01-01'),
        ('c', '2026-01-01', NULL),
        ('d', '2026-05-01', NULL),
        ('e', '2026-05-30', '2026-05-30'),
        ('held', '2025-01-01', '2025-02-01')`);
      const bound = bind(
        { table: 'samples', timestampColumn: 'created_at', expiresAtColumn: 'expires_at', retention: { days: 90 } },
        { subjects: { user: { table: 'samples', column: 'owner' } } },
      );
      await upsertHold(ds.manager, { ...base, holdId: 'h-subj', scope: 'subject', subject: { type: 'user', id: 'held' } });
      const dry = await sweep(bound, true);
      const real = await sweep(bound);
      expect(real.state.results[0]).toMatchObject({ matched: 3, deleted: 2, held: 1 });
      expect(dry.state.results).toEqual(real.state.results);
      expect((await ds.query(`SELECT owner FROM samples ORDER BY owner`)).map((r: { owner: string }) => r.owner)).toEqual(['b', 'd', 'e', 'held']);
    });

    it('advises the deadline expression index, recognises it once created, and the sweep uses it', async () => {
      const bound = bind({ table: 'samples', timestampColumn: 'created_at', retentionDaysColumn: 'retention_days', retention: { days: 90 } });
      const [advice] = await missingIndexes(ds.manager, bound);
      expect(advice?.ddl).toBe(
        `CREATE INDEX "samples_retention_deadline" ON "samples" (((("created_at" AT TIME ZONE 'UTC') + make_interval(days => COALESCE("retention_days", 90)))))`,
      );
      await ds.query(advice!.ddl);
      try {
        expect(await missingIndexes(ds.manager, bound)).toEqual([]);
        const plan = planSweep(bound, { asOf }, []);
        if (plan.status !== 'run') throw new Error(plan.status);
        const step = plan.steps[0] as TableStep;
        const explained = await ds.transaction(async (m) => {
          await m.query('SET LOCAL enable_seqscan = off');
          const { Params } = await import('./sql-builder');
          const params = new Params();
          const rows = (await m.query(`EXPLAIN SELECT 1 FROM samples x WHERE ${step.where(params)}`, params.values)) as Array<{ 'QUERY PLAN': string }>;
          return rows.map((r) => r['QUERY PLAN']).join('\n');
        });
        expect(explained).toContain('samples_retention_deadline');
      } finally {
        await ds.query('DROP INDEX samples_retention_deadline');
      }
    });

    it('refuses a per-record column of the wrong type, both columns at once, and a default not in days', () => {
      expect(() => bind({ table: 'samples', timestampColumn: 'created_at', retentionDaysColumn: 'label', retention: { days: 90 } })).toThrow(
        /retentionDaysColumn: "label" is text, not an integer column of days/,
      );
      expect(() => bind({ table: 'samples', timestampColumn: 'created_at', expiresAtColumn: 'owner', retention: { days: 90 } })).toThrow(
        /expiresAtColumn: "owner" is text, not a date or timestamp/,
      );
      expect(() =>
        bind({
          table: 'samples',
          timestampColumn: 'created_at',
          retentionDaysColumn: 'retention_days',
          expiresAtColumn: 'expires_at',
          retention: { days: 90 },
        }),
      ).toThrow(ConfigError);
      expect(() => bind({ table: 'samples', timestampColumn: 'created_at', retentionDaysColumn: 'retention_days', retention: { months: 3 } })).toThrow(
        /must be given in days only/,
      );
      // The default is held to the floor like any period.
      expect(() => bind({ table: 'samples', timestampColumn: 'created_at', retentionDaysColumn: 'retention_days', retention: { days: 3 } })).toThrow(
        /shorter than the floor of 7/,
      );
    });
  });

  describe('range-partitioned tables', () => {
    const partitioned = (name: string): string => `CREATE TABLE ${name} (id bigint NOT NULL, user_id text NOT NULL, occurred_at timestamptz NOT NULL,
      PRIMARY KEY (id, occurred_at)) PARTITION BY RANGE (occurred_at)`;
    const month = (table: string, from: string, to: string): string =>
      `CREATE TABLE ${table}_${from.slice(0, 7).replace('-', '_')} PARTITION OF ${table} FOR VALUES FROM ('${from}') TO ('${to}')`;

    beforeEach(async () => {
      await ds.query('DROP TABLE IF EXISTS events, events_archive');
      await ds.query('TRUNCATE retention_holds');
      for (const t of ['events', 'events_archive']) {
        await ds.query(partitioned(t));
        await ds.query(`CREATE INDEX ON ${t} (occurred_at)`);
      }
      await ds.query(month('events', '2020-01-01', '2020-02-01'));
      await ds.query(month('events', '2020-02-01', '2020-03-01'));
      await ds.query(month('events', '2020-03-01', '2020-04-01'));
      await ds.query(month('events', '2026-04-01', '2026-05-01'));
      await ds.query(month('events', '2026-05-01', '2026-06-01'));
      await ds.query('CREATE TABLE events_default PARTITION OF events DEFAULT');
      await ds.query(month('events_archive', '2019-01-01', '2019-02-01'));
      await ds.query('CREATE TABLE events_archive_default PARTITION OF events_archive DEFAULT');
      await ds.query(`INSERT INTO events (id, user_id, occurred_at) VALUES
        (1, 'u1', '2020-01-05'), (2, 'u2', '2020-01-06'), (3, 'u3', '2020-01-07'),
        (4, 'u1', '2020-02-05'), (5, 'held-row', '2020-02-06'),
        (6, 'u1', '2020-03-05'), (7, 'held-user', '2020-03-06'),
        (8, 'u1', '2026-04-01T12:00:00Z'), (9, 'u1', '2026-04-20'),
        (10, 'u1', '2026-05-05'),
        (11, 'u1', '2019-06-01')`);
    });

    const partitionsOf = async (table: string): Promise<string[]> =>
      (
        (await ds.query(`SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY 1`, [
          table,
        ])) as Array<{ relname: string }>
      ).map((r) => r.relname);

    // 60 days before 2026-06-01: 2026-04-02. Wholly before: the three 2020 months.
    const rule = { table: 'events', timestampColumn: 'occurred_at', retention: { days: 60 } };
    const subjects = { user: { table: 'events', column: 'user_id' } };

    it('drops every expired partition without a held row, keeps the ones with one and sweeps their other rows, dry run first', async () => {
      const bound = bind(rule, { subjects });
      await upsertHold(ds.manager, { ...base, holdId: 'h-rec', scope: 'record', table: 'events', recordKey: '5' });
      await upsertHold(ds.manager, { ...base, holdId: 'h-subj', scope: 'subject', subject: { type: 'user', id: 'held-user' } });

      const dry = await sweep(bound, true);
      const expected = {
        table: 'events',
        policy: 'r',
        action: 'delete',
        // 1-3 (dropped), 4 and 6 (kept partitions' free rows), 8 (straddling month), 11 (default partition).
        matched: 9,
        deleted: 7,
        anonymized: 0,
        archived: 0,
        held: 2,
        partitions: { dropped: ['events_2020_01'], detached: [], kept: ['events_2020_02', 'events_2020_03'] },
      };
      expect(dry.state.results).toEqual([expected]);
      expect(await partitionsOf('events')).toContain('events_2020_01');
      expect(await ds.query('SELECT count(*)::int AS n FROM events')).toEqual([{ n: 11 }]);

      const real = await sweep(bound);
      expect(real.state.results).toEqual([expected]);
      // The drop is one batch of its own, with the rows counted before the partition went.
      expect(real.batches[0]).toEqual({ table: 'events', policy: 'r', action: 'delete', affected: 3, partition: 'events_2020_01' });
      expect(real.batches.reduce((n, b) => n + b.affected, 0)).toBe(7);
      expect(await partitionsOf('events')).toEqual(['events_2020_02', 'events_2020_03', 'events_2026_04', 'events_2026_05', 'events_default']);
      expect((await ds.query('SELECT id FROM events ORDER BY id')).map((r: { id: string }) => Number(r.id))).toEqual([5, 7, 9, 10]);

      // Again: nothing left to drop or delete; the held rows are still counted.
      expect((await sweep(bound)).state.results[0]).toMatchObject({
        deleted: 0,
        held: 2,
        partitions: { dropped: [], detached: [], kept: ['events_2020_02', 'events_2020_03'] },
      });
    });

    it('drops nothing under a policy hold', async () => {
      const bound = bind(rule);
      await upsertHold(ds.manager, { ...base, holdId: 'h-pol', scope: 'policy', policy: 'r' });
      const { state } = await sweep(bound);
      expect(state.results[0]).toMatchObject({ deleted: 0, held: 9 });
      expect(await partitionsOf('events')).toHaveLength(6);
      expect(await ds.query('SELECT count(*)::int AS n FROM events')).toEqual([{ n: 11 }]);
    });

    it('for archive, detaches each expired partition into the archive table (range-partitioned alike) and moves the rest in batches', async () => {
      const bound = bind({ ...rule, action: 'archive', archiveTable: 'events_archive' });
      await upsertHold(ds.manager, { ...base, holdId: 'h-rec', scope: 'record', table: 'events', recordKey: '5' });
      const dry = await sweep(bound, true);
      const { state } = await sweep(bound);
      expect(state.results[0]).toMatchObject({
        archived: 8,
        held: 1,
        partitions: { dropped: [], detached: ['events_2020_01', 'events_2020_03'], kept: ['events_2020_02'] },
      });
      expect(dry.state.results).toEqual(state.results);
      expect(await partitionsOf('events_archive')).toEqual(['events_2020_01', 'events_2020_03', 'events_archive_2019_01', 'events_archive_default']);
      // Whole partitions (1-3, 6-7) now belong to the archive table; rows moved in batches (4, 8, 11) were copied into it.
      expect((await ds.query('SELECT id FROM events_archive ORDER BY id')).map((r: { id: string }) => Number(r.id))).toEqual([1, 2, 3, 4, 6, 7, 8, 11]);
      expect((await ds.query('SELECT id FROM events ORDER BY id')).map((r: { id: string }) => Number(r.id))).toEqual([5, 9, 10]);
    });

    it('sweeps in batches when the rule has conditions (a partition before the cutoff may hold rows it must keep)', async () => {
      const bound = bind({ ...rule, conditions: [{ column: 'user_id', op: 'eq', value: 'u1' }] });
      const { state, batches } = await sweep(bound);
      expect(state.results[0]).toMatchObject({ deleted: 5, held: 0 });
      expect(state.results[0]!.partitions).toBeUndefined();
      expect(batches.some((b) => b.partition)).toBe(false);
      expect(await partitionsOf('events')).toHaveLength(6);
    });
  });

  describe('a plain table whose statistics are stale', () => {
    it('deletes a batch by key lookups even when the planner thinks no row is due (many inserted since the last ANALYZE)', async () => {
      await ds.query(`CREATE TABLE visits (id bigserial PRIMARY KEY, user_id text NOT NULL, seen_at timestamptz NOT NULL) WITH (autovacuum_enabled = false)`);
      await ds.query(`CREATE INDEX visits_seen_at ON visits (seen_at)`);
      // What the planner last saw: a small table of recent rows (as after a sweep that emptied it).
      await ds.query(`INSERT INTO visits (user_id, seen_at) SELECT 'u' || g, $1::timestamptz - interval '1 day' FROM generate_series(1, 1000) g`, [asOf]);
      await ds.query(`ANALYZE visits`);
      // Then many due rows arrive before autovacuum analyzes again.
      await ds.query(`INSERT INTO visits (user_id, seen_at) SELECT 'v' || (g % 500), $1::timestamptz - interval '95 days' FROM generate_series(1, 200000) g`, [
        asOf,
      ]);
      const bound = bind({ table: 'visits', timestampColumn: 'seen_at', retention: { days: 90 }, batchSize: 5000 });
      const plan = planSweep(bound, { asOf }, []);
      if (plan.status !== 'run') throw new Error(plan.status);
      // One batch is 5,000 key lookups (milliseconds). The plan this guards against nests the batch
      // inside a scan of every due row (5,000 x 200,000 comparisons, about a minute here): the
      // statement timeout turns it into a failure instead of a slow pass.
      const result = await ds.transaction(async (m) => {
        await m.query(`SET LOCAL statement_timeout = '15s'`);
        return runJobBatch(m, bound, plan.steps, initialJobState(), false);
      });
      expect(result.batches).toEqual([expect.objectContaining({ table: 'visits', affected: 5000 })]);
      expect(await ds.query(`SELECT count(*)::int AS n FROM visits`)).toEqual([{ n: 196_000 }]);
    });
  });
});
