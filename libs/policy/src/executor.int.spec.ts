import { ConfigError } from '@retention/contracts';
import { createDataSource, openDatabase } from '@retention/database';
import { createTestDatabase, type TestDatabase, testStack } from '@retention/testing';
import { Column, type DataSource, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bindPolicies, type BoundPolicies } from './bind-policies';
import { definePolicies } from './define-policies';
import { activeScopedHolds, upsertHold } from './holds.repository';
import { missingIndexes } from './index-advice';
import { initialJobState, type JobState, planErasure, planSweep, runJobBatch } from './jobs';
import { policyMigrations } from './tables.migration';

@Entity({ name: 'people' })
class Person {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id!: string;
  @Column({ type: 'text', name: 'user_id' }) userId!: string;
  @Column({ type: 'text' }) name!: string;
  @Column({ type: 'text' }) email!: string;
  @Column({ type: 'text', nullable: true }) phone!: string | null;
  @Column({ type: 'date', name: 'birth_date', nullable: true }) birthDate!: string | null;
  @Column({ type: 'varchar', length: 12 }) nickname!: string;
  @Column({ type: 'text', nullable: true }) note!: string | null;
  @Column({ type: 'text' }) status!: string;
  @Column({ type: 'timestamptz', name: 'created_at' }) createdAt!: Date;
  @Column({ type: 'timestamptz', name: 'anonymized_at', nullable: true }) anonymizedAt!: Date | null;
}

@Entity({ name: 'people_archive' })
class ArchivedPerson extends Person {}

const COLUMNS = `id bigint PRIMARY KEY, user_id text NOT NULL, name text NOT NULL, email text NOT NULL, phone text, birth_date date,
  nickname varchar(12) NOT NULL, note text, status text NOT NULL, created_at timestamptz NOT NULL, anonymized_at timestamptz`;

class CreatePeople1700000000000 {
  name = 'CreatePeople1700000000000';
  async up(q: { query(sql: string): Promise<unknown> }): Promise<void> {
    await q.query(`CREATE TABLE people (${COLUMNS.replace('id bigint PRIMARY KEY', 'id bigserial PRIMARY KEY')})`);
    await q.query(`CREATE INDEX people_created_at ON people (created_at)`);
    await q.query(`CREATE TABLE people_archive (${COLUMNS})`);
  }
  async down(): Promise<void> {}
}

const asOf = new Date('2026-06-01T00:00:00Z');

/**
 * The batch executor against a real PostgreSQL: every action and strategy, structured conditions,
 * batching with exact counts, holds excluded in SQL, and policies checked against entities.
 */
