import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Ack, decodeEvent, EventTypes, topicNames } from '@retention/contracts';
import { createDataSource, openDatabase, TypeOrmPinoLogger } from '@retention/database';
import { Registry } from '@retention/observability';
import { OutboxMessage, outboxMigrations } from '@retention/outbox';
import { bindPolicies, type BoundPolicies, definePolicies, deleteRequestFiles, policyMigrations } from '@retention/policy';
import { createTestDatabase, createTestLogger, type TestDatabase, testStack } from '@retention/testing';
import { Column, type DataSource, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Command, createCommandHandler } from './command.handler';
import { CreateRetentionInbox1763800000200 } from './inbox.migration';
import { createRetentionMetrics } from './metrics';

@Entity({ name: 'documents' })
class Document {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id!: string;
  @Column({ type: 'text', name: 'user_id' }) userId!: string;
  @Column({ type: 'text', nullable: true }) path!: string | null;
  @Column({ type: 'timestamptz', name: 'created_at' }) createdAt!: Date;
}

class CreateDocuments1700000000000 {
  name = 'CreateDocuments1700000000000';
  async up(q: { query(sql: string): Promise<unknown> }): Promise<void> {
    await q.query(`CREATE TABLE documents (id bigserial PRIMARY KEY, user_id text NOT NULL, path text, created_at timestamptz NOT NULL)`);
    await q.query(`CREATE INDEX documents_user ON documents (user_id)`);
    await q.query(`CREATE INDEX documents_created_at ON documents (created_at)`);
  }
  async down(): Promise<void> {}
}

const policies = definePolicies({
  service: 'documents',
  subjects: { user: { table: 'documents', column: 'user_id', action: 'delete', files: { column: 'path' } } },
  rules: [
    {
      name: 'documents',
      table: 'documents',
      timestampColumn: 'created_at',
      retention: { days: 30 },
      action: 'delete',
      files: { column: 'path' },
      legalBasis: 'test',
    },
  ],
});

/**
 * An erasure acks only once the files of its deleted rows are gone, on a real PostgreSQL and file
 * system: a crash between the deletion and the ack deletes again (a missing file counts as gone),
 * and a file that stays fails the command with its errno until a retry finds it fixed.
 */
