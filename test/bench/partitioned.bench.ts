/**
 * Partition-aware sweep: a table range-partitioned by month, swept by the platform's real handler
 * (createCommandHandler, `sweep.requested`: each month wholly before the cutoff dropped in a
 * transaction of its own, its rows counted first; the month that straddles the cutoff deleted in
 * batches), against the same plain batched DELETE loop the delete benchmark uses, on an
 * unpartitioned copy of the same rows.
 */
import { randomUUID } from 'node:crypto';
import { type Command, CreateRetentionInbox1763800000200, createCommandHandler, createRetentionMetrics } from '@retention/consumer';
import { type Ack, topicNames } from '@retention/contracts';
import { createDataSource, openDatabase } from '@retention/database';
import { createLogger, Registry } from '@retention/observability';
import { OutboxMessage, outboxMigrations } from '@retention/outbox';
import { bindPolicies, definePolicies, policyMigrations } from '@retention/policy';
import type pg from 'pg';
import type { DataSource } from 'typeorm';
import { BenchPart } from './entities';
import { type BenchDatabases, createBenchDatabase, intEnv, log, pgClient, round, type Stack } from './lib/env';
import { repeatCount, spread } from './lib/repeat';
import { type BenchResult, emptyResult } from './lib/results';

const START = new Date('2023-01-01T00:00:00.000Z');

export function partitionedSizes(): { rows: number; months: number; expiredMonths: number; batch: number; repeat: number } {
  const rows = intEnv('BENCH_PARTITIONED_ROWS', 10_000_000);
  const months = intEnv('BENCH_PARTITIONED_MONTHS', 20);
  const expiredMonths = intEnv('BENCH_PARTITIONED_EXPIRED', Math.floor(months / 2));
  if (expiredMonths >= months) throw new Error('BENCH_PARTITIONED_EXPIRED must be below BENCH_PARTITIONED_MONTHS');
  return { rows, months, expiredMonths, batch: intEnv('BENCH_SWEEP_BATCH', 5000), repeat: intEnv('BENCH_PARTITIONED_REPEAT', repeatCount()) };
}

const monthStart = (i: number): Date => new Date(Date.UTC(START.getUTCFullYear(), START.getUTCMonth() + i, 1));

/** The cutoff: the middle of the first month not wholly expired (it straddles the cutoff). */
function cutoffOf(expiredMonths: number): Date {
  const from = monthStart(expiredMonths).getTime();
  return new Date(from + (monthStart(expiredMonths + 1).getTime() - from) / 2);
}

/**
 * The rows, once: `rows` rows spread evenly over `months` months (id order = time order), in an
 * unlogged source table both benchmark tables are filled from.
 */
async function buildSource(client: pg.Client, rows: number, months: number): Promise<void> {
  const span = (monthStart(months).getTime() - START.getTime()) / 1000;
  await client.query('DROP TABLE IF EXISTS bench_part_source');
  await client.query(
    `CREATE UNLOGGED TABLE bench_part_source AS
    SELECT i + 1 AS id, 'user-' || (i % 200000) AS user_id, $1::timestamptz + make_interval(secs => i * $2::float8) AS created_at, md5(i::text) AS payload
    FROM generate_series(0, $3::int - 1) i`,
    [START.toISOString(), span / rows, rows],
  );
}

async function freshFlat(client: pg.Client): Promise<number> {
  const t0 = performance.now();
  await client.query('DROP TABLE IF EXISTS bench_flat');
  await client.query(
    'CREATE TABLE bench_flat (id bigint PRIMARY KEY, user_id text NOT NULL, created_at timestamptz NOT NULL, payload text NOT NULL) WITH (autovacuum_enabled = false)',
  );
  await client.query('INSERT INTO bench_flat SELECT * FROM bench_part_source');
  await client.query('CREATE INDEX bench_flat_created_at ON bench_flat (created_at)');
  await client.query('VACUUM (ANALYZE) bench_flat');
  return (performance.now() - t0) / 1000;
}

async function freshPartitioned(client: pg.Client, months: number): Promise<number> {
  const t0 = performance.now();
  await client.query('DROP TABLE IF EXISTS bench_part');
  await client.query('TRUNCATE retention_audit, retention_inbox, retention_outbox');
  await client.query(
    `CREATE TABLE bench_part (id bigint NOT NULL, user_id text NOT NULL, created_at timestamptz NOT NULL, payload text NOT NULL, PRIMARY KEY (id, created_at))
     PARTITION BY RANGE (created_at)`,
  );
  for (let i = 0; i < months; i++) {
    const from = monthStart(i);
    const name = `bench_part_${from.getUTCFullYear()}_${String(from.getUTCMonth() + 1).padStart(2, '0')}`;
    await client.query(
      `CREATE TABLE ${name} PARTITION OF bench_part FOR VALUES FROM ('${from.toISOString()}') TO ('${monthStart(i + 1).toISOString()}') WITH (autovacuum_enabled = false)`,
    );
  }
  await client.query('INSERT INTO bench_part SELECT * FROM bench_part_source');
  await client.query('CREATE INDEX bench_part_created_at ON bench_part (created_at)');
  await client.query('VACUUM (ANALYZE) bench_part');
  return (performance.now() - t0) / 1000;
}

