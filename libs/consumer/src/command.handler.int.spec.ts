import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Ack, decodeEvent, EventTypes, isRetriable, topicNames } from '@retention/contracts';
import { createDataSource, openDatabase, TypeOrmPinoLogger } from '@retention/database';
import { Registry } from '@retention/observability';
import { OutboxMessage, outboxMigrations } from '@retention/outbox';
import { bindPolicies, type BoundPolicies, definePolicies, policyMigrations } from '@retention/policy';
import { createTestDatabase, createTestLogger, type TestDatabase, testStack } from '@retention/testing';
import { Column, type DataSource, Entity, PrimaryGeneratedColumn, type QueryRunner } from 'typeorm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Command, type CommandHandlerDeps, createCommandHandler } from './command.handler';
import { CreateRetentionInbox1763800000200 } from './inbox.migration';
import { createRetentionMetrics } from './metrics';

@Entity({ name: 'visits' })
class Visit {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id!: string;
  @Column({ type: 'text', name: 'user_id' }) userId!: string;
  @Column({ type: 'timestamptz', name: 'created_at' }) createdAt!: Date;
}

class CreateVisits1700000000000 {
  name = 'CreateVisits1700000000000';
  async up(q: { query(sql: string): Promise<unknown> }): Promise<void> {
    await q.query(`CREATE TABLE visits (id bigserial PRIMARY KEY, user_id text NOT NULL, created_at timestamptz NOT NULL)`);
    await q.query(`CREATE INDEX visits_user ON visits (user_id)`);
    await q.query(`CREATE INDEX visits_created_at ON visits (created_at)`);
  }
  async down(): Promise<void> {}
}

const policies = definePolicies({
  service: 'visits',
  subjects: { user: { table: 'visits', column: 'user_id', action: 'delete' } },
  rules: [{ name: 'visit_logs', table: 'visits', timestampColumn: 'created_at', retention: { days: 30 }, action: 'delete', legalBasis: 'test' }],
  directories: [{ name: 'exports', path: 'exports', retention: { days: 30 }, suffixes: ['.csv'], legalBasis: 'test' }],
});

/**
 * The command handler against a real PostgreSQL (no broker: acks are read from the outbox). Every
 * connection of this database has a 300 ms lock timeout, so a lock the test holds turns into a
 * real SQLSTATE 55P03 (a retriable failure) in the handler.
 */
