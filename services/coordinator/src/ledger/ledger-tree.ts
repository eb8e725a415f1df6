import { ledgerLeafHash, MERKLE_HASH_BYTES, MerkleFrontier } from '@retention/contracts';
import type { DataSource, EntityManager } from 'typeorm';
import { readEntryHashes } from './ledger.repository';

const PAGE = 20_000;

/** The ledger cannot form a tree of this size: entry `seq` is missing. */
export class LedgerGapError extends Error {
  constructor(readonly seq: number) {
    super(`ledger entry ${seq} is missing`);
  }
}

/**
 * Calls `each` with the Merkle leaf of every entry 1..size in order, from the stored entry hashes
 * (no bodies read). Throws {@link LedgerGapError} at the first missing entry.
 */
export async function forEachLeaf(db: DataSource | EntityManager, size: number, each: (leaf: Buffer, seq: number) => void): Promise<void> {
  let next = 1;
  while (next <= size) {
    const page = await readEntryHashes(db, next, size, PAGE);
    for (const [seq, hash] of page) {
      if (seq !== next) throw new LedgerGapError(next);
      each(ledgerLeafHash(hash), seq);
      next += 1;
    }
    if (page.length === 0) throw new LedgerGapError(next);
  }
}

/** The frontier of the tree of the first `size` entries, computed from the ledger (O(size)). */
export async function frontierFromLedger(db: DataSource | EntityManager, size: number): Promise<MerkleFrontier> {
  const frontier = MerkleFrontier.empty();
  await forEachLeaf(db, size, (leaf) => frontier.append(leaf));
  return frontier;
}

/** Every leaf of the tree of the first `size` entries, concatenated (input of `MerkleTree`). */
export async function leavesFromLedger(db: DataSource | EntityManager, size: number): Promise<Buffer> {
  const leaves = Buffer.alloc(size * MERKLE_HASH_BYTES);
  await forEachLeaf(db, size, (leaf, seq) => leaf.copy(leaves, (seq - 1) * MERKLE_HASH_BYTES));
  return leaves;
}
