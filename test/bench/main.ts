/**
 * Entry of `npm run bench` (through run.sh). Runs the selected benchmarks one after another,
 * prints each one's figures, and writes all of them to bench-results/results.json and
 * results.md, each as a ratio to a baseline measured in the same run.
 */
import { fanoutSizes, runFanoutBenchmark, stopAllChildren } from './fanout.bench';
import { gaugeSizes, runGaugeBenchmark } from './gauge.bench';
import { BenchDatabases, benchStack, log, round } from './lib/env';
import { type BenchResult, emptyResult, loadAverage, newRun, writeResults } from './lib/results';
import { partitionedSizes, runPartitionedBenchmark } from './partitioned.bench';
import { runSweepBenchmark, sweepSizes } from './sweep.bench';

const ALL = ['sweep-delete', 'sweep-anonymize', 'sweep-per-record', 'sweep-partitioned', 'fanout', 'gauge'] as const;
type Name = (typeof ALL)[number];

const only = (process.env.BENCH_ONLY ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
for (const name of only) if (!(ALL as readonly string[]).includes(name)) throw new Error(`BENCH_ONLY: unknown benchmark "${name}" (known: ${ALL.join(', ')})`);
const selected: Name[] = only.length ? (ALL.filter((n) => only.includes(n)) as Name[]) : [...ALL];

const stack = benchStack();
const dbs = new BenchDatabases(stack);
const run = newRun(
  { kafkaBrokers: stack.kafkaBrokers.join(','), database: new URL(stack.databaseUrl).host, source: stack.source },
  { selected, sweep: sweepSizes(), partitioned: partitionedSizes(), fanout: fanoutSizes(), gauge: gaugeSizes() },
);

let interrupted = false;
const onSignal = (signal: NodeJS.Signals): void => {
  if (interrupted) process.exit(130);
  interrupted = true;
  log(`${signal}: stopping the child processes and dropping the benchmark databases, then exiting (again to exit at once)`);
  void stopAllChildren()
    .then(() => dbs.dropAll())
    .finally(() => process.exit(130));
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

const benches: Record<Name, () => Promise<BenchResult>> = {
  'sweep-delete': () => runSweepBenchmark('delete', stack, dbs),
  'sweep-anonymize': () => runSweepBenchmark('anonymize', stack, dbs),
  'sweep-per-record': () => runSweepBenchmark('per-record', stack, dbs),
  'sweep-partitioned': () => runPartitionedBenchmark(stack, dbs),
  fanout: () => runFanoutBenchmark(stack, dbs),
  gauge: () => runGaugeBenchmark(stack, dbs),
};

function print(r: BenchResult): void {
  const verdict = r.pass === null ? (r.error ? 'ERROR' : 'n/a') : r.pass ? 'PASS' : 'FAIL';
  const lines = [`== ${r.title}: ratio ${r.ratio ?? '—'} (target ≥ ${r.target.ratio}) ${verdict}`];
  for (const [k, v] of Object.entries(r.headline)) lines.push(`   ${k}: ${typeof v === 'number' ? v.toLocaleString('en-US') : v}`);
  if (r.error) lines.push(`   error: ${r.error}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

const t0 = performance.now();
let failed = false;
try {
  for (const name of selected) {
    const started = performance.now();
    const load = loadAverage();
    let result: BenchResult;
    try {
      result = await benches[name]();
      result.loadAverageAtStart = load;
    } catch (error) {
      failed = true;
      log(`${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      result = emptyResult(
        name,
        name,
        { ratio: NaN, meaning: '' },
        {
          durationSeconds: round((performance.now() - started) / 1000, 1),
          error: error instanceof Error ? error.message : String(error),
        },
      );
    }
    run.results.push(result);
    print(result);
    writeResults(run);
  }
} finally {
  await dbs.dropAll();
}
run.finishedAt = new Date().toISOString();
const files = writeResults(run);
process.stdout.write(`\nAll figures: ${files.json} and ${files.md} (total ${round((performance.now() - t0) / 1000, 1)} s)\n`);
process.exit(failed ? 1 : 0);