describe('command handler on PostgreSQL: retry budget, lock waits, failed acks', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let bound: BoundPolicies;
  let filesRoot: string;
  let registry: Registry;
  let metrics: ReturnType<typeof createRetentionMetrics>;
  let pauses: number[];
  const open = async (): Promise<DataSource> => {
    const source = createDataSource({
      url: db.url,
      entities: [Visit, OutboxMessage],
      migrations: [...outboxMigrations, ...policyMigrations, CreateRetentionInbox1763800000200, CreateVisits1700000000000],
      logger: new TypeOrmPinoLogger(createTestLogger('visits-db').logger),
    });
    return openDatabase(source);
  };

  beforeAll(async () => {
    db = await createTestDatabase(testStack().databaseUrl, 'int_handler');
    filesRoot = await mkdtemp(join(tmpdir(), 'retention-int-handler-'));
    const first = await open();
    const [{ name }] = (await first.query('SELECT current_database() AS name')) as [{ name: string }];
    await first.query(`ALTER DATABASE "${name}" SET lock_timeout = '300ms'`);
    await first.destroy();
    ds = await open();
    bound = bindPolicies(policies, ds, { hashKey: 'test-hash-key-0123456789', filesRoot });
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
    await rm(filesRoot, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await ds.query('TRUNCATE visits, retention_audit, retention_inbox, retention_outbox');
    registry = new Registry();
    metrics = createRetentionMetrics(registry);
    pauses = [];
  });

  const handler = (overrides: Partial<CommandHandlerDeps> = {}) =>
    createCommandHandler({
      dataSource: ds,
      bound,
      topics: topicNames(''),
      logger: createTestLogger('visits').logger,
      metrics,
      onAckQueued: () => undefined,
      holdsCaughtUp: async () => undefined,
      retry: { attempts: 3, maxMs: 60_000, backoffMs: 10 },
      ...overrides,
    });
  const erasure = (id: string): Command => ({
    kind: 'erasure',
    commandId: randomUUID(),
    data: {
      requestId: randomUUID(),
      subject: { type: 'user', id },
      dryRun: false,
      requestedAt: new Date().toISOString(),
      dueAt: new Date(Date.now() + 86_400_000).toISOString(),
      targets: [],
      attempt: 1,
      holds: [],
    },
  });
  const sweep = (policy: string): Command => ({
    kind: 'sweep',
    commandId: randomUUID(),
    data: {
      requestId: randomUUID(),
      policy,
      dryRun: false,
      requestedAt: new Date().toISOString(),
      asOf: new Date().toISOString(),
      targets: [],
      attempt: 1,
      holds: [],
    },
  });
  const auditRows = async (requestId: string): Promise<number> =>
    ((await ds.query(`SELECT count(*)::int AS n FROM retention_audit WHERE request_id = $1`, [requestId])) as Array<{ n: number }>)[0]!.n;
  const acks = async (requestId: string): Promise<Ack[]> => {
    const rows = (await ds.query(`SELECT value FROM retention_outbox ORDER BY id`)) as Array<{ value: string }>;
    return rows
      .map((r) => decodeEvent(Buffer.from(r.value)))
      .flatMap((d) => (d.ok && d.event.type === EventTypes.ack && d.event.data.requestId === requestId ? [d.event.data] : []));
  };
  const retries = async (reason: string): Promise<number> =>
    (await registry.getSingleMetric('retention_command_retries_total')!.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
  async function holding(sql: string, work: (locker: QueryRunner) => Promise<void>): Promise<void> {
    const locker = ds.createQueryRunner();
    await locker.connect();
    await locker.startTransaction();
    try {
      await locker.query(sql);
      await work(locker);
    } finally {
      if (locker.isTransactionActive) await locker.rollbackTransaction();
      await locker.release();
    }
  }

  it('waits for a row another transaction has locked with a growing pause, writing no audit row for passes that changed nothing', async () => {
    await ds.query(`INSERT INTO visits (user_id, created_at) VALUES ('lena', now()), ('lena', now()), ('lena', now())`);
    const command = erasure('lena');
    let whileLocked = -1;
    await holding(`SELECT id FROM visits WHERE user_id = 'lena' ORDER BY id LIMIT 1 FOR UPDATE`, async (locker) => {
      const running = handler({ lockWait: { maxMs: 60_000, maxDelayMs: 400 } })(command);
      await new Promise((r) => setTimeout(r, 2_000));
      whileLocked = await auditRows(command.data.requestId);
      await locker.commitTransaction();
      expect(await running).toBe('completed');
    });
    // The batch that deleted the two free rows; nothing for the passes that found the third locked.
    expect(whileLocked).toBe(1);
    expect(await auditRows(command.data.requestId)).toBe(2);
    // Pauses of 50, 100, 200, 400, 400, … ms: a handful in 2 s where a busy loop made hundreds of passes.
    const passes = await retries('rows_locked');
    expect(passes).toBeGreaterThan(0);
    expect(passes).toBeLessThan(15);
    expect((await acks(command.data.requestId))[0]).toMatchObject({ status: 'completed', tables: [{ deleted: 3 }] });
  });

  it('acks failed with rows_locked (retriable) when rows stay locked past the lock-wait budget; the retried command finishes the job', async () => {
    await ds.query(`INSERT INTO visits (user_id, created_at) VALUES ('max', now()), ('max', now()), ('max', now())`);
    const command = erasure('max');
    await holding(`SELECT id FROM visits WHERE user_id = 'max' ORDER BY id LIMIT 1 FOR UPDATE`, async () => {
      expect(await handler({ lockWait: { maxMs: 300, maxDelayMs: 100 } })(command)).toBe('failed');
      // Retried while still locked: fails again, reporting what the first delivery did.
      expect(await handler({ lockWait: { maxMs: 300, maxDelayMs: 100 } })({ ...command, commandId: randomUUID() })).toBe('failed');
    });
    for (const failed of await acks(command.data.requestId)) {
      expect(failed).toMatchObject({
        status: 'failed',
        error: { code: 'rows_locked', retriable: true },
        tables: [{ table: 'visits', deleted: 2 }],
      });
    }
    expect(await auditRows(command.data.requestId)).toBe(1);
    // The coordinator's retry resumes from the committed batches.
    expect(await handler()({ ...command, commandId: randomUUID() })).toBe('completed');
    expect((await acks(command.data.requestId))[2]).toMatchObject({ status: 'completed', tables: [{ deleted: 3 }] });
  });

  it('retries a retriable failure (a real lock timeout, 55P03) with backoff, and applies the command when it passes', async () => {
    await ds.query(`INSERT INTO visits (user_id, created_at) VALUES ('nora', now())`);
    const command = erasure('nora');
    await holding('LOCK TABLE retention_holds IN ACCESS EXCLUSIVE MODE', async (locker) => {
      const outcome = await handler({
        // The lock goes away during the first pause: the second try passes.
        sleep: async (ms) => {
          pauses.push(ms);
          if (locker.isTransactionActive) await locker.commitTransaction();
        },
      })(command);
      expect(outcome).toBe('completed');
    });
    expect(pauses).toEqual([10]);
    expect(await retries('lock_timeout')).toBe(1);
    expect((await acks(command.data.requestId))[0]).toMatchObject({ status: 'completed', tables: [{ deleted: 1 }] });
  });

  it('acks failed with the SQLSTATE and retriable: true when the retry budget is spent; the partition moves on', async () => {
    await ds.query(`INSERT INTO visits (user_id, created_at) VALUES ('olaf', now())`);
    const command = erasure('olaf');
    await holding('LOCK TABLE retention_holds IN ACCESS EXCLUSIVE MODE', async () => {
      const outcome = await handler({ sleep: async (ms) => void pauses.push(ms) })(command);
      expect(outcome).toBe('failed');
    });
    // Three tries: two pauses, doubling.
    expect(pauses).toEqual([10, 20]);
    expect((await acks(command.data.requestId))[0]).toMatchObject({ status: 'failed', error: { code: '55P03', retriable: true } });
    expect(await ds.query(`SELECT count(*)::int AS n FROM visits WHERE user_id = 'olaf'`)).toEqual([{ n: 1 }]);
  });

  it('keeps the error for runConsumer (which retries in place) only when even the failed ack cannot be written', async () => {
    await ds.query(`INSERT INTO visits (user_id, created_at) VALUES ('pia', now())`);
    const command = erasure('pia');
    // The job cannot read the holds, and the failed ack cannot be queued: as when the database is down.
    await holding('LOCK TABLE retention_holds, retention_outbox IN ACCESS EXCLUSIVE MODE', async () => {
      const error = await handler({ sleep: async (ms) => void pauses.push(ms) })(command).catch((e: unknown) => e);
      expect(error).toMatchObject({ driverError: { code: '55P03' } });
      expect(isRetriable(error)).toBe(true);
    });
    expect(pauses).toEqual([10, 20]);
    expect(await acks(command.data.requestId)).toEqual([]);
    // Nothing recorded as failed: the command is still running, and runConsumer's next try applies it.
    expect(await ds.query(`SELECT status FROM retention_inbox WHERE request_id = $1`, [command.data.requestId])).toEqual([{ status: 'running' }]);
    expect(await handler()(command)).toBe('completed');
  });

  it('acks failed at once, without retrying, for a file system error (a file where the directory should be: ENOTDIR)', async () => {
    await writeFile(join(filesRoot, 'exports'), 'not a directory');
    const command = sweep('exports');
    expect(await handler({ sleep: async (ms) => void pauses.push(ms) })(command)).toBe('failed');
    expect(pauses).toEqual([]);
    const [failed] = await acks(command.data.requestId);
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'ENOTDIR', retriable: false, message: 'ENOTDIR (scandir)' } });
    // No path in the ack: file names can name people.
    expect(JSON.stringify(failed)).not.toContain(filesRoot);
    // The next command is applied.
    await ds.query(`INSERT INTO visits (user_id, created_at) VALUES ('quinn', now())`);
    expect(await handler()(erasure('quinn'))).toBe('completed');
  });

  it('counts what a hold keeps in retention_records_held_total: a subject hold (nothing runs) and a record hold (the batch passes the row over)', async () => {
    await ds.query(`INSERT INTO visits (user_id, created_at) VALUES ('rosa', now()), ('rosa', now()), ('sami', now()), ('sami', now())`);
    const [kept] = (await ds.query(`SELECT id FROM visits WHERE user_id = 'sami' ORDER BY id LIMIT 1`)) as Array<{ id: string }>;
    await ds.query(
      `INSERT INTO retention_holds (hold_id, scope, subject_type, subject_id, table_name, record_key, placed_at)
       VALUES ($1, 'subject', 'user', 'rosa', NULL, NULL, now()), ($2, 'record', NULL, NULL, 'visits', $3, now())`,
      [randomUUID(), randomUUID(), kept!.id],
    );
    try {
      expect(await handler()(erasure('rosa'))).toBe('held');
      expect(await handler()(erasure('sami'))).toBe('held');
      const held = (await registry.getSingleMetric('retention_records_held_total')!.get()).values.find((v) => v.labels.policy === 'erasure:visits');
      expect(held?.value).toBe(3);
    } finally {
      await ds.query('TRUNCATE retention_holds');
    }
  });
});
