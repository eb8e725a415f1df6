import { type Checkpoint, LEDGER_GENESIS_HASH, ledgerEntryHash, ledgerLeafHash, MerkleFrontier } from '@retention/contracts';
import type { DataSource } from 'typeorm';
import { ledgerExtent, readEntries, storedEntryHashes } from './ledger.repository';

/**
 * What verification found:
 * - `changed`: an entry's content no longer matches its hash;
 * - `deleted`: an entry is missing (`seq`, and `count` when several in a row);
 * - `broken_link`: an entry does not link to the hash of the entry before it;
 * - `truncated`: the ledger ends before a signed checkpoint's size (`checkpoint`, `entries` left);
 * - `rewritten`: the ledger up to a signed checkpoint is not what it signed (its last entry's hash
 *   or its Merkle root differ): entries were changed and the chain or tree recomputed.
 */
export type LedgerProblemKind = 'changed' | 'deleted' | 'broken_link' | 'truncated' | 'rewritten';

export interface LedgerProblem {
  kind: LedgerProblemKind;
  /** The entry concerned (for `rewritten`: the first entry after the last checkpoint that still matches). */
  seq?: number;
  /** Entries missing in a row, from `seq`. */
  count?: number;
  /** Tree size of the signed checkpoint concerned. */
  checkpoint?: number;
  message: string;
}

export interface VerifyResult {
  ok: boolean;
  /** `incremental`: entries after the latest signed checkpoint, plus the checks below that cost no scan; `full`: everything. */
  mode: 'incremental' | 'full';
  /** Entries in the ledger. */
  entries: number;
  /** The latest signed checkpoint verification was anchored on (null: none yet). */
  checkpoint: Checkpoint | null;
  /** Signed checkpoints compared with the ledger. */
  checkpointsChecked: number;
  /** First entry whose content and links were recomputed. */
  verifiedFrom: number;
  problems: LedgerProblem[];
  /** The lowest entry with a problem (kept for clients of the earlier `{ok, entries, firstBrokenEntry?}`). */
  firstBrokenEntry?: { seq: number; reason: string };
}

/** Problems listed per kind at most (the first ones: enough to name what happened). */
const MAX_PER_KIND = 20;

/**
 * Checks the ledger against signed checkpoints (`anchors`, smallest first, already verified and
 * read from outside the database). Incremental (the default) costs the entries added since the
 * latest checkpoint plus a count and a lookup per checkpoint it compares: it finds deleted entries
 * (anywhere), a truncated tail, a rewritten chain or tree, and changed entries after the latest
 * checkpoint. A changed entry inside an already checkpointed range whose hash was left as it was
 * needs `full`, which recomputes every entry and every checkpoint's root.
 */
export async function verifyLedger(db: DataSource, anchors: readonly Checkpoint[], options: { full?: boolean; pageSize?: number } = {}): Promise<VerifyResult> {
  const pageSize = options.pageSize ?? 5000;
  const problems = new ProblemList();
  const extent = await ledgerExtent(db);
  const latest = anchors.at(-1) ?? null;

  if (extent.count !== extent.maxSeq) for (const gap of await gaps(db)) problems.add({ kind: 'deleted', ...gap, message: gapMessage(gap) });
  for (const c of anchors) {
    if (extent.maxSeq < c.treeSize) {
      problems.add({
        kind: 'truncated',
        checkpoint: c.treeSize,
        seq: extent.maxSeq + 1,
        message: `the ledger ends at entry ${extent.maxSeq}, but a signed checkpoint covers ${c.treeSize} entries: entries from ${extent.maxSeq + 1} on were removed`,
      });
      break;
    }
  }

  const result = options.full
    ? await fullPass(db, anchors, extent.maxSeq, pageSize, problems)
    : await incrementalPass(db, anchors, extent.maxSeq, pageSize, problems);
  const list = problems.list();
  const entryProblems = list.filter((p) => p.seq !== undefined && p.kind !== 'truncated' && p.kind !== 'rewritten');
  const first = entryProblems.sort((a, b) => a.seq! - b.seq!)[0];
  return {
    ok: list.length === 0,
    mode: options.full ? 'full' : 'incremental',
    entries: extent.count,
    checkpoint: latest,
    checkpointsChecked: result.checkpointsChecked,
    verifiedFrom: result.verifiedFrom,
    problems: list,
    ...(first ? { firstBrokenEntry: { seq: first.seq!, reason: first.message } } : {}),
  };
}