interface Run {
  seconds: number;
  rows: number;
  /** Per-batch wall time; for the platform, the first `dropped` are the partition drops. */
  batchMs: number[];
  dropped: number;
  partitionsDropped?: string[];
}

async function runPlatform(dataSource: DataSource, cutoff: Date, batch: number): Promise<Run> {
  const asOf = new Date(cutoff.getTime() + 30 * 86_400_000);
  const bound = bindPolicies(
    definePolicies({
      service: 'bench-partitioned',
      rules: [
        {
          name: 'bench_part',
          table: 'bench_part',
          timestampColumn: 'created_at',
          retention: { days: 30 },
          action: 'delete',
          legalBasis: 'Benchmark: monthly partitions past 30 days are dropped',
          batchSize: batch,
        },
      ],
    }),
    dataSource,
    { hashKey: 'bench-hash-key-0123456789abcdef' },
  );
  const handle = createCommandHandler({
    dataSource,
    bound,
    topics: topicNames('bench.'),
    logger: createLogger({ service: 'bench-partitioned', level: 'warn' }),
    metrics: createRetentionMetrics(new Registry()),
    onAckQueued: () => undefined,
    holdsCaughtUp: async () => undefined,
    afterCommit: async () => undefined,
    policyHash: 'bench',
    // The benchmark's asOf is years back: nothing in it lies in the future.
    now: () => new Date(),
  });
  const requestId = randomUUID();
  const command: Command = {
    kind: 'sweep',
    commandId: randomUUID(),
    data: { requestId, policy: 'bench_part', dryRun: false, requestedAt: asOf.toISOString(), asOf: asOf.toISOString(), targets: [], attempt: 1, holds: [] },
  };
  const batchMs: number[] = [];
  const t0 = performance.now();
  let last = t0;
  const status = await handle(command, {
    heartbeat: async () => {
      const now = performance.now();
      batchMs.push(now - last);
      last = now;
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  const [row] = (await dataSource.query('SELECT ack FROM retention_inbox WHERE request_id = $1', [requestId])) as Array<{ ack: Ack }>;
  const table = row?.ack.tables[0];
  if (status !== 'completed' || !table) throw new Error(`platform sweep ended ${status}`);
  const dropped = table.partitions?.dropped ?? [];
  return { seconds, rows: table.deleted, batchMs, dropped: dropped.length, partitionsDropped: dropped };
}

async function runBaseline(client: pg.Client, cutoff: Date, batch: number): Promise<Run> {
  // The same statement as the delete benchmark's baseline (a CTE joined on the key: plan-stable).
  const sql = `WITH batch AS (SELECT id FROM bench_flat WHERE created_at < $1 LIMIT ${batch}) DELETE FROM bench_flat t USING batch WHERE t.id = batch.id`;
  const batchMs: number[] = [];
  let rows = 0;
  const t0 = performance.now();
  for (;;) {
    const b0 = performance.now();
    const n = (await client.query(sql, [cutoff.toISOString()])).rowCount ?? 0;
    batchMs.push(performance.now() - b0);
    rows += n;
    if (n === 0) break;
  }
  return { seconds: (performance.now() - t0) / 1000, rows, batchMs, dropped: 0 };
}

export async function runPartitionedBenchmark(stack: Stack, dbs: BenchDatabases): Promise<BenchResult> {
  const sizes = partitionedSizes();
  const started = performance.now();
  const cutoff = cutoffOf(sizes.expiredMonths);
  const result = emptyResult(
    'sweep-partitioned',
    `Sweep of a table partitioned by month (${sizes.rows.toLocaleString()} rows, ${sizes.months} months)`,
    {
      ratio: 20,
      meaning: `median time of the same batched DELETE on an unpartitioned copy ÷ median time of the platform's partition-aware sweep ≥ 20 (and every partition drop under 1 s), ${sizes.repeat} runs each, alternating`,
    },
    { evidence: {} },
  );
  const db = await createBenchDatabase(stack, 'partitioned', dbs);
  const dataSource = createDataSource({
    url: db.url,
    entities: [BenchPart, OutboxMessage],
    migrations: [...outboxMigrations, ...policyMigrations, CreateRetentionInbox1763800000200],
    applicationName: 'retention-bench-partitioned',
  });
  await openDatabase(dataSource);
  const client = await pgClient(db.url);
  try {
    log(`Partitioned sweep: building ${sizes.rows.toLocaleString()} rows over ${sizes.months} months (cutoff ${cutoff.toISOString()})`);
    const s0 = performance.now();
    await buildSource(client, sizes.rows, sizes.months);
    log(`  source rows in ${round((performance.now() - s0) / 1000, 1)} s`);
    const [{ due }] = (await client.query('SELECT count(*)::int AS due FROM bench_part_source WHERE created_at < $1', [cutoff.toISOString()])).rows as [
      { due: number },
    ];

    const plats: Run[] = [];
    const bases: Run[] = [];
    const builds: number[] = [];
    for (let rep = 0; rep < sizes.repeat; rep++) {
      const order = rep % 2 === 0 ? (['baseline', 'platform'] as const) : (['platform', 'baseline'] as const);
      for (const path of order) {
        if (path === 'baseline') {
          builds.push(await freshFlat(client));
          const run = await runBaseline(client, cutoff, sizes.batch);
          bases.push(run);
          await client.query('DROP TABLE bench_flat');
          log(`  run ${rep + 1}/${sizes.repeat} baseline (unpartitioned, batched DELETE): ${run.rows.toLocaleString()} rows in ${round(run.seconds)} s`);
        } else {
          builds.push(await freshPartitioned(client, sizes.months));
          const run = await runPlatform(dataSource, cutoff, sizes.batch);
          plats.push(run);
          const drops = run.batchMs.slice(0, run.dropped);
          log(
            `  run ${rep + 1}/${sizes.repeat} platform (partition-aware): ${run.rows.toLocaleString()} rows in ${round(run.seconds, 3)} s, ${run.dropped} partitions dropped (slowest drop ${round(Math.max(...drops), 1)} ms)`,
          );
          await client.query('DROP TABLE bench_part');
        }
      }
    }
    const platS = spread(plats.map((r) => r.seconds));
    const baseS = spread(bases.map((r) => r.seconds));
    const drops = plats.flatMap((r) => r.batchMs.slice(0, r.dropped));
    const dropMs = spread(drops);
    result.ratio = round(baseS.median / platS.median, 1);
    result.pass = result.ratio >= result.target.ratio && dropMs.max < 1000;
    result.headline = {
      'platform s (median)': platS.median,
      'baseline s (median)': baseS.median,
      'platform spread %': platS.spreadPercent,
      'baseline spread %': baseS.spreadPercent,
      'partition drop ms (median / max)': `${round(dropMs.median, 1)} / ${round(dropMs.max, 1)}`,
      runs: sizes.repeat,
    };
    result.platform = {
      path: 'createCommandHandler(sweep.requested): per expired month one transaction (lock the parent, count the month and its held rows, DROP TABLE, audit row, job state); then the straddling month in batches of DELETE',
      rowsDeleted: plats[0]?.rows,
      partitionsDropped: plats[0]?.partitionsDropped,
      seconds: platS,
      partitionDropMs: dropMs,
      batchesAfterDrops: plats[0] ? plats[0].batchMs.length - plats[0].dropped : 0,
      dropsTotalSeconds: spread(plats.map((r) => r.batchMs.slice(0, r.dropped).reduce((a, b) => a + b, 0) / 1000)),
      afterDropsSeconds: spread(plats.map((r) => r.batchMs.slice(r.dropped).reduce((a, b) => a + b, 0) / 1000)),
      afterDropsBatchMs: plats[0] ? plats[0].batchMs.slice(plats[0].dropped).map((ms) => round(ms, 1)) : [],
    };
    result.baseline = {
      path: `client loop of autocommit WITH batch AS (SELECT id … WHERE created_at < $1 LIMIT ${sizes.batch}) DELETE … USING batch on an unpartitioned copy (same rows, same indexes)`,
      rowsDeleted: bases[0]?.rows,
      seconds: baseS,
      statements: bases[0]?.batchMs.length,
    };
    result.notes.push(
      `${sizes.rows.toLocaleString()} rows evenly over ${sizes.months} months from ${START.toISOString().slice(0, 10)}; ${sizes.expiredMonths} months wholly before the cutoff, the next one straddles it (${due.toLocaleString()} rows due); batch ${sizes.batch.toLocaleString()}. Both tables rebuilt from the same source before every run (${round(Math.min(...builds), 1)}–${round(Math.max(...builds), 1)} s), autovacuum off; ${sizes.repeat} runs of each, alternating which goes first; ratio = median ÷ median.`,
      'A partition drop is timed from the end of the previous batch to the end of its own transaction: inbox lock, holds, catalog lookups, ACCESS EXCLUSIVE lock on the parent, count of the partition (with the hold check), DROP TABLE, audit row, state, commit.',
    );
    const wrong = [...plats, ...bases].filter((r) => r.rows !== due);
    if (wrong.length > 0)
      result.notes.push(`CHECK FAILED: expected ${due} rows deleted by every run; got ${[...plats, ...bases].map((r) => r.rows).join(', ')}.`);
  } finally {
    await client.query('DROP TABLE IF EXISTS bench_part, bench_flat, bench_part_source').catch(() => undefined);
    await client.end();
    await dataSource.destroy();
    await dbs.drop(db.name).catch(() => undefined);
    result.durationSeconds = round((performance.now() - started) / 1000, 1);
  }
  return result;
}
