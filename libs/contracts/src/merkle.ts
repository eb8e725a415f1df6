import { createHash } from 'node:crypto';

/**
 * Merkle tree hashing of RFC 6962 / RFC 9162 (section 2.1), SHA-256: a leaf is hashed with a 0x00
 * prefix and an interior node with 0x01, so a leaf can never pass for a node (second preimages).
 * The tree of n leaves splits at the largest power of two below n, which makes every tree of size
 * m a prefix of every larger one: what a signed root commits to never changes as the log grows.
 */
export const MERKLE_HASH_BYTES = 32;

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

/** MTH of the empty tree: SHA-256 of the empty string. */
export const EMPTY_TREE_ROOT: Buffer = createHash('sha256').digest();

export function merkleLeafHash(data: Uint8Array): Buffer {
  return createHash('sha256').update(LEAF_PREFIX).update(data).digest();
}

export function merkleNodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
}

/**
 * The compact frontier of a growing tree: the roots of the perfect subtrees that cover leaves
 * [0, size), largest first (one per set bit of `size`). Enough to append leaves and to compute the
 * root, in O(log n) space: checkpoints extend the previous one's frontier instead of re-reading
 * the ledger.
 */
export class MerkleFrontier {
  private constructor(
    private count: number,
    private readonly nodes: Buffer[],
  ) {}

  static empty(): MerkleFrontier {
    return new MerkleFrontier(0, []);
  }

  /** A frontier from its stored form; throws a TypeError when the node count does not fit `size`. */
  static from(size: number, nodes: readonly string[]): MerkleFrontier {
    if (!Number.isSafeInteger(size) || size < 0) throw new TypeError('frontier size must be a non-negative integer');
    if (nodes.length !== popCount(size)) throw new TypeError(`a frontier of size ${size} has ${popCount(size)} nodes, not ${nodes.length}`);
    return new MerkleFrontier(
      size,
      nodes.map((n) => hashFromHex(n, 'frontier node')),
    );
  }

  get size(): number {
    return this.count;
  }

  /** Adds the next leaf (its leaf hash). */
  append(leafHash: Uint8Array): void {
    let node: Buffer = Buffer.from(leafHash);
    // Each trailing set bit of the old size is a perfect subtree of the new leaf's size: merge.
    for (let s = this.count; s % 2 === 1; s = Math.floor(s / 2)) node = merkleNodeHash(this.nodes.pop()!, node);
    this.nodes.push(node);
    this.count += 1;
  }

  root(): Buffer {
    if (this.nodes.length === 0) return EMPTY_TREE_ROOT;
    let root = this.nodes[this.nodes.length - 1]!;
    for (let i = this.nodes.length - 2; i >= 0; i--) root = merkleNodeHash(this.nodes[i]!, root);
    return root;
  }

  clone(): MerkleFrontier {
    return new MerkleFrontier(this.count, [...this.nodes]);
  }

  toHex(): string[] {
    return this.nodes.map((n) => n.toString('hex'));
  }
}

/**
 * A whole tree held level by level (each level one contiguous buffer of 32-byte hashes; an unpaired
 * last node is carried up, which is RFC 6962's split at the largest power of two): the root and
 * every inclusion proof for one tree size, after about 2n hashes.
 */
export class MerkleTree {
  private readonly levels: Buffer[];

  /** `leaves`: the leaf hashes, concatenated (32 bytes each). */
  constructor(leaves: Buffer) {
    if (leaves.length % MERKLE_HASH_BYTES !== 0) throw new TypeError('leaves must be whole 32-byte hashes');
    this.levels = [leaves];
    let level = leaves;
    while (level.length > MERKLE_HASH_BYTES) {
      const width = level.length / MERKLE_HASH_BYTES;
      const next = Buffer.alloc(Math.ceil(width / 2) * MERKLE_HASH_BYTES);
      for (let i = 0; i < width; i += 2) {
        const target = (i / 2) * MERKLE_HASH_BYTES;
        if (i + 1 < width) merkleNodeHash(slot(level, i), slot(level, i + 1)).copy(next, target);
        else slot(level, i).copy(next, target);
      }
      this.levels.push(next);
      level = next;
    }
  }

  get size(): number {
    return this.levels[0]!.length / MERKLE_HASH_BYTES;
  }

  root(): Buffer {
    return this.size === 0 ? EMPTY_TREE_ROOT : Buffer.from(slot(this.levels[this.levels.length - 1]!, 0));
  }

  /** The audit path of leaf `index` (RFC 9162 section 2.1.3.1), bottom up. */
  inclusionProof(index: number): Buffer[] {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.size) throw new RangeError(`leaf ${index} is not in a tree of ${this.size}`);
    const path: Buffer[] = [];
    let i = index;
    for (const level of this.levels.slice(0, -1)) {
      const sibling = i ^ 1;
      if (sibling < level.length / MERKLE_HASH_BYTES) path.push(Buffer.from(slot(level, sibling)));
      i = Math.floor(i / 2);
    }
    return path;
  }
}

/**
 * Checks an inclusion proof (RFC 9162 section 2.1.3.2): that the leaf hash at `index` is in the
 * tree of `size` leaves whose root is `root`.
 */
export function verifyInclusion(index: number, size: number, leafHash: Uint8Array, path: readonly Uint8Array[], root: Uint8Array): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leafHash);
  for (const p of path) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = merkleNodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = merkleNodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && Buffer.from(root).equals(r);
}

/** A 32-byte hash from 64 lowercase hex characters; a TypeError naming `what` otherwise. */
export function hashFromHex(hex: string, what = 'hash'): Buffer {
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new TypeError(`${what} must be 64 lowercase hex characters`);
  return Buffer.from(hex, 'hex');
}

function slot(level: Buffer, i: number): Buffer {
  return level.subarray(i * MERKLE_HASH_BYTES, (i + 1) * MERKLE_HASH_BYTES);
}

function popCount(n: number): number {
  let count = 0;
  for (let s = n; s > 0; s = Math.floor(s / 2)) count += s % 2;
  return count;
}
