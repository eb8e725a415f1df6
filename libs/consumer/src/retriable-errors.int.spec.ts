import { createServer, type Server, Socket } from 'node:net';
import { errorCode, isRetriable, retryReason } from '@retention/contracts';
import { createDataSource, databaseName, openDatabase, TypeOrmPinoLogger } from '@retention/database';
import { createTestDatabase, createTestLogger, type TestDatabase, testStack } from '@retention/testing';
import type { DataSource, QueryRunner } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The retriable list against a real PostgreSQL: each condition is produced for real (a deadlock, a
 * serialization conflict, a killed backend, a dropped connection, …) and classified as the
 * command handler and the relay will see it, through TypeORM.
 */
describe('retriable conditions, produced on PostgreSQL', () => {
  let db: TestDatabase;
  let ds: DataSource;
  const source = (url: string): DataSource =>
    createDataSource({ url, entities: [], migrations: [], logger: new TypeOrmPinoLogger(createTestLogger('db').logger) });
  const failure = (work: Promise<unknown>): Promise<unknown> =>
    work.then(
      () => {
        throw new Error('expected a failure');
      },
      (error: unknown) => error,
    );
  async function runner(): Promise<QueryRunner> {
    const r = ds.createQueryRunner();
    await r.connect();
    return r;
  }

  beforeAll(async () => {
    db = await createTestDatabase(testStack().databaseUrl, 'int_retriable');
    ds = await openDatabase(source(db.url));
    await ds.query('CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL)');
    await ds.query('INSERT INTO t VALUES (1, 1), (2, 2)');
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  it('deadlock: 40P01', async () => {
    const [a, b] = [await runner(), await runner()];
    try {
      await a.startTransaction();
      await b.startTransaction();
      await a.query('UPDATE t SET v = v + 1 WHERE id = 1');
      await b.query('UPDATE t SET v = v + 1 WHERE id = 2');
      const results = await Promise.allSettled([a.query('UPDATE t SET v = v + 1 WHERE id = 2'), b.query('UPDATE t SET v = v + 1 WHERE id = 1')]);
      const error = results.find((r) => r.status === 'rejected')!.reason as unknown;
      expect(errorCode(error)).toBe('40P01');
      expect(retryReason(error)).toBe('deadlock');
    } finally {
      for (const r of [a, b]) {
        await r.rollbackTransaction().catch(() => undefined);
        await r.release();
      }
    }
  });

  it('serialization failure: 40001', async () => {
    const [a, b] = [await runner(), await runner()];
    try {
      for (const r of [a, b]) {
        await r.startTransaction('SERIALIZABLE');
        await r.query('SELECT sum(v) FROM t');
      }
      await a.query('UPDATE t SET v = v + 10 WHERE id = 1');
      await b.query('UPDATE t SET v = v + 10 WHERE id = 2');
      await a.commitTransaction();
      const error = await failure(b.commitTransaction());
      expect(errorCode(error)).toBe('40001');
      expect(retryReason(error)).toBe('serialization_failure');
    } finally {
      for (const r of [a, b]) {
        await r.rollbackTransaction().catch(() => undefined);
        await r.release();
      }
    }
  });

  it('lock timeout: 55P03', async () => {
    const [a, b] = [await runner(), await runner()];
    try {
      await a.startTransaction();
      await a.query('SELECT * FROM t WHERE id = 1 FOR UPDATE');
      await b.startTransaction();
      await b.query(`SET LOCAL lock_timeout = '100ms'`);
      const error = await failure(b.query('SELECT * FROM t WHERE id = 1 FOR UPDATE'));
      expect(errorCode(error)).toBe('55P03');
      expect(retryReason(error)).toBe('lock_timeout');
    } finally {
      for (const r of [a, b]) {
        await r.rollbackTransaction().catch(() => undefined);
        await r.release();
      }
    }
  });

  it('statement timeout: 57014', async () => {
    const r = await runner();
    try {
      await r.startTransaction();
      await r.query(`SET LOCAL statement_timeout = '50ms'`);
      const error = await failure(r.query('SELECT pg_sleep(2)'));
      expect(errorCode(error)).toBe('57014');
      expect(retryReason(error)).toBe('statement_timeout');
    } finally {
      await r.rollbackTransaction().catch(() => undefined);
      await r.release();
    }
  });

  it('a backend terminated by an administrator: 57P01', async () => {
    // A pool of its own: the terminated connection must not go back to the shared one.
    const own = await openDatabase(source(db.url), { migrate: false });
    const r = own.createQueryRunner();
    await r.connect();
    try {
      const [{ pid }] = (await r.query('SELECT pg_backend_pid() AS pid')) as [{ pid: number }];
      const sleeping = failure(r.query('SELECT pg_sleep(5)'));
      await new Promise((resolve) => setTimeout(resolve, 200));
      await ds.query('SELECT pg_terminate_backend($1)', [pid]);
      const error = await sleeping;
      expect(errorCode(error)).toBe('57P01');
      expect(retryReason(error)).toBe('connection_lost');
    } finally {
      await r.release();
      await own.destroy();
    }
  });

  it('too many connections: 53300', async () => {
    // A database of its own that takes no connections (the test role is no superuser, so the limit applies).
    const full = await createTestDatabase(testStack().databaseUrl, 'int_full');
    const limited = source(full.url);
    try {
      await ds.query(`ALTER DATABASE "${databaseName(full.url)}" CONNECTION LIMIT 0`);
      const error = await failure(limited.initialize());
      expect(errorCode(error)).toBe('53300');
      expect(retryReason(error)).toBe('too_many_connections');
    } finally {
      if (limited.isInitialized) await limited.destroy();
      await full.drop();
    }
  });

  it('nothing listening: ECONNREFUSED', async () => {
    const url = new URL(db.url);
    url.port = String(await closedPort());
    const error = await failure(source(url.toString()).initialize());
    expect(errorCode(error)).toBe('ECONNREFUSED');
    expect(retryReason(error)).toBe('connection_lost');
  });

  describe('through a proxy that drops the connection mid-query', () => {
    let proxy: Server;
    let sockets: Socket[];
    let viaProxy: DataSource;

    beforeAll(async () => {
      sockets = [];
      const target = new URL(db.url);
      proxy = createServer((client) => {
        const server = new Socket();
        server.connect(Number(target.port), target.hostname);
        client.pipe(server).pipe(client);
        client.on('error', () => undefined);
        server.on('error', () => undefined);
        client.on('close', () => server.destroy());
        server.on('close', () => client.destroy());
        sockets.push(client);
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      const url = new URL(db.url);
      url.hostname = '127.0.0.1';
      url.port = String((proxy.address() as { port: number }).port);
      viaProxy = await openDatabase(source(url.toString()), { migrate: false });
    });
    afterAll(async () => {
      await viaProxy?.destroy().catch(() => undefined);
      await new Promise((resolve) => proxy?.close(resolve));
    });

    it('closed without an error message ("Connection terminated unexpectedly", no code): marked, so a lost connection', async () => {
      const running = failure(viaProxy.query('SELECT pg_sleep(5)'));
      await new Promise((resolve) => setTimeout(resolve, 200));
      for (const s of sockets) s.end();
      const error = (await running) as { driverError?: Error };
      // pg's own words, shown only to say which case this is; the decision uses the mark, not this text.
      expect(error.driverError?.message).toBe('Connection terminated unexpectedly');
      expect(error.driverError).not.toHaveProperty('code');
      expect(retryReason(error)).toBe('connection_lost');
      expect(errorCode(error)).toBe('connection_lost');
      // The pool drops the broken client: the next query works.
      expect(await viaProxy.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    });

    it('reset: ECONNRESET', async () => {
      const running = failure(viaProxy.query('SELECT pg_sleep(5)'));
      await new Promise((resolve) => setTimeout(resolve, 200));
      for (const s of sockets) s.resetAndDestroy();
      const error = await running;
      expect(errorCode(error)).toBe('ECONNRESET');
      expect(retryReason(error)).toBe('connection_lost');
    });
  });

  it('not retriable: a constraint violation, an undefined table, bad input', async () => {
    for (const sql of ['INSERT INTO t VALUES (1, 1)', 'SELECT * FROM missing_table', `SELECT 'x'::int`]) {
      const error = await failure(ds.query(sql));
      expect(isRetriable(error), sql).toBe(false);
    }
  });
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
