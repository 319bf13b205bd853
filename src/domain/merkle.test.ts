import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  CompactRange,
  EMPTY_ROOT,
  type GetNode,
  type NodeId,
  consistencyProof,
  consistencyProofFromNodes,
  consistencyProofNodes,
  inclusionProof,
  inclusionProofFromNodes,
  inclusionProofNodes,
  leafHash,
  nodeHash,
  perfectRoot,
  rootAt,
  rootFromLeaves,
  rootFromNodes,
  rootNodes,
  subtreeRoot,
  subtreeRootNodes,
  verifyConsistency,
  verifyInclusion,
} from './merkle.ts';

// Reference written straight from RFC 6962 §2.1 (recursion, slicing, its own hashing): the oracle for everything below.
const sha = (...parts: Uint8Array[]): Buffer => createHash('sha256').update(Buffer.concat(parts)).digest();
const split = (n: number): number => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};
function refMth(d: readonly Buffer[]): Buffer {
  if (d.length === 0) return sha();
  if (d.length === 1) return sha(Buffer.from([0]), d[0]!);
  const k = split(d.length);
  return sha(Buffer.from([1]), refMth(d.slice(0, k)), refMth(d.slice(k)));
}
function refPath(m: number, d: readonly Buffer[]): Buffer[] {
  if (d.length <= 1) return [];
  const k = split(d.length);
  return m < k ? [...refPath(m, d.slice(0, k)), refMth(d.slice(k))] : [...refPath(m - k, d.slice(k)), refMth(d.slice(0, k))];
}
function refSubproof(m: number, d: readonly Buffer[], b: boolean): Buffer[] {
  if (m === d.length) return b ? [] : [refMth(d)];
  const k = split(d.length);
  return m <= k
    ? [...refSubproof(m, d.slice(0, k), b), refMth(d.slice(k))]
    : [...refSubproof(m - k, d.slice(k), false), refMth(d.slice(0, k))];
}
const refProof = (m: number, d: readonly Buffer[]): Buffer[] => refSubproof(m, d, true);

// Every assert.ok carries a message: without one, a failure under tsx makes Node re-parse the transformed source to
// build the message, which takes minutes in a file this size (privatenumber/tsx#548, nodejs/node#52962).
const entries = (n: number, tag = 'e'): Buffer[] => Array.from({ length: n }, (_, i) => Buffer.from(`${tag}-${i}`));
const hex = (bufs: readonly Buffer[]): string[] => bufs.map((b) => b.toString('hex'));
const flip = (b: Buffer, byte = 0): Buffer => {
  const c = Buffer.from(b);
  c[byte % c.length]! ^= 1;
  return c;
};

/** A node store filled from CompactRange appends; `view(size)` refuses nodes that are not complete in a tree of `size`. */
function store(d: readonly Buffer[]) {
  const nodes = new Map<string, Buffer>();
  const range = new CompactRange();
  for (const e of d) for (const n of range.append(leafHash(e)).newNodes) nodes.set(`${n.level}:${n.index}`, n.hash);
  const view =
    (size: number): GetNode =>
    (level, index) => {
      assert.ok((index + 1) * 2 ** level <= size, `node ${level}:${index} is not complete in a tree of ${size}`);
      const h = nodes.get(`${level}:${index}`);
      assert.ok(h, `node ${level}:${index} was never emitted`);
      return h;
    };
  return { nodes, range, view, root: (n: number): Buffer => refMth(d.slice(0, n)) };
}

// Known answers from the Certificate Transparency / transparency-dev reference test data (RFC 6962 hashing).
const CT_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) =>
  Buffer.from(h, 'hex'),
);
const CT_ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const H = {
  l0: '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  l1: '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
  l4: 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
  l6: 'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
  n10: 'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  n11: '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
  n12: '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
  n13: 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
  n20: 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  n21: '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
};

