/**
 * Gauge scrape: `retention_oldest_unprocessed_days` (libs/consumer/src/oldest-unprocessed.gauge.ts)
 * collected through a real prom-client Registry on a large table, against the bare index lookup
 * `SELECT min(created_at) … WHERE created_at < $cutoff` in the same database. Two policies on the
 * same table, each with its own registry:
 *  - a delete rule that is behind (10 % of the rows due): the oldest due row is the first index entry;
 *  - an anonymize rule with a marker column that is caught up (all but a few rows before its
 *    cutoff already anonymized): the oldest *unmarked* row is far into the index.
 */
import { CreateRetentionInbox1763800000200, registerOldestUnprocessedGauge } from '@retention/consumer';
import { createDataSource, openDatabase } from '@retention/database';
import { createLogger, Registry } from '@retention/observability';
import { OutboxMessage, outboxMigrations } from '@retention/outbox';
import {
  type BoundPolicies,
  bindPolicies,
  cutoff,
  definePolicies,
  missingIndexes,
  oldestDue,
  overdueDays,
  planSweep,
  policyMigrations,
  runBatch,
  type TableStep,
} from '@retention/policy';
import type pg from 'pg';
import type { DataSource, EntityManager } from 'typeorm';
import { BenchGauge } from './entities';
import { type BenchDatabases, createBenchDatabase, explainAnalyze, intEnv, log, percentile, pgClient, round, sleep, type Stack } from './lib/env';
import { type BenchResult, emptyResult } from './lib/results';

const AS_OF = new Date('2025-01-31T00:00:00.000Z');
const SPAN_DAYS = 5 * 365;

export function gaugeSizes(): { rows: number; scrapes: number; pendingMarked: number } {
  return { rows: intEnv('BENCH_GAUGE_ROWS', 10_000_000), scrapes: intEnv('BENCH_GAUGE_SCRAPES', 30), pendingMarked: intEnv('BENCH_GAUGE_PENDING', 1000) };
}

const deleteDays = Math.floor(SPAN_DAYS * 0.9); // 10 % of the span (and of the rows) is past the cutoff
const anonymizeDays = Math.floor(SPAN_DAYS * 0.5); // half of the rows are past this cutoff

/** Per-row periods of the per-record rule: NULL (the default, `deleteDays`), half of it, or longer than the data's span. */
const perRecordDays = [null, Math.floor(deleteDays / 2), 2 * SPAN_DAYS] as const;

const policies = (rule: 'delete' | 'anonymize' | 'per-record') =>
  definePolicies({
    service: 'bench-gauge',
    subjects: { user: { table: 'bench_gauge', column: 'user_id', action: 'delete' } },
    rules: [
      rule === 'per-record'
        ? {
            name: 'gauge_per_record',
            table: 'bench_gauge',
            timestampColumn: 'created_at',
            retentionDaysColumn: 'retention_days',
            retention: { days: deleteDays },
            action: 'delete',
            legalBasis: 'Benchmark: per-record periods',
          }
        : rule === 'delete'
          ? {
              name: 'gauge_delete',
              table: 'bench_gauge',
              timestampColumn: 'created_at',
              retention: { days: deleteDays },
              action: 'delete',
              legalBasis: 'Benchmark: delete rule, behind',
            }
          : {
              name: 'gauge_anonymize',
              table: 'bench_gauge',
              timestampColumn: 'created_at',
              retention: { days: anonymizeDays },
              action: 'anonymize',
              anonymize: { payload: 'redact' },
              markerColumn: 'anonymized_at',
              legalBasis: 'Benchmark: anonymize rule with marker, caught up',
            },
    ],
  });

/** The SQL oldestDue sends, captured by a manager that only records. */
async function gaugeSql(bound: BoundPolicies): Promise<{ sql: string; params: unknown[] }> {
  const plan = planSweep(bound, { asOf: AS_OF }, []);
  if (plan.status !== 'run') throw new Error('no plan');
  let captured: { sql: string; params: unknown[] } | undefined;
  const recorder = { query: async (sql: string, params: unknown[]) => ((captured = { sql, params }), []) } as unknown as EntityManager;
  await oldestDue(recorder, bound, plan.steps[0] as TableStep);
  return captured!;
}