async function incrementalPass(
  db: DataSource,
  anchors: readonly Checkpoint[],
  maxSeq: number,
  pageSize: number,
  problems: ProblemList,
): Promise<{ checkpointsChecked: number; verifiedFrom: number }> {
  // The chain is cumulative: if any entry up to a checkpoint was rewritten and the hashes after it
  // recomputed, the stored hash of the checkpoint's last entry differs from the signed one. One
  // lookup per checkpoint; the earliest that differs says where the rewrite begins.
  const inLedger = anchors.filter((c) => c.treeSize <= maxSeq);
  const heads = await storedEntryHashes(
    db,
    inLedger.map((c) => c.treeSize),
  );
  const firstDiffering = inLedger.findIndex((c) => heads.has(c.treeSize) && heads.get(c.treeSize) !== c.lastEntryHash);
  if (firstDiffering >= 0) problems.add(rewritten(inLedger, firstDiffering));

  const latest = inLedger.at(-1);
  const from = latest ? latest.treeSize + 1 : 1;
  const start = latest ? (heads.get(latest.treeSize) ?? latest.lastEntryHash) : LEDGER_GENESIS_HASH;
  await walk(db, from, maxSeq, start, pageSize, problems, () => undefined);
  return { checkpointsChecked: inLedger.length, verifiedFrom: from };
}

async function fullPass(
  db: DataSource,
  anchors: readonly Checkpoint[],
  maxSeq: number,
  pageSize: number,
  problems: ProblemList,
): Promise<{ checkpointsChecked: number; verifiedFrom: number }> {
  const bySize = new Map<number, Checkpoint[]>();
  for (const c of anchors) bySize.set(c.treeSize, [...(bySize.get(c.treeSize) ?? []), c]);
  const frontier = MerkleFrontier.empty();
  let gapSeen = false;
  let checked = 0;
  const inLedger = anchors.filter((c) => c.treeSize <= maxSeq);
  let reported = false;
  await walk(db, 1, maxSeq, LEDGER_GENESIS_HASH, pageSize, problems, (e, gapBefore) => {
    // After a gap the leaves no longer line up with the signed trees: the gap is the finding.
    gapSeen ||= gapBefore;
    if (gapSeen) return;
    frontier.append(ledgerLeafHash(e.hash));
    for (const c of bySize.get(e.seq) ?? []) {
      checked += 1;
      if (!reported && (frontier.root().toString('hex') !== c.rootHash || e.hash !== c.lastEntryHash)) {
        reported = true;
        problems.add(rewritten(inLedger, inLedger.indexOf(c)));
      }
    }
  });
  return { checkpointsChecked: checked, verifiedFrom: 1 };
}

/** Recomputes entries `from..to`: each one's content against its hash and its link to the one before. */
async function walk(
  db: DataSource,
  from: number,
  to: number,
  startHash: string,
  pageSize: number,
  problems: ProblemList,
  each: (e: { seq: number; hash: string }, gapBefore: boolean) => void,
): Promise<void> {
  let expected = from;
  let prev = startHash;
  while (expected <= to) {
    const page = await readEntries(db, expected, to, pageSize);
    if (page.length === 0) break;
    for (const e of page) {
      const gapBefore = e.seq !== expected;
      // A gap was reported as `deleted`; the entry after it naturally does not link to the one before the gap.
      if (!gapBefore && e.prevHash !== prev) {
        problems.add({ kind: 'broken_link', seq: e.seq, message: `entry ${e.seq} does not link to entry ${e.seq - 1}: an entry was rewritten or inserted` });
      }
      if (ledgerEntryHash(e.prevHash, e) !== e.hash) problems.add({ kind: 'changed', seq: e.seq, message: `entry ${e.seq}'s content does not match its hash` });
      each(e, gapBefore);
      prev = e.hash;
      expected = e.seq + 1;
    }
  }
}

function rewritten(anchors: readonly Checkpoint[], index: number): LedgerProblem {
  const c = anchors[index]!;
  const after = index > 0 ? anchors[index - 1]!.treeSize : 0;
  return {
    kind: 'rewritten',
    checkpoint: c.treeSize,
    seq: after + 1,
    message: `the first ${c.treeSize} entries are not what the checkpoint signed at ${c.timestamp} says: entries after ${after} were changed and the hashes recomputed`,
  };
}

/** Runs of missing seqs (a seq 1 missing included), at most MAX_PER_KIND. */
async function gaps(db: DataSource): Promise<Array<{ seq: number; count: number }>> {
  const rows = (await db.query(
    `SELECT prev + 1 AS seq, seq - prev - 1 AS count
     FROM (SELECT seq, COALESCE(lag(seq) OVER (ORDER BY seq), 0) AS prev FROM ledger_entries) s
     WHERE seq > prev + 1 ORDER BY seq LIMIT $1`,
    [MAX_PER_KIND],
  )) as Array<{ seq: string; count: string }>;
  return rows.map((r) => ({ seq: Number(r.seq), count: Number(r.count) }));
}

function gapMessage(gap: { seq: number; count: number }): string {
  return gap.count === 1 ? `entry ${gap.seq} was removed` : `entries ${gap.seq} to ${gap.seq + gap.count - 1} were removed`;
}

class ProblemList {
  private readonly items: LedgerProblem[] = [];

  add(p: LedgerProblem): void {
    if (this.items.filter((i) => i.kind === p.kind).length < MAX_PER_KIND) this.items.push(p);
  }

  list(): LedgerProblem[] {
    return [...this.items];
  }
}