describe('merkle: RFC 6962 known answers', () => {
  const ct = store(CT_LEAVES);

  it('hashes leaves and nodes with the 0x00 / 0x01 domain-separation prefixes', () => {
    assert.equal(EMPTY_ROOT.toString('hex'), CT_ROOTS[0]);
    assert.equal(leafHash(Buffer.alloc(0)).toString('hex'), H.l0);
    const [a, b] = [leafHash(Buffer.from('a')), leafHash(Buffer.from('b'))];
    assert.deepEqual(nodeHash(a, b), sha(Buffer.from([1]), a, b));
    assert.deepEqual(nodeHash(Buffer.from('x'), Buffer.from('yz')), sha(Buffer.from('\x01xyz'))); // any lengths
    assert.notDeepEqual(nodeHash(a, b), nodeHash(b, a));
  });

  it('computes the published roots for sizes 0..8, from leaves, from the compact range and from stored nodes', () => {
    const range = new CompactRange();
    for (let n = 0; n <= 8; n++) {
      assert.equal(rootFromLeaves(CT_LEAVES.slice(0, n).map(leafHash)).toString('hex'), CT_ROOTS[n], `size ${n}`);
      assert.equal(range.root().toString('hex'), CT_ROOTS[n], `compact range at ${n}`);
      assert.equal(rootAt(ct.view(n), n).toString('hex'), CT_ROOTS[n], `rootAt ${n}`);
      if (n < 8) range.append(leafHash(CT_LEAVES[n]!));
    }
    assert.equal(hex(range.peaks).join(), CT_ROOTS[8]);
    assert.deepEqual(hex(CompactRange.fromPeaks(0, []).peaks), []);
  });

  it('emits the published complete-subtree hashes and keeps the published peaks', () => {
    const want = {
      ...{ '0:0': H.l0, '0:1': H.l1, '0:4': H.l4, '0:6': H.l6 },
      ...{ '1:0': H.n10, '1:1': H.n11, '1:2': H.n12, '1:3': H.n13, '2:0': H.n20, '2:1': H.n21, '3:0': CT_ROOTS[8] },
    };
    for (const [key, h] of Object.entries(want)) assert.equal(ct.nodes.get(key)?.toString('hex'), h, key);
    assert.equal(ct.nodes.size, 15);
    const range = new CompactRange();
    for (const e of CT_LEAVES.slice(0, 7)) range.append(leafHash(e));
    assert.deepEqual(hex(range.peaks), [H.n20, H.n12, H.l6]);
  });

  it('produces the published inclusion and consistency proofs', () => {
    const incl: [number, number, string[]][] = [
      [0, 1, []],
      [0, 2, [H.l1]],
      [1, 2, [H.l0]],
      [2, 3, [H.n10]],
      [1, 5, [H.l0, H.n11, H.l4]],
      [0, 8, [H.l1, H.n11, H.n21]],
      [5, 8, [H.l4, H.n13, H.n20]],
    ];
    for (const [i, n, want] of incl) {
      assert.deepEqual(hex(inclusionProof(ct.view(n), i, n)), want, `PATH(${i}, D[${n}])`);
      const [proof, root] = [want.map((h) => Buffer.from(h, 'hex')), Buffer.from(CT_ROOTS[n]!, 'hex')];
      assert.ok(verifyInclusion(leafHash(CT_LEAVES[i]!), i, n, proof, root), `PATH(${i}, D[${n}]) verifies`);
    }
    const cons: [number, number, string[]][] = [
      [1, 1, []],
      [1, 8, [H.l1, H.n11, H.n21]],
      [2, 5, [H.n11, H.l4]],
      [6, 8, [H.n12, H.n13, H.n20]],
    ];
    for (const [m, n, want] of cons) {
      assert.deepEqual(hex(consistencyProof(ct.view(n), m, n)), want, `PROOF(${m}, D[${n}])`);
      const [rm, rn] = [Buffer.from(CT_ROOTS[m]!, 'hex'), Buffer.from(CT_ROOTS[n]!, 'hex')];
      assert.ok(verifyConsistency(m, n, want.map((h) => Buffer.from(h, 'hex')), rm, rn), `PROOF(${m}, D[${n}]) verifies`);
    }
  });
});

