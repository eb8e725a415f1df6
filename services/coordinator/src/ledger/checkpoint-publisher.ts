import { type Checkpoint, LEDGER_GENESIS_HASH, ledgerEntryHash, ledgerLeafHash, MerkleFrontier, signCheckpoint, type SigningKey } from '@retention/contracts';
import type { DataSource, EntityManager } from 'typeorm';
import { ledgerExtent, readEntries, storedEntryHash } from './ledger.repository';
import { frontierFromLedger, LedgerGapError } from './ledger-tree';
import { storedFrontier, storeCheckpoint } from './checkpoints.repository';

/** Serializes checkpoint publication across coordinator replicas (pg_advisory_xact_lock key). */
const CHECKPOINT_LOCK = 0x434b5054; // "CKPT"

export type CheckpointRefusal = 'changed' | 'deleted' | 'broken_link' | 'truncated' | 'rewritten';

export type CheckpointOutcome =
  | { outcome: 'published'; checkpoint: Checkpoint; entriesAdded: number; frontierRebuilt: boolean }
  | { outcome: 'unchanged'; checkpoint?: Checkpoint }
  | { outcome: 'refused'; reason: CheckpointRefusal; seq?: number; message: string };

export interface CheckpointPublisherDeps {
  dataSource: DataSource;
  key: SigningKey;
  /** The checkpoints to extend (from Kafka, and verified database copies), smallest first. */
  anchors: () => Promise<Checkpoint[]>;
  /** Puts a checkpoint on the Kafka topic; resolves once the broker has acknowledged it. */
  publish: (c: Checkpoint) => Promise<void>;
  onPublished?: (c: Checkpoint) => void;
  now?: () => Date;
  pageSize?: number;
}

class Refused extends Error {
  constructor(
    readonly reason: CheckpointRefusal,
    message: string,
    readonly seq?: number,
  ) {
    super(message);
  }
}

/**
 * Signs and publishes a checkpoint of the whole ledger when it has grown. A checkpoint always
 * extends the latest trusted one: its Merkle frontier (the database copy, used only when it folds
 * to the signed root; rebuilt from the entries otherwise) takes the new entries' leaves, so the cost
 * is the entries added, not the ledger's size. Every entry added is checked first (its content
 * against its hash, its link to the one before, no gap), and the ledger must still hold the
 * trusted checkpoint's entries unchanged (its last entry's hash, its size): the coordinator signs
 * only a ledger that checks out, and says why it refused otherwise.
 */
export function createCheckpointPublisher(deps: CheckpointPublisherDeps): { publishNow(): Promise<CheckpointOutcome> } {
  const now = deps.now ?? (() => new Date());
  const pageSize = deps.pageSize ?? 2000;

  async function build(m: EntityManager): Promise<CheckpointOutcome> {
    await m.query('SELECT pg_advisory_xact_lock($1)', [CHECKPOINT_LOCK]);
    const base = (await deps.anchors()).at(-1);
    // Read once: entries commit in seq order under the ledger lock, so every seq up to this one is there.
    const extent = await ledgerExtent(m);
    if (base && extent.maxSeq < base.treeSize) {
      throw new Refused('truncated', `the ledger ends at entry ${extent.maxSeq}, before the last checkpoint (${base.treeSize} entries)`, extent.maxSeq + 1);
    }
    if (extent.count !== extent.maxSeq) throw new Refused('deleted', `the ledger has ${extent.count} entries up to entry ${extent.maxSeq}: some were removed`);
    if (base && (await storedEntryHash(m, base.treeSize)) !== base.lastEntryHash) {
      throw new Refused('rewritten', `entry ${base.treeSize} is not the one the last checkpoint signed: the ledger was rewritten`, base.treeSize);
    }
    if (extent.maxSeq === (base?.treeSize ?? 0)) return { outcome: 'unchanged', checkpoint: base };

    let frontier = MerkleFrontier.empty();
    let frontierRebuilt = false;
    if (base) {
      const stored = await storedFrontier(m, base.treeSize);
      const fromStore = stored ? tryFrontier(base.treeSize, stored) : undefined;
      if (fromStore && fromStore.root().toString('hex') === base.rootHash) frontier = fromStore;
      else {
        frontier = await frontierFromLedger(m, base.treeSize);
        frontierRebuilt = true;
        if (frontier.root().toString('hex') !== base.rootHash) {
          throw new Refused('rewritten', `the first ${base.treeSize} entries no longer have the root the last checkpoint signed`);
        }
      }
    }

    let prev = base?.lastEntryHash ?? LEDGER_GENESIS_HASH;
    for (let next = frontier.size + 1; next <= extent.maxSeq;) {
      const page = await readEntries(m, next, extent.maxSeq, pageSize);
      if (page.length === 0) throw new Refused('deleted', `entry ${next} is missing`, next);
      for (const e of page) {
        if (e.seq !== next) throw new Refused('deleted', `entry ${next} is missing`, next);
        if (e.prevHash !== prev) throw new Refused('broken_link', `entry ${e.seq} does not link to the entry before it`, e.seq);
        if (ledgerEntryHash(e.prevHash, e) !== e.hash) throw new Refused('changed', `entry ${e.seq}'s content does not match its hash`, e.seq);
        frontier.append(ledgerLeafHash(e.hash));
        prev = e.hash;
        next += 1;
      }
    }

    const checkpoint = signCheckpoint(deps.key, {
      treeSize: frontier.size,
      rootHash: frontier.root().toString('hex'),
      lastEntryHash: prev,
      timestamp: now().toISOString(),
    });
    await deps.publish(checkpoint);
    deps.onPublished?.(checkpoint);
    await storeCheckpoint(m, checkpoint, frontier.toHex());
    return { outcome: 'published', checkpoint, entriesAdded: frontier.size - (base?.treeSize ?? 0), frontierRebuilt };
  }

  return {
    async publishNow() {
      try {
        return await deps.dataSource.transaction(build);
      } catch (error) {
        if (error instanceof Refused) return { outcome: 'refused', reason: error.reason, seq: error.seq, message: error.message };
        if (error instanceof LedgerGapError) return { outcome: 'refused', reason: 'deleted', seq: error.seq, message: error.message };
        throw error;
      }
    },
  };
}

function tryFrontier(size: number, nodes: string[]): MerkleFrontier | undefined {
  try {
    return MerkleFrontier.from(size, nodes);
  } catch {
    return undefined;
  }
}