describe('policy executor on PostgreSQL', () => {
  let db: TestDatabase;
  let ds: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase(testStack().databaseUrl, 'int_policy');
    ds = createDataSource({ url: db.url, entities: [Person, ArchivedPerson], migrations: [...policyMigrations, CreatePeople1700000000000] });
    await openDatabase(ds);
  });

  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  beforeEach(async () => {
    await ds.query('TRUNCATE people, people_archive, retention_holds');
    await ds.query(`INSERT INTO people (user_id, name, email, phone, birth_date, nickname, note, status, created_at) VALUES
      ('u1', 'Ada Lovelace', 'ada@example.org', '+44 1', '1815-12-10', 'ada', 'vip', 'closed', '2020-01-01'),
      ('u2', 'Alan Turing', 'alan@example.net', NULL, '1912-06-23', 'alan', NULL, 'closed', '2020-02-01'),
      ('u3', 'Grace Hopper', 'not-an-email', '+1 2', NULL, 'grace', 'x', 'open', '2020-03-01'),
      ('u4', 'Edsger Dijkstra', 'ed@example.com', NULL, '1930-05-11', 'ed', NULL, 'closed', '2026-05-30')`);
  });

  async function sweep(bound: BoundPolicies, dryRun = false): Promise<JobState> {
    let state = initialJobState();
    for (let i = 0; i < 100; i++) {
      const plan = planSweep(bound, { asOf }, await activeScopedHolds(ds.manager));
      if (plan.status !== 'run') throw new Error(plan.status);
      const result = await ds.transaction((m) => runJobBatch(m, bound, plan.steps, state, dryRun));
      state = result.state;
      if (result.done) return state;
    }
    throw new Error('did not finish');
  }

  it('anonymizes with every strategy, sets the marker, and never anonymizes a row twice', async () => {
    const bound = bindPolicies(
      definePolicies({
        service: 'int',
        rules: [
          {
            name: 'people',
            table: 'people',
            timestampColumn: 'created_at',
            retention: { years: 1 },
            action: 'anonymize',
            markerColumn: 'anonymized_at',
            batchSize: 1,
            anonymize: {
              name: 'redact',
              email: 'email_mask',
              phone: 'null',
              birth_date: 'year_only',
              nickname: 'random',
              user_id: 'hash',
              note: { strategy: 'redact', text: 'gone' },
            },
            legalBasis: 'test',
          },
        ],
      }),
      ds,
      { hashKey: 'k' },
    );
    const dry = await sweep(bound, true);
    expect(await ds.query(`SELECT count(*)::int AS n FROM people WHERE anonymized_at IS NOT NULL`)).toEqual([{ n: 0 }]);
    const real = await sweep(bound);
    expect(real.results).toEqual([{ table: 'people', policy: 'people', action: 'anonymize', matched: 3, deleted: 0, anonymized: 3, archived: 0, held: 0 }]);
    expect(dry.results).toEqual(real.results);

    const rows = (await ds.query(
      `SELECT user_id, name, email, phone, birth_date::text AS birth, nickname, note, anonymized_at FROM people ORDER BY id`,
    )) as Array<Record<string, unknown>>;
    const [ada, alan, grace, ed] = rows;
    expect(ada).toMatchObject({ name: '[redacted]', email: 'redacted@example.org', phone: null, birth: '1815-01-01', note: 'gone' });
    expect(ada!.user_id).toMatch(/^[0-9a-f]{64}$/);
    expect(ada!.nickname).toMatch(/^[0-9a-f]{12}$/);
    expect(alan).toMatchObject({ email: 'redacted@example.net', note: null, birth: '1912-01-01' });
    expect(grace).toMatchObject({ email: '[redacted]', birth: null });
    expect(ed).toMatchObject({ name: 'Edsger Dijkstra', anonymized_at: null });
    // Equal inputs hash equal (joins and counts survive); the marker keeps rows from being redone.
    expect((await sweep(bound)).results[0]).toMatchObject({ anonymized: 0 });
  });

  it('pages an anonymize sweep by the key in its own order, across a digit boundary', async () => {
    await ds.query('TRUNCATE people');
    await ds.query(`INSERT INTO people (id, user_id, name, email, nickname, status, created_at)
      SELECT i, 'u' || i, 'P' || i, 'p' || i || '@example.org', 'p', 'closed', '2020-01-01' FROM generate_series(96, 105) i`);
    const bound = bindPolicies(
      definePolicies({
        service: 'int',
        rules: [
          {
            name: 'people',
            table: 'people',
            timestampColumn: 'created_at',
            retention: { years: 1 },
            action: 'anonymize',
            markerColumn: 'anonymized_at',
            batchSize: 5,
            anonymize: { name: 'redact' },
            legalBasis: 'test',
          },
        ],
      }),
      ds,
      { hashKey: 'k' },
    );
    const plan = planSweep(bound, { asOf }, []);
    if (plan.status !== 'run') throw new Error(plan.status);
    const first = await ds.transaction((m) => runJobBatch(m, bound, plan.steps, initialJobState(), false));
    // Ids 96..100: as text the largest would be "99", and the next batch would walk 100 again.
    expect(first.state.cursor).toBe('100');
    const second = await ds.transaction((m) => runJobBatch(m, bound, plan.steps, first.state, false));
    expect(second.state.results[0]).toMatchObject({ anonymized: 10 });
  });

  it('marks rows an erasure anonymized, so the sweep does not anonymize them again', async () => {
    const bound = bindPolicies(
      definePolicies({
        service: 'int',
        subjects: { user: { table: 'people', column: 'user_id', action: 'anonymize' } },
        rules: [
          {
            name: 'people',
            table: 'people',
            timestampColumn: 'created_at',
            retention: { years: 1 },
            action: 'anonymize',
            markerColumn: 'anonymized_at',
            anonymize: { user_id: 'hash', name: 'redact' },
            legalBasis: 'test',
          },
        ],
      }),
      ds,
      { hashKey: 'k' },
    );
    const plan = planErasure(bound, { type: 'user', id: 'u1' }, []);
    if (plan.status !== 'run') throw new Error(plan.status);
    const erased = await ds.transaction((m) => runJobBatch(m, bound, plan.steps, initialJobState(), false));
    expect(erased.state.results[0]).toMatchObject({ anonymized: 1 });
    const [row] = (await ds.query(`SELECT user_id, anonymized_at FROM people WHERE name = '[redacted]'`)) as Array<{
      user_id: string;
      anonymized_at: Date | null;
    }>;
    expect(row!.anonymized_at).not.toBeNull();
    // The sweep takes the two other old rows, not the erased one (its hash stays as it was).
    expect((await sweep(bound)).results[0]).toMatchObject({ anonymized: 2 });
    expect(await ds.query(`SELECT count(*)::int AS n FROM people WHERE user_id = $1`, [row!.user_id])).toEqual([{ n: 1 }]);
  });

  it('archives rows (moved in the same transaction) under structured conditions, in exact batches', async () => {
    const bound = bindPolicies(
      definePolicies({
        service: 'int',
        rules: [
          {
            name: 'closed_people',
            table: 'people',
            timestampColumn: 'created_at',
            retention: { days: 30 },
            action: 'archive',
            archiveTable: 'people_archive',
            conditions: [
              { column: 'status', op: 'in', value: ['closed', 'suspended'] },
              { column: 'nickname', op: 'neq', value: 'nobody' },
            ],
            batchSize: 1,
            legalBasis: 'test',
          },
        ],
      }),
      ds,
      { hashKey: 'k' },
    );
    const state = await sweep(bound);
    expect(state.results[0]).toMatchObject({ matched: 2, archived: 2, deleted: 0 });
    expect(await ds.query(`SELECT user_id FROM people ORDER BY user_id`)).toEqual([{ user_id: 'u3' }, { user_id: 'u4' }]);
    expect(await ds.query(`SELECT user_id, name, email FROM people_archive ORDER BY user_id`)).toEqual([
      { user_id: 'u1', name: 'Ada Lovelace', email: 'ada@example.org' },
      { user_id: 'u2', name: 'Alan Turing', email: 'alan@example.net' },
    ]);
  });

  it('leaves rows under record and subject holds, and counts them', async () => {
    const bound = bindPolicies(
      definePolicies({
        service: 'int',
        subjects: { user: { table: 'people', column: 'user_id' } },
        rules: [{ name: 'people', table: 'people', timestampColumn: 'created_at', retention: { days: 30 }, action: 'delete', legalBasis: 'test' }],
      }),
      ds,
      { hashKey: 'k' },
    );
    const [{ id }] = (await ds.query(`SELECT id FROM people WHERE user_id = 'u1'`)) as [{ id: string }];
    const base = { reason: 'r', placedBy: 'test', placedAt: '2026-01-01T00:00:00Z' };
    await upsertHold(ds.manager, { ...base, holdId: 'h-record', scope: 'record', table: 'people', recordKey: id });
    await upsertHold(ds.manager, { ...base, holdId: 'h-subject', scope: 'subject', subject: { type: 'user', id: 'u2' } });
    await upsertHold(ds.manager, { ...base, holdId: 'h-expired', scope: 'subject', subject: { type: 'user', id: 'u3' }, expiresAt: '2020-01-01T00:00:00Z' });
    const state = await sweep(bound);
    expect(state.results[0]).toMatchObject({ matched: 3, deleted: 1, held: 2 });
    expect(await ds.query(`SELECT user_id FROM people ORDER BY user_id`)).toEqual([{ user_id: 'u1' }, { user_id: 'u2' }, { user_id: 'u4' }]);
  });

  it('names the indexes retention needs that a table lacks, with the statement that creates each', async () => {
    const bound = bindPolicies(
      definePolicies({
        service: 'int',
        subjects: { user: { table: 'people', column: 'user_id', action: 'delete' } },
        rules: [
          { name: 'old', table: 'people', timestampColumn: 'created_at', retention: { years: 1 }, action: 'delete', legalBasis: 'test' },
          {
            name: 'anon',
            table: 'people',
            timestampColumn: 'created_at',
            retention: { years: 1 },
            action: 'anonymize',
            markerColumn: 'anonymized_at',
            anonymize: { name: 'redact' },
            legalBasis: 'test',
          },
        ],
      }),
      ds,
      { hashKey: 'k' },
    );
    const before = await missingIndexes(ds.manager, bound);
    expect(before.map((m) => [m.for, m.ddl])).toEqual([
      ['rules.anon', 'CREATE INDEX "people_created_at_pending" ON "people" ("created_at") WHERE "anonymized_at" IS NULL'],
      ['subjects.user.people', 'CREATE INDEX "people_user_id" ON "people" ("user_id")'],
    ]);
    for (const m of before) await ds.query(m.ddl);
    try {
      expect(await missingIndexes(ds.manager, bound)).toEqual([]);
    } finally {
      await ds.query('DROP INDEX people_created_at_pending, people_user_id');
    }
  });

  it('refuses policies that do not match the entities, naming each problem', () => {
    const bad = definePolicies({
      service: 'int',
      subjects: { user: { table: 'persons', column: 'user_id' } },
      rules: [
        {
          name: 'a',
          table: 'people',
          timestampColumn: 'status',
          retention: { days: 1 },
          action: 'delete',
          legalBasis: 'test',
          conditions: [{ column: 'colour', op: 'eq', value: 'x' }],
        },
        {
          name: 'b',
          table: 'people',
          timestampColumn: 'created_at',
          retention: { days: 1 },
          action: 'anonymize',
          markerColumn: 'anonymized_at',
          legalBasis: 'test',
          anonymize: { name: 'null', birth_date: 'hash' },
        },
      ],
    });
    let error: unknown;
    try {
      bindPolicies(bad, ds, { hashKey: 'k' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'rules[0].timestampColumn: "status" is text, not a date or timestamp',
      'rules[0].conditions[0].column: table "people" has no column "colour"',
      'rules[1].anonymize.name: strategy null needs a nullable column, but "name" is NOT NULL',
      'rules[1].anonymize.birth_date: strategy hash needs a text column, but "birth_date" is date',
      'subjects.user[0].table: unknown table "persons" (entities with a single-column primary key: people, people_archive)',
    ]);
  });
});