describe('merkle: agreement with the RFC reference', () => {
  const d = entries(70);
  const s = store(d);

  it('roots: rootFromLeaves, CompactRange, rootAt and rootFromNodes equal MTH for sizes 0..70 (and a few larger)', () => {
    const range = new CompactRange();
    for (let n = 0; n <= 70; n++) {
      const want = s.root(n);
      assert.deepEqual(rootFromLeaves(d.slice(0, n).map(leafHash)), want, `rootFromLeaves ${n}`);
      assert.deepEqual(range.root(), want, `CompactRange ${n}`);
      assert.deepEqual(rootAt(s.view(n), n), want, `rootAt ${n}`);
      assert.deepEqual(rootFromNodes(n, rootNodes(n).map((x) => s.view(n)(x.level, x.index))), want);
      assert.equal(range.size, n);
      if (n < 70) range.append(leafHash(d[n]!));
    }
    for (const n of [127, 128, 129, 1000]) {
      const big = entries(n, 'big');
      assert.deepEqual(rootFromLeaves(big.map(leafHash)), refMth(big), `size ${n}`);
    }
  });

  it('inclusion proofs equal PATH(m, D[n]) and verify, for every index of every size 1..70', () => {
    for (let n = 1; n <= 70; n++) {
      const root = s.root(n);
      for (let i = 0; i < n; i++) {
        const proof = inclusionProof(s.view(n), i, n);
        assert.deepEqual(hex(proof), hex(refPath(i, d.slice(0, n))), `PATH(${i}, D[${n}])`);
        assert.ok(verifyInclusion(leafHash(d[i]!), i, n, proof, root), `verify ${i} in ${n}`);
      }
    }
  });

  it('consistency proofs equal PROOF(m, D[n]) and verify, for every 1 <= m <= n <= 40', () => {
    for (let n = 1; n <= 40; n++) {
      for (let m = 1; m <= n; m++) {
        const proof = consistencyProof(s.view(n), m, n);
        assert.deepEqual(hex(proof), hex(refProof(m, d.slice(0, n))), `PROOF(${m}, D[${n}])`);
        assert.ok(verifyConsistency(m, n, proof, s.root(m), s.root(n)), `verify ${m} -> ${n}`);
      }
      // From the empty tree: empty proof, which only the empty root satisfies.
      assert.deepEqual(consistencyProof(s.view(n), 0, n), []);
      assert.ok(verifyConsistency(0, n, [], EMPTY_ROOT, s.root(n)), 'from the empty tree');
      assert.ok(!verifyConsistency(0, n, [], s.root(1), s.root(n)), 'from 0 needs the empty root');
      assert.ok(!verifyConsistency(0, n, [s.root(n)], EMPTY_ROOT, s.root(n)), 'from 0 needs an empty proof');
    }
  });

  it('subtreeRoot equals MTH of any range [start, end), aligned or not', () => {
    for (let start = 0; start <= 40; start++) {
      for (let end = start; end <= 40; end++) {
        assert.deepEqual(subtreeRoot(s.view(end), start, end), refMth(d.slice(start, end)), `[${start}, ${end})`);
      }
    }
  });

  it('asks only for O(log n) distinct nodes that are complete in the tree concerned', () => {
    const complete = (ids: NodeId[], size: number, what: string): void => {
      for (const { level, index } of ids) assert.ok((index + 1) * 2 ** level <= size, `${what}: ${level}:${index}`);
      assert.equal(new Set(ids.map((x) => `${x.level}:${x.index}`)).size, ids.length, `${what}: duplicates`);
      assert.ok(ids.length <= 2 * Math.ceil(Math.log2(size + 1)) + 1, `${what}: ${ids.length} nodes`);
    };
    for (const n of [1, 2, 3, 7, 8, 9, 1023, 1024, 1025, 999_999, 2 ** 40 + 12_345]) {
      complete(rootNodes(n), n, `root ${n}`);
      for (const i of [0, 1, Math.floor(n / 2), n - 2, n - 1].filter((x) => x >= 0 && x < n)) complete(inclusionProofNodes(i, n), n, `incl ${i}/${n}`);
      for (const m of [1, 2, 3, Math.floor(n / 3), n - 1, n].filter((x) => x >= 1 && x <= n)) complete(consistencyProofNodes(m, n), n, `cons ${m}/${n}`);
    }
    assert.deepEqual(rootNodes(6), [{ level: 2, index: 0 }, { level: 1, index: 2 }]);
    assert.deepEqual(subtreeRootNodes(8, 12), [{ level: 2, index: 2 }]);
  });

  it('works with an async store: list the nodes, fetch them in one go, combine', async () => {
    const fetchAll = async (ids: NodeId[]): Promise<Buffer[]> => ids.map((x) => s.nodes.get(`${x.level}:${x.index}`)!);
    const [i, m, n] = [13, 21, 70];
    const incl = inclusionProofFromNodes(i, n, await fetchAll(inclusionProofNodes(i, n)));
    assert.deepEqual(incl, refPath(i, d.slice(0, n)));
    const cons = consistencyProofFromNodes(m, n, await fetchAll(consistencyProofNodes(m, n)));
    assert.deepEqual(cons, refProof(m, d.slice(0, n)));
    assert.throws(() => inclusionProofFromNodes(i, n, []), RangeError);
    assert.throws(() => rootFromNodes(6, [s.root(4), s.root(2), s.root(1)]), RangeError);
    assert.throws(() => inclusionProofNodes(5, 5), RangeError);
    assert.throws(() => consistencyProofNodes(6, 5), RangeError);
  });
});