describe('erasure files before the ack', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let bound: BoundPolicies;
  let filesRoot: string;

  beforeAll(async () => {
    db = await createTestDatabase(testStack().databaseUrl, 'int_erasure_files');
    filesRoot = await mkdtemp(join(tmpdir(), 'retention-int-erasure-files-'));
    ds = await openDatabase(
      createDataSource({
        url: db.url,
        entities: [Document, OutboxMessage],
        migrations: [...outboxMigrations, ...policyMigrations, CreateRetentionInbox1763800000200, CreateDocuments1700000000000],
        logger: new TypeOrmPinoLogger(createTestLogger('documents-db').logger),
      }),
    );
    bound = bindPolicies(policies, ds, { hashKey: 'test-hash-key-0123456789', filesRoot });
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
    await rm(filesRoot, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await ds.query('TRUNCATE documents, retention_audit, retention_inbox, retention_outbox, retention_file_deletions');
  });

  const handler = (deleteFiles: (requestId: string) => Promise<unknown> = (id) => deleteRequestFiles(ds, filesRoot, id)) =>
    createCommandHandler({
      dataSource: ds,
      bound,
      topics: topicNames(''),
      logger: createTestLogger('documents').logger,
      metrics: createRetentionMetrics(new Registry()),
      onAckQueued: () => undefined,
      holdsCaughtUp: async () => undefined,
      deleteRequestFiles: deleteFiles,
      retry: { attempts: 3, maxMs: 60_000, backoffMs: 10 },
    });
  const erasure = (user: string, requestId: string = randomUUID()): Extract<Command, { kind: 'erasure' }> => ({
    kind: 'erasure',
    commandId: randomUUID(),
    data: {
      requestId,
      subject: { type: 'user', id: user },
      dryRun: false,
      requestedAt: new Date().toISOString(),
      dueAt: new Date(Date.now() + 86_400_000).toISOString(),
      targets: [],
      attempt: 1,
      holds: [],
    },
  });
  const acks = async (requestId: string): Promise<Ack[]> => {
    const rows = (await ds.query(`SELECT value FROM retention_outbox ORDER BY id`)) as Array<{ value: string }>;
    return rows
      .map((r) => decodeEvent(Buffer.from(r.value)))
      .flatMap((d) => (d.ok && d.event.type === EventTypes.ack && d.event.data.requestId === requestId ? [d.event.data] : []));
  };
  const queued = async (): Promise<number> => ((await ds.query(`SELECT count(*)::int AS n FROM retention_file_deletions`)) as Array<{ n: number }>)[0]!.n;
  async function addDocuments(user: string, n: number): Promise<string[]> {
    await mkdir(join(filesRoot, 'docs'), { recursive: true });
    const paths: string[] = [];
    for (let i = 0; i < n; i++) {
      const path = `docs/${randomUUID()}.pdf`;
      await writeFile(join(filesRoot, path), 'x');
      await ds.query(`INSERT INTO documents (user_id, path, created_at) VALUES ($1, $2, now())`, [user, path]);
      paths.push(path);
    }
    return paths;
  }

  it('killed after deleting the files and before the ack: the redelivered command writes the ack and deletes nothing twice', async () => {
    const paths = await addDocuments('ada', 3);
    const command = erasure('ada');
    const stop = new AbortController();
    const killed = handler(async (id) => {
      await deleteRequestFiles(ds, filesRoot, id);
      // The process dies here: the files are gone, the ack is not written.
      stop.abort();
      throw new Error('killed');
    });
    await expect(killed(command, { signal: stop.signal })).rejects.toThrow('killed');
    expect(await acks(command.data.requestId)).toEqual([]);
    for (const p of paths) expect(existsSync(join(filesRoot, p))).toBe(false);
    expect(await queued()).toBe(0);

    expect(await handler()(command)).toBe('completed');
    const [ack] = await acks(command.data.requestId);
    expect(ack).toMatchObject({ status: 'completed', tables: [expect.objectContaining({ table: 'documents', matched: 3, deleted: 3 })] });
  });

  it('killed after unlinking and before the queue row went: the files count as gone and the erasure completes', async () => {
    const paths = await addDocuments('bea', 2);
    const command = erasure('bea');
    const stop = new AbortController();
    // The batch commits and queues the files; the process dies before deleting any.
    const killed = handler(async () => {
      stop.abort();
      throw new Error('killed');
    });
    await expect(killed(command, { signal: stop.signal })).rejects.toThrow('killed');
    expect(await queued()).toBe(2);
    // One file was unlinked before the crash, its queue row not yet removed.
    await unlink(join(filesRoot, paths[0]!));

    expect(await handler()(command)).toBe('completed');
    for (const p of paths) expect(existsSync(join(filesRoot, p))).toBe(false);
    expect(await queued()).toBe(0);
    expect((await acks(command.data.requestId)).map((a) => a.status)).toEqual(['completed']);
  });

  it('a file that cannot be deleted acks failed with its errno and stays queued; the retried command deletes it and completes', async () => {
    const [kept, stuck] = await addDocuments('cleo', 2);
    await rm(join(filesRoot, stuck!));
    await mkdir(join(filesRoot, stuck!, 'inner'), { recursive: true });

    const first = erasure('cleo');
    expect(await handler()(first)).toBe('failed');
    const [failed] = await acks(first.data.requestId);
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'EISDIR', retriable: false }, tables: [expect.objectContaining({ deleted: 2 })] });
    expect(failed!.error!.message).not.toContain(stuck!);
    expect(existsSync(join(filesRoot, kept!))).toBe(false);
    expect(await queued()).toBe(1);

    await rm(join(filesRoot, stuck!), { recursive: true });
    await writeFile(join(filesRoot, stuck!), 'x');
    // The coordinator's retry: the same request, a new command.
    const retry = { ...erasure('cleo', first.data.requestId), data: { ...first.data, attempt: 2 } };
    expect(await handler()(retry)).toBe('completed');
    expect(existsSync(join(filesRoot, stuck!))).toBe(false);
    expect(await queued()).toBe(0);
    const all = await acks(first.data.requestId);
    expect(all.at(-1)).toMatchObject({ status: 'completed', commandId: retry.commandId, tables: [expect.objectContaining({ matched: 2, deleted: 2 })] });
  });

  it('a sweep leaves its files to the asynchronous flush; an erasure leaves the sweep queue alone', async () => {
    await ds.query(`INSERT INTO retention_file_deletions (path) VALUES ('docs/swept.pdf')`);
    await addDocuments('dora', 1);
    const command = erasure('dora');
    expect(await handler()(command)).toBe('completed');
    expect(await ds.query(`SELECT path, request_id FROM retention_file_deletions`)).toEqual([{ path: 'docs/swept.pdf', request_id: null }]);
  });
});