interface PlanFacts {
  text: string;
  executionMs: number;
  sharedBlocks: number;
  indexScan: boolean;
  seqScan: boolean;
  rowsRemovedByFilter: number;
}

async function explain(client: pg.Client, sql: string, params: unknown[]): Promise<PlanFacts> {
  const text = (await client.query(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params)).rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n');
  const [json] = (await client.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sql}`, params)).rows[0]['QUERY PLAN'] as Array<{
    Plan: PlanNode;
    'Execution Time': number;
  }>;
  const nodes: PlanNode[] = [];
  const walk = (n: PlanNode): void => {
    nodes.push(n);
    for (const c of n.Plans ?? []) walk(c);
  };
  walk(json!.Plan);
  const onTable = nodes.filter((n) => n['Relation Name'] === 'bench_gauge');
  return {
    text,
    executionMs: round(json!['Execution Time'], 3),
    sharedBlocks: (json!.Plan['Shared Hit Blocks'] ?? 0) + (json!.Plan['Shared Read Blocks'] ?? 0),
    indexScan: onTable.some((n) => /Index/.test(n['Node Type'])),
    seqScan: onTable.some((n) => n['Node Type'] === 'Seq Scan'),
    rowsRemovedByFilter: onTable.reduce((s, n) => s + (n['Rows Removed by Filter'] ?? 0), 0),
  };
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

/** Times `registry.metrics()` (what a Prometheus scrape calls) `n` times. */
async function scrape(registry: Registry, n: number): Promise<{ ms: number[]; lastValue: string }> {
  const ms: number[] = [];
  let text = '';
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    text = await registry.metrics();
    ms.push(performance.now() - t0);
  }
  const line = text.split('\n').find((l) => l.startsWith('retention_oldest_unprocessed_days{'));
  return { ms, lastValue: line ?? '(series absent: collect failed or timed out)' };
}

const stats = (ms: number[]) => ({
  scrapes: ms.length,
  p50Ms: round(percentile(ms, 50), 3),
  p99Ms: round(percentile(ms, 99), 3),
  maxMs: round(Math.max(...ms), 3),
});

export async function runGaugeBenchmark(stack: Stack, dbs: BenchDatabases): Promise<BenchResult> {
  const sizes = gaugeSizes();
  const started = performance.now();
  const result = emptyResult(
    'gauge',
    'Gauge scrape retention_oldest_unprocessed_days',
    {
      ratio: 0.1,
      meaning:
        'index-bound: the gauge query reads a handful of index/heap pages whatever the table size (EXPLAIN), and a scrape costs the same order as the bare index lookup (ratio = bare lookup p50 ÷ scrape p50 ≥ 0.1)',
    },
    { evidence: {} },
  );
  const db = await createBenchDatabase(stack, 'gauge', dbs);
  const dataSource: DataSource = createDataSource({
    url: db.url,
    entities: [BenchGauge, OutboxMessage],
    migrations: [...outboxMigrations, ...policyMigrations, CreateRetentionInbox1763800000200],
    applicationName: 'retention-bench-gauge',
  });
  await openDatabase(dataSource);
  const client = await pgClient(db.url);
  try {
    const n = sizes.rows;
    const step = (SPAN_DAYS * 86_400) / n; // seconds between consecutive rows
    const anonymizeCutoff = cutoff(AS_OF, { days: anonymizeDays });
    // Row i is at AS_OF − (n − i) × step; rows before the anonymize cutoff except the last
    // `pendingMarked` of them carry the marker (a sweep ran; a few rows became due since).
    const dueBeforeAnonCutoff = Math.floor(n - (AS_OF.getTime() - anonymizeCutoff.getTime()) / 1000 / step);
    const markedBelow = Math.max(0, dueBeforeAnonCutoff - sizes.pendingMarked);
    log(`Gauge: loading ${n.toLocaleString()} rows (generate_series), ${markedBelow.toLocaleString()} of them already anonymized`);
    const t0 = performance.now();
    await client.query(
      `CREATE TABLE bench_gauge (id bigserial PRIMARY KEY, user_id text NOT NULL, created_at timestamptz NOT NULL, payload text NOT NULL, anonymized_at timestamptz,
         retention_days int) WITH (autovacuum_enabled = false)`,
    );
    await client.query(
      `INSERT INTO bench_gauge (user_id, created_at, payload, anonymized_at, retention_days)
       SELECT 'user-' || (i % 500000), $1::timestamptz - make_interval(secs => ($2::int - i) * $3::float8), md5(i::text),
              CASE WHEN i < $4::int THEN $1::timestamptz END, ($5::int[])[1 + i % 3]
       FROM generate_series(0, $2::int - 1) i`,
      [AS_OF.toISOString(), n, step, markedBelow, perRecordDays],
    );
    const loadS = (performance.now() - t0) / 1000;
    await client.query('CREATE INDEX bench_gauge_created_at ON bench_gauge (created_at)');
    await client.query('VACUUM (ANALYZE) bench_gauge');
    // A few active holds, so the gauge's NOT EXISTS hold checks are exercised as in a service.
    await client.query(
      `INSERT INTO retention_holds (hold_id, scope, subject_type, subject_id, placed_at)
       SELECT 'hold-' || k, 'subject', 'user', 'held-user-' || k, now() FROM generate_series(1, 20) k`,
    );
    await client.query(
      `INSERT INTO retention_holds (hold_id, scope, table_name, record_key, placed_at) SELECT 'rec-' || k, 'record', 'bench_gauge', (k * 7919)::text, now() FROM generate_series(1, 20) k`,
    );
    const [{ size }] = (await client.query(`SELECT pg_size_pretty(pg_total_relation_size('bench_gauge')) AS size`)).rows as [{ size: string }];
    log(`  loaded in ${round(loadS, 1)} s, indexed and vacuumed in ${round((performance.now() - t0) / 1000 - loadS, 1)} s (${size})`);

    const logger = createLogger({ service: 'bench-gauge', level: process.env.BENCH_GAUGE_LOG ?? 'error' });
    const boundDelete = bindPolicies(policies('delete'), dataSource, { hashKey: 'bench-hash-key-0123456789' });
    const boundAnon = bindPolicies(policies('anonymize'), dataSource, { hashKey: 'bench-hash-key-0123456789' });
    const registry = (bound: BoundPolicies): Registry => {
      const r = new Registry();
      registerOldestUnprocessedGauge(r, { dataSource, bound, logger, now: () => AS_OF });
      return r;
    };

    // Baseline: the bare index lookup the gauge needs, at the delete rule's cutoff.
    const deleteCutoff = cutoff(AS_OF, { days: deleteDays }).toISOString();
    const bareSql = 'SELECT min(created_at) AS oldest FROM bench_gauge WHERE created_at < $1';
    for (let i = 0; i < 3; i++) await client.query(bareSql, [deleteCutoff]); // warm
    const bareMs: number[] = [];
    for (let i = 0; i < sizes.scrapes; i++) {
      const b0 = performance.now();
      await client.query(bareSql, [deleteCutoff]);
      bareMs.push(performance.now() - b0);
    }
    const bareExplain = await explain(client, bareSql, [deleteCutoff]);

    // Delete rule, behind.
    const regDelete = registry(boundDelete);
    await scrape(regDelete, 3); // warm (connections, plans)
    const del = await scrape(regDelete, sizes.scrapes);
    const delSql = await gaugeSql(boundDelete);
    const delExplain = await explain(client, delSql.sql, delSql.params);
    const delIndexBound = delExplain.indexScan && !delExplain.seqScan && delExplain.sharedBlocks < 200;

    // Anonymize rule with marker, caught up: uncapped query time, then a real scrape (5 s cap).
    log('  anonymize rule with marker column: timing the gauge query (walks past the anonymized rows)');
    const anonSql = await gaugeSql(boundAnon);
    const a0 = performance.now();
    const plan = planSweep(boundAnon, { asOf: AS_OF }, []);
    const oldest = plan.status === 'run' ? await oldestDue(dataSource.manager, boundAnon, plan.steps[0] as TableStep) : null;
    const anonQueryMs = performance.now() - a0;
    const regAnon = registry(boundAnon);
    const anon = await scrape(regAnon, Math.min(3, sizes.scrapes));
    // A scrape that timed out leaves its query running in PostgreSQL (boundedCollect does not cancel it).
    const stillRunning = (
      await client.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'retention-bench-gauge' AND state = 'active' AND query LIKE '%ORDER BY%LIMIT 1%'`,
      )
    ).rows[0].n as number;
    await sleep(Math.min(15_000, anonQueryMs + 500)); // let them finish before the next measurement
    const anonExplain = await explain(client, anonSql.sql, anonSql.params);
    const anonIndexBound = anonExplain.sharedBlocks < 200;

    // The same with the partial index services/orders declares for its marker rule.
    log('  again with the partial index (created_at) WHERE anonymized_at IS NULL');
    await client.query('CREATE INDEX bench_gauge_created_at_pending ON bench_gauge (created_at) WHERE anonymized_at IS NULL');
    await client.query('ANALYZE bench_gauge');
    await scrape(regAnon, 3);
    const anonFixed = await scrape(regAnon, sizes.scrapes);
    const anonFixedExplain = await explain(client, anonSql.sql, anonSql.params);

    // Per-record rule: the deadline expression index the index advice names, then the gauge's query
    // (ordered by the deadline) and a sweep batch's selection, both read through it.
    log('  per-record rule (retentionDaysColumn): expression index from the index advice');
    const boundPer = bindPolicies(policies('per-record'), dataSource, { hashKey: 'bench-hash-key-0123456789' });
    const perDdl = (await missingIndexes(dataSource.manager, boundPer)).find((m) => m.for === 'rules.gauge_per_record')!.ddl;
    const i0 = performance.now();
    await client.query(perDdl);
    const perIndexS = (performance.now() - i0) / 1000;
    await client.query('ANALYZE bench_gauge');
    const perPlan = planSweep(boundPer, { asOf: AS_OF }, []);
    if (perPlan.status !== 'run') throw new Error('no plan');
    const perStep = perPlan.steps[0] as TableStep;
    let perCaptured: { sql: string; params: unknown[] } | undefined;
    await overdueDays(
      { query: async (sql: string, params: unknown[]) => ((perCaptured = { sql, params }), []) } as unknown as EntityManager,
      boundPer,
      perStep,
      AS_OF,
    );
    const perExplain = await explain(client, perCaptured!.sql, perCaptured!.params);
    const perIndexBound = perExplain.indexScan && !perExplain.seqScan && perExplain.sharedBlocks < 200;
    const regPer = registry(boundPer);
    await scrape(regPer, 3);
    const per = await scrape(regPer, sizes.scrapes);
    let batchCaptured: { sql: string; params: unknown[] } | undefined;
    await runBatch(
      {
        query: async (sql: string, params: unknown[]) => {
          batchCaptured ??= { sql, params };
          throw new Error('captured');
        },
      } as unknown as EntityManager,
      boundPer,
      perStep,
    ).catch(() => undefined);
    const perBatchExplain = await explainAnalyze(client, batchCaptured!.sql, batchCaptured!.params);
    const perBatchUsesIndex = perBatchExplain.includes('bench_gauge_retention_deadline');

    const bareP50 = percentile(bareMs, 50);
    result.ratio = round(bareP50 / percentile(del.ms, 50), 3);
    result.pass = delIndexBound && result.ratio >= result.target.ratio && anonIndexBound && perIndexBound;
    result.headline = {
      'delete rule scrape p50 ms': round(percentile(del.ms, 50), 2),
      'delete rule scrape p99 ms': round(percentile(del.ms, 99), 2),
      'bare index lookup p50 ms': round(bareP50, 3),
      'marker rule query ms (no partial index)': round(anonQueryMs, 0),
      'marker rule scrape p50 ms (partial index)': round(percentile(anonFixed.ms, 50), 2),
      'per-record rule scrape p50 ms (deadline expression index)': round(percentile(per.ms, 50), 2),
      'per-record rule: gauge index-bound / sweep batch through the index (else a scan that stops at the batch limit)': `${perIndexBound ? 'yes' : 'NO'} / ${perBatchUsesIndex ? 'yes' : 'NO'}`,
      'index-bound: delete rule / marker rule (created_at index only) / marker rule (partial index)': `${delIndexBound ? 'yes' : 'NO'} / ${anonIndexBound ? 'yes' : 'NO'} / ${anonFixedExplain.sharedBlocks < 200 ? 'yes' : 'NO'}`,
    };
    result.platform = {
      gaugeExists: 'yes: libs/consumer/src/oldest-unprocessed.gauge.ts (registered by startRetentionService)',
      tableRows: n,
      tableSize: size,
      deleteRuleBehind: {
        ...stats(del.ms),
        series: del.lastValue,
        indexBound: delIndexBound,
        explainExecutionMs: delExplain.executionMs,
        explainSharedBlocks: delExplain.sharedBlocks,
      },
      markerRuleCaughtUp: {
        rowsAlreadyAnonymizedBeforeCutoff: markedBelow,
        uncappedQueryMs: round(anonQueryMs, 1),
        oldestFound: oldest?.toISOString() ?? null,
        scrapes: stats(anon.ms),
        series: anon.lastValue,
        queriesStillRunningAfterScrapeReturned: stillRunning,
        indexBound: anonIndexBound,
        explainExecutionMs: anonExplain.executionMs,
        explainSharedBlocks: anonExplain.sharedBlocks,
        explainRowsRemovedByFilter: anonExplain.rowsRemovedByFilter,
      },
      perRecordRule: {
        index: perDdl,
        indexBuildSeconds: round(perIndexS, 1),
        ...stats(per.ms),
        series: per.lastValue,
        indexBound: perIndexBound,
        explainExecutionMs: perExplain.executionMs,
        explainSharedBlocks: perExplain.sharedBlocks,
        sweepBatchUsesIndex: perBatchUsesIndex,
      },
      markerRuleWithPartialPendingIndex: {
        ...stats(anonFixed.ms),
        series: anonFixed.lastValue,
        explainExecutionMs: anonFixedExplain.executionMs,
        explainSharedBlocks: anonFixedExplain.sharedBlocks,
      },
    };
    result.baseline = { query: bareSql, ...stats(bareMs), explainExecutionMs: bareExplain.executionMs, explainSharedBlocks: bareExplain.sharedBlocks };
    result.notes.push(
      `${n.toLocaleString()}-row table (${size}), index on created_at, 20 subject and 20 record holds; scrape = prom-client Registry.metrics() with only this gauge registered (its collect: activeScopedHolds + planSweep + one oldestDue query per rule, 5 s boundedCollect).`,
      `Delete rule (10 % of rows due): ${delIndexBound ? 'index-bound' : 'NOT index-bound'}: ${delExplain.sharedBlocks} shared buffers, ${delExplain.executionMs} ms in EXPLAIN ANALYZE; scrape p50 ${round(percentile(del.ms, 50), 2)} ms vs ${round(bareP50, 3)} ms for the bare lookup (the difference is the holds query, pool checkout and TypeORM).`,
    );
    if (!anonIndexBound) {
      result.notes.push(
        `Marker rule (anonymize with markerColumn, caught up, ${markedBelow.toLocaleString()} rows before its cutoff already anonymized): NOT index-bound with only the created_at index. oldestDue (libs/policy/src/executor.ts) runs \`… WHERE created_at < $cutoff AND anonymized_at IS NULL AND NOT held ORDER BY created_at LIMIT 1\`; the marker is not in the index, so the scan walks the created_at index from its start and fetches every already-anonymized row from the heap (Rows Removed by Filter: ${anonExplain.rowsRemovedByFilter.toLocaleString()}, ${anonExplain.sharedBlocks.toLocaleString()} buffers, ${round(anonQueryMs, 0)} ms). ` +
          `The cost grows with every row the rule has ever anonymized (anonymized rows stay in the table for the rule's lifetime), so the gauge gets slower as the table ages. ` +
          (anonQueryMs > 5000
            ? `It exceeds the gauge's 5 s boundedCollect limit here: the scrape drops the series (${anon.lastValue.startsWith('(') ? 'series absent' : 'series present'}) and the query keeps running in PostgreSQL on a pooled connection (${stillRunning} still active after the scrape returned), so scrapes every 15–30 s pile up queries and hold connections the command handler needs. `
            : '') +
          `With the partial index \`(created_at) WHERE anonymized_at IS NULL\` (what services/orders declares) the same scrape takes p50 ${round(percentile(anonFixed.ms, 50), 2)} ms (${anonFixedExplain.sharedBlocks} buffers). ` +
          'Suggested fix: bindPolicies (libs/policy/src/bind-policies.ts) or a startup check should require/verify such a partial index for rules with a markerColumn (or the migration guide should generate it); the gauge should cancel its query on timeout (e.g. SET LOCAL statement_timeout inside a transaction in oldest-unprocessed.gauge.ts) instead of abandoning it.',
      );
    }
    result.notes.push(
      `Per-record rule (retentionDaysColumn; rows keep NULL → ${deleteDays} days, ${perRecordDays[1]} days or ${perRecordDays[2]} days): an expression index on the deadline, \`${perDdl}\`, built in ${round(perIndexS, 1)} s. An expression index rather than a generated column: \`timestamptz + interval\` is only STABLE, so the deadline is written on the UTC wall clock (\`created_at AT TIME ZONE 'UTC'\` + \`make_interval(days => …)\`, both IMMUTABLE); an expression index needs no schema change to the service's table, no entity column and no rewrite of the table, and the planner matches it because the sweep writes the same expression. The gauge query ${perIndexBound ? 'is' : 'is NOT'} index-bound (${perExplain.sharedBlocks} buffers, ${perExplain.executionMs} ms); the sweep batch ${perBatchUsesIndex ? 'reads through the index' : 'does NOT use the index'}.`,
    );
    result.evidence = {
      'gauge query, per-record rule (EXPLAIN ANALYZE)': perExplain.text,
      'sweep batch, per-record rule (EXPLAIN ANALYZE, rolled back)': perBatchExplain,
      'gauge query, delete rule (EXPLAIN ANALYZE)': delExplain.text,
      'bare lookup (EXPLAIN ANALYZE)': bareExplain.text,
      'gauge query, marker rule, created_at index only (EXPLAIN ANALYZE)': anonExplain.text,
      'gauge query, marker rule, with partial pending index (EXPLAIN ANALYZE)': anonFixedExplain.text,
    };
    log(
      `  delete rule scrape p50 ${round(percentile(del.ms, 50), 2)} ms, bare lookup p50 ${round(bareP50, 3)} ms; marker rule query ${round(anonQueryMs, 0)} ms, with partial index scrape p50 ${round(percentile(anonFixed.ms, 50), 2)} ms`,
    );
  } finally {
    await client.end();
    await dataSource.destroy();
    await dbs.drop(db.name).catch(() => undefined);
    result.durationSeconds = round((performance.now() - started) / 1000, 1);
  }
  return result;
}