describe('merkle: verification rejects tampering', () => {
  const d = entries(41);
  const s = store(d);
  const withEntry = (j: number, e: Buffer, n: number): Buffer[] => d.slice(0, n).map((x, k) => (k === j ? e : x));

  it('rejects inclusion proofs with a flipped, removed or added hash, a wrong index or a wrong size', () => {
    for (let n = 1; n <= 40; n++) {
      const root = s.root(n);
      for (let i = 0; i < n; i++) {
        const leaf = leafHash(d[i]!);
        const proof = inclusionProof(s.view(n), i, n);
        const bad = (p: Buffer[], what: string, idx = i, size = n, r = root): void =>
          assert.ok(!verifyInclusion(leaf, idx, size, p, r), `${what}: leaf ${i} of ${n}`);
        proof.forEach((_, k) => {
          bad(proof.map((h, j) => (j === k ? flip(h, k * 7) : h)), `flipped #${k}`);
          bad(proof.filter((_, j) => j !== k), `removed #${k}`);
        });
        bad([...proof, root], 'appended hash');
        bad([leaf, ...proof], 'prepended hash');
        for (let j = 0; j < n; j++) if (j !== i) bad(proof, `index ${j}`, j);
        bad(proof, 'index = size', n);
        // The trusted pair is (size, root) from one checkpoint: a proof for size n must fail against size n ± 1.
        if (i < n - 1) bad(proof, 'size n-1', i, n - 1, s.root(n - 1));
        bad(proof, 'size n+1', i, n + 1, s.root(n + 1));
        // Too short for the claimed size: RFC 9162's final `sn = 0` check rejects it although the root is n's.
        bad(proof, 'size 2n with the root of n', i, 2 * n, root);
        assert.ok(!verifyInclusion(flip(leaf), i, n, proof, root), 'other leaf');
      }
    }
    assert.ok(!verifyInclusion(leafHash(d[0]!), 0, 0, [], EMPTY_ROOT), 'empty tree');
    assert.ok(!verifyInclusion(leafHash(d[0]!), -1, 1, [], s.root(1)), 'negative index');
    assert.ok(!verifyInclusion(leafHash(d[0]!), 0.5, 2, [], s.root(2)), 'fractional index');
  });

  it('rejects proofs against a tree with two leaves swapped or one leaf forked', () => {
    for (const n of [2, 3, 5, 8, 13, 21, 32, 40]) {
      for (let j = 0; j < n; j++) {
        const forked = refMth(withEntry(j, Buffer.from('forged'), n));
        const swapped = j + 1 < n ? refMth(withEntry(j + 1, d[j]!, n).map((x, k) => (k === j ? d[j + 1]! : x))) : undefined;
        for (let i = 0; i < n; i++) {
          const proof = inclusionProof(s.view(n), i, n);
          assert.ok(!verifyInclusion(leafHash(d[i]!), i, n, proof, forked), `fork at ${j}, leaf ${i} of ${n}`);
          if (swapped) assert.ok(!verifyInclusion(leafHash(d[i]!), i, n, proof, swapped), `swap ${j}, leaf ${i} of ${n}`);
        }
        if (j + 1 < n) {
          // Leaf j+1 presented at position j with j's genuine path.
          assert.ok(!verifyInclusion(leafHash(d[j + 1]!), j, n, inclusionProof(s.view(n), j, n), s.root(n)), `moved leaf ${j + 1}`);
        }
      }
    }
  });

  it('rejects consistency proofs that are tampered, forked, or presented for other sizes', () => {
    for (let n = 2; n <= 40; n++) {
      for (let m = 1; m < n; m++) {
        const proof = consistencyProof(s.view(n), m, n);
        const [rm, rn] = [s.root(m), s.root(n)];
        const bad = (p: Buffer[], what: string, from = m, to = n, rf = rm, rt = rn): void =>
          assert.ok(!verifyConsistency(from, to, p, rf, rt), `${what}: ${m} -> ${n}`);
        proof.forEach((_, k) => {
          bad(proof.map((h, j) => (j === k ? flip(h, k) : h)), `flipped #${k}`);
          bad(proof.filter((_, j) => j !== k), `removed #${k}`);
        });
        bad([...proof, rn], 'appended hash');
        bad([rm, ...proof], 'prepended hash');
        bad([], 'empty proof');
        bad(proof, 'roots swapped', m, n, rn, rm);
        // Skipping entries: the proof is re-labelled with other sizes, each with its genuine root.
        bad(proof, '(m, n+1)', m, n + 1, rm, s.root(n + 1));
        if (m > 1) bad(proof, '(m-1, n)', m - 1, n, s.root(m - 1), rn);
        if (m + 1 < n) bad(proof, '(m+1, n)', m + 1, n, s.root(m + 1), rn);
        bad(proof, '(m, n-1)', m, n - 1, rm, s.root(n - 1));
        bad(proof, '(m, 2n) with the root of n', m, 2 * n, rm, rn); // too short: caught by the final `sn = 0` check
        // The old tree is not a prefix: some entry before m differs.
        for (const j of new Set([0, Math.floor(m / 2), m - 1])) {
          const oldForked = refMth(withEntry(j, Buffer.from('forged'), m));
          bad(proof, `old tree forked at ${j}`, m, n, oldForked, rn);
          const newForked = store(withEntry(j, Buffer.from('forged'), n));
          bad(consistencyProof(newForked.view(n), m, n), `new tree forked at ${j}`, m, n, rm, newForked.root(n));
        }
      }
      assert.ok(verifyConsistency(n, n, [], s.root(n), s.root(n)), 'equal sizes');
      assert.ok(!verifyConsistency(n, n, [s.root(n)], s.root(n), s.root(n)), 'equal sizes, non-empty proof');
      assert.ok(!verifyConsistency(n, n, [], s.root(n), s.root(n - 1)), 'equal sizes, different roots');
      assert.ok(!verifyConsistency(n, n - 1, [], s.root(n), s.root(n - 1)), 'from > to');
    }
  });
});

