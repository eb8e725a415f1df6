import { describe, expect, it } from 'vitest';
import { EMPTY_TREE_ROOT, MerkleFrontier, MerkleTree, merkleLeafHash, merkleNodeHash, verifyInclusion } from './merkle';

/** RFC 6962 section 2.1, literally: MTH(D[n]) = HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n])), k the largest power of two < n. */
function mth(leaves: Buffer[]): Buffer {
  if (leaves.length === 0) return EMPTY_TREE_ROOT;
  if (leaves.length === 1) return leaves[0]!;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return merkleNodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

/** RFC 6962 PATH(m, D[n]). */
function path(m: number, leaves: Buffer[]): Buffer[] {
  if (leaves.length <= 1) return [];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return m < k ? [...path(m, leaves.slice(0, k)), mth(leaves.slice(k))] : [...path(m - k, leaves.slice(k)), mth(leaves.slice(0, k))];
}

const leavesOf = (n: number): Buffer[] => Array.from({ length: n }, (_, i) => merkleLeafHash(Buffer.from(`entry ${i}`)));

describe('Merkle tree (RFC 6962 / RFC 9162)', () => {
  it('gives the roots of the Certificate Transparency test vectors', () => {
    // The eight inputs and roots used by the CT reference implementations' tests.
    const inputs = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => Buffer.from(h, 'hex'));
    const roots = [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
      'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
      '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
      '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
      'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
      '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
    ];
    const frontier = MerkleFrontier.empty();
    inputs.forEach((input, i) => {
      frontier.append(merkleLeafHash(input));
      expect(frontier.root().toString('hex'), `size ${i + 1}`).toBe(roots[i]);
    });
    expect(EMPTY_TREE_ROOT.toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('computes the same root from the frontier, from the levels and from the definition, for every size up to 70', () => {
    const frontier = MerkleFrontier.empty();
    const all = leavesOf(70);
    for (let n = 0; n <= 70; n++) {
      const expected = mth(all.slice(0, n)).toString('hex');
      expect(frontier.root().toString('hex'), `frontier ${n}`).toBe(expected);
      expect(new MerkleTree(Buffer.concat(all.slice(0, n))).root().toString('hex'), `tree ${n}`).toBe(expected);
      if (n < 70) frontier.append(all[n]!);
    }
  });

  it('restores a frontier from its stored form and goes on from there', () => {
    const all = leavesOf(45);
    const f = MerkleFrontier.empty();
    all.slice(0, 29).forEach((l) => f.append(l));
    const restored = MerkleFrontier.from(f.size, f.toHex());
    all.slice(29).forEach((l) => restored.append(l));
    expect(restored.root().equals(mth(all))).toBe(true);
    expect(() => MerkleFrontier.from(29, f.toHex().slice(1))).toThrow(/has 4 nodes/);
    expect(() => MerkleFrontier.from(29, ['zz', ...f.toHex().slice(1)])).toThrow(/hex/);
  });

  it('gives the audit paths of the definition, and they verify (and nothing else does)', () => {
    for (const n of [1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 31, 33]) {
      const all = leavesOf(n);
      const tree = new MerkleTree(Buffer.concat(all));
      const root = tree.root();
      const biggerRoot = mth([...all, merkleLeafHash(Buffer.from('next'))]);
      for (let i = 0; i < n; i++) {
        const proof = tree.inclusionProof(i);
        expect(proof.map((p) => p.toString('hex'))).toEqual(path(i, all).map((p) => p.toString('hex')));
        expect(verifyInclusion(i, n, all[i]!, proof, root)).toBe(true);
        // Another leaf, another index, another size, a shortened or altered path: refused.
        expect(verifyInclusion(i, n, merkleLeafHash(Buffer.from('other')), proof, root)).toBe(false);
        if (n > 1) expect(verifyInclusion((i + 1) % n, n, all[i]!, proof, root)).toBe(false);
        expect(verifyInclusion(i, n + 1, all[i]!, proof, biggerRoot)).toBe(false);
        if (proof.length > 0) {
          expect(verifyInclusion(i, n, all[i]!, proof.slice(1), root)).toBe(false);
          const altered = proof.map((p, j) => (j === 0 ? merkleNodeHash(p, p) : p));
          expect(verifyInclusion(i, n, all[i]!, altered, root)).toBe(false);
        }
      }
      expect(verifyInclusion(n, n, all[0]!, [], root)).toBe(false);
    }
  });

  it('keeps leaves and nodes apart: a node hash is not a leaf hash of the same bytes', () => {
    const [a, b] = leavesOf(2);
    expect(merkleLeafHash(Buffer.concat([a!, b!])).equals(merkleNodeHash(a!, b!))).toBe(false);
  });
});
