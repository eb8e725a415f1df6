/**
 * What the ledger's proofs cost, on the real PostgreSQL: a ledger of BENCH_LEDGER_ENTRIES entries
 * (default 100,000, bodies like an ack's) appended in batches as the ack reconciler does, then the
 * first checkpoint (every entry checked and hashed), incremental checkpoints and verifications after
 * 1,000 more entries (median of 5), a full verification, rebuilding the Merkle frontier from the
 * stored hashes, and the tree and proofs a receipt needs. Kafka is left out (checkpoints go to a
 * list, as the reader would hold them): the publish itself is one produce of ~0.5 KB.
 *
 *   BENCH_ENTRY=test/bench/ledger-proof.ts npm run bench
 *
 * Prints the figures; asserts nothing (timing is not a test).
 */
import { randomUUID } from 'node:crypto';
import { type Checkpoint, generateSigningKeyPair, MerkleTree, parsePrivateKey } from '@retention/contracts';
import {
  appendLedger,
  createCheckpointPublisher,
  frontierFromLedger,
  leavesFromLedger,
  type LedgerEntryInput,
  openCoordinatorDatabase,
  verifyLedger,
} from '@retention/service-coordinator';
import { createLogger } from '@retention/observability';
import { BenchDatabases, benchStack, createBenchDatabase, intEnv, log } from './lib/env';

const ENTRIES = intEnv('BENCH_LEDGER_ENTRIES', 100_000);
const BATCH = 200;
const ROUNDS = 5;

const stack = benchStack();
const dbs = new BenchDatabases(stack);
const { url } = await createBenchDatabase(stack, 'ledger', dbs);
const ds = await openCoordinatorDatabase({ DATABASE_URL: url, DATABASE_AUTO_CREATE: false }, createLogger({ service: 'bench', level: 'error' }));

const ackEntry = (requestId: string, service: string): LedgerEntryInput => ({
  requestId,
  type: 'ack.received',
  service,
  body: {
    status: 'completed',
    dryRun: false,
    commandId: randomUUID(),
    startedAt: new Date().toISOString(),
    finishedAt: new Date().toISOString(),
    tables: [{ table: 'orders', policy: 'purchase_records', action: 'anonymize', matched: 3, deleted: 0, anonymized: 3, archived: 0, held: 0 }],
    holdIds: [],
    reason: null,
    error: null,
    policyHash: 'a'.repeat(64),
  },
});
async function append(count: number): Promise<number> {
  const started = performance.now();
  for (let done = 0; done < count; done += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, count - done) }, () => ackEntry(randomUUID(), 'orders'));
    await ds.transaction((m) => appendLedger(m, batch));
  }
  return performance.now() - started;
}
const ms = (n: number): string => `${n.toFixed(n < 10 ? 2 : 0)} ms`;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
async function timed<T>(work: () => Promise<T>): Promise<[number, T]> {
  const started = performance.now();
  const result = await work();
  return [performance.now() - started, result];
}

try {
  log(`ledger: appending ${ENTRIES.toLocaleString('en')} entries in batches of ${BATCH}`);
  const appendMs = await append(ENTRIES);

  const key = { keyId: 'bench-1', privateKey: parsePrivateKey(generateSigningKeyPair().privateKey, 'bench') };
  const published: Checkpoint[] = [];
  const publisher = createCheckpointPublisher({
    dataSource: ds,
    key,
    anchors: async () => published,
    publish: async () => {},
    onPublished: (c) => published.push(c),
  });
  const [firstMs, first] = await timed(() => publisher.publishNow());
  if (first.outcome !== 'published') throw new Error(`first checkpoint: ${JSON.stringify(first)}`);

  const checkpointMs: number[] = [];
  const verifyMs: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    await append(1000);
    // Verification right before the checkpoint: 1,000 entries after the latest one.
    verifyMs.push((await timed(() => verifyLedger(ds, published)))[0]);
    const [elapsed, outcome] = await timed(() => publisher.publishNow());
    if (outcome.outcome !== 'published') throw new Error(`checkpoint: ${JSON.stringify(outcome)}`);
    checkpointMs.push(elapsed);
  }
  const [fullMs, full] = await timed(() => verifyLedger(ds, published, { full: true }));
  if (!full.ok) throw new Error(`full verification found ${JSON.stringify(full.problems)}`);
  const size = published.at(-1)!.treeSize;
  const [frontierMs] = await timed(() => frontierFromLedger(ds, size));
  const [receiptMs] = await timed(async () => {
    const tree = new MerkleTree(await leavesFromLedger(ds, size));
    for (const seq of [1, size / 2, size - 3, size - 2, size - 1]) tree.inclusionProof(Math.floor(seq) - 1);
    return tree.root();
  });

  const rows: Array<[string, string]> = [
    ['ledger size', `${size.toLocaleString('en')} entries`],
    [
      `append (batches of ${BATCH}, one INSERT … unnest each)`,
      `${Math.round((ENTRIES / appendMs) * 1000).toLocaleString('en')} entries/s (unchanged by the tree: roots are computed at checkpoint time)`,
    ],
    [`first checkpoint (no earlier one: every entry checked and hashed)`, ms(firstMs)],
    [`checkpoint after 1,000 more entries (stored frontier), median of ${ROUNDS}`, ms(median(checkpointMs))],
    [`incremental verify, 1,000 entries after the latest checkpoint, median of ${ROUNDS}`, ms(median(verifyMs))],
    [`full verify (every entry, every checkpoint root; ${ROUNDS + 1} checkpoints)`, ms(fullMs)],
    ['Merkle frontier rebuilt from the stored hashes (no bodies)', ms(frontierMs)],
    ['receipt: whole tree from the stored hashes + 5 inclusion proofs', ms(receiptMs)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(width)}  ${v}\n`);
} finally {
  await ds.destroy();
  await dbs.dropAll();
}