describe('merkle: CompactRange', () => {
  it('emits every complete subtree node exactly once, each with its MTH', () => {
    for (let n = 0; n <= 70; n++) {
      const d = entries(n);
      const range = new CompactRange();
      const emitted = d.flatMap((e, i) => {
        const { newNodes } = range.append(leafHash(e));
        assert.deepEqual(newNodes[0], { level: 0, index: i, hash: leafHash(e) });
        return newNodes;
      });
      const expected: string[] = [];
      for (let level = 0; 2 ** level <= n; level++) {
        for (let index = 0; (index + 1) * 2 ** level <= n; index++) expected.push(`${level}:${index}`);
      }
      assert.deepEqual(emitted.map((x) => `${x.level}:${x.index}`).sort(), expected.sort(), `size ${n}`);
      for (const { level, index, hash } of emitted) assert.deepEqual(hash, refMth(d.slice(index * 2 ** level, (index + 1) * 2 ** level)));
    }
  });

  it('round-trips through fromPeaks, from its own peaks or from stored nodes, and keeps growing identically', () => {
    const d = entries(70);
    const s = store(d);
    for (let n = 0; n <= 40; n++) {
      const a = new CompactRange();
      d.slice(0, n).forEach((e) => a.append(leafHash(e)));
      const b = CompactRange.fromPeaks(n, a.peaks);
      const c = CompactRange.fromPeaks(n, rootNodes(n).map((x) => s.view(n)(x.level, x.index)));
      assert.deepEqual(c.peaks, a.peaks);
      for (let k = n; k < 70; k++) {
        const [na, nb] = [a.append(leafHash(d[k]!)), b.append(leafHash(d[k]!))];
        c.append(leafHash(d[k]!));
        assert.deepEqual(nb, na);
      }
      assert.deepEqual([b.root(), c.root(), b.size], [s.root(70), s.root(70), 70]);
    }
    assert.throws(() => CompactRange.fromPeaks(3, [s.root(2)]), RangeError);
    assert.throws(() => CompactRange.fromPeaks(-1, []), RangeError);
    const r = CompactRange.fromPeaks(2, [s.root(2)]);
    r.peaks.pop(); // a copy: the range is unchanged
    assert.deepEqual(r.root(), s.root(2));
  });

  it('appends a perfect subtree at once exactly as its leaves one by one (perfectRoot gives its MTH)', () => {
    const d = entries(96);
    const leaves = Buffer.concat(d.map((e) => leafHash(e)));
    for (const width of [1, 2, 8, 32]) {
      assert.deepEqual(perfectRoot(leaves, 32 * width, width), refMth(d.slice(width, 2 * width)), `perfectRoot of ${width}`);
      const one = new CompactRange();
      const many = new CompactRange();
      const level = Math.log2(width);
      for (let start = 0; start + width <= d.length; start += width) {
        const singly = d.slice(start, start + width).flatMap((e) => one.append(leafHash(e)).newNodes);
        const { newNodes } = many.appendSubtree(level, perfectRoot(leaves, start * 32, width));
        assert.deepEqual(newNodes, singly.filter((x) => x.level >= level), `width ${width} at ${start}`);
        assert.deepEqual([many.size, many.peaks, many.root()], [one.size, one.peaks, one.root()]);
      }
    }
    const r = new CompactRange();
    r.append(leafHash(d[0]!));
    assert.throws(() => r.appendSubtree(1, leafHash(d[1]!)), RangeError);
    assert.throws(() => perfectRoot(leaves, 0, 3), RangeError);
  });
});

