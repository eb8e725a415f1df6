import type { Checkpoint } from '@retention/contracts';
import type { DataSource, EntityManager } from 'typeorm';

interface CheckpointRow {
  tree_size: string;
  root_hash: string;
  last_entry_hash: string;
  signed_at: Date;
  key_id: string;
  signature: string;
  frontier: string[];
}

const toCheckpoint = (r: CheckpointRow): Checkpoint => ({
  treeSize: Number(r.tree_size),
  rootHash: r.root_hash,
  lastEntryHash: r.last_entry_hash,
  timestamp: new Date(r.signed_at).toISOString(),
  keyId: r.key_id,
  signature: r.signature,
});

/**
 * The database's copy of a published checkpoint, with the Merkle frontier the next one extends.
 * A copy that is already there is kept (checkpoints, like entries, are never rewritten).
 */
export async function storeCheckpoint(db: DataSource | EntityManager, c: Checkpoint, frontier: readonly string[]): Promise<void> {
  await db.query(
    `INSERT INTO ledger_checkpoints (tree_size, root_hash, last_entry_hash, signed_at, key_id, signature, frontier)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tree_size) DO NOTHING`,
    [c.treeSize, c.rootHash, c.lastEntryHash, c.timestamp, c.keyId, c.signature, frontier],
  );
}

/** Every stored checkpoint (unchecked: callers verify signatures), smallest first. */
export async function storedCheckpoints(db: DataSource | EntityManager): Promise<Checkpoint[]> {
  const rows = (await db.query(
    `SELECT tree_size, root_hash, last_entry_hash, signed_at, key_id, signature, frontier FROM ledger_checkpoints ORDER BY tree_size`,
  )) as CheckpointRow[];
  return rows.map(toCheckpoint);
}

/** The stored frontier of the checkpoint of `treeSize` (unchecked: callers compare its root with the signed one). */
export async function storedFrontier(db: DataSource | EntityManager, treeSize: number): Promise<string[] | undefined> {
  const [row] = (await db.query(`SELECT frontier FROM ledger_checkpoints WHERE tree_size = $1`, [treeSize])) as Array<{ frontier: string[] }>;
  return row?.frontier;
}