describe('merkle: properties (fast-check)', () => {
  const tree = fc.integer({ min: 1, max: 300 }).chain((n) => fc.record({ n: fc.constant(n), tag: fc.string(), a: fc.nat(n), b: fc.nat(n) }));

  it('roots agree with MTH; inclusion and consistency proofs equal the RFC and verify, and a flipped byte fails', () => {
    fc.assert(
      fc.property(tree, fc.nat(), ({ n, tag, a, b }, noise) => {
        const d = entries(n, tag);
        const s = store(d);
        const root = s.root(n);
        assert.deepEqual(rootFromLeaves(d.map(leafHash)), root);
        assert.deepEqual(s.range.root(), root);
        const i = Math.min(a, n - 1);
        const proof = inclusionProof(s.view(n), i, n);
        assert.deepEqual(proof, refPath(i, d));
        assert.ok(verifyInclusion(leafHash(d[i]!), i, n, proof, root), 'inclusion verifies');
        if (proof.length > 0) {
          const k = noise % proof.length;
          assert.ok(!verifyInclusion(leafHash(d[i]!), i, n, proof.map((h, j) => (j === k ? flip(h, noise) : h)), root), 'flipped inclusion proof');
        }
        const m = Math.max(1, b);
        const cons = consistencyProof(s.view(n), m, n);
        assert.deepEqual(cons, refProof(m, d));
        assert.ok(verifyConsistency(m, n, cons, s.root(m), root), 'consistency verifies');
        if (cons.length > 0) {
          const k = noise % cons.length;
          assert.ok(!verifyConsistency(m, n, cons.map((h, j) => (j === k ? flip(h, noise) : h)), s.root(m), root), 'flipped consistency proof');
        }
      }),
      { numRuns: 150 },
    );
  });
});
