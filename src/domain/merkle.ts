// The RFC 6962 / RFC 9162 Merkle tree behind the tamper-evident audit log: hashing, compact ranges, proofs, verification.
import crypto from 'node:crypto';

/** A complete (perfect) subtree: level k, index i covers leaves [i·2^k, (i+1)·2^k). Level 0 is the leaf hashes. */
export interface NodeId {
  level: number;
  index: number;
}
export interface StoredNode extends NodeId {
  hash: Buffer;
}
/** Returns the stored hash of a complete subtree; callers only ask for nodes that exist for the size involved. */
export type GetNode = (level: number, index: number) => Buffer;

// crypto.hash (Node ≥ 20.12) is one native call; a 'binary' (latin1) string result turned back into a Buffer is faster than
// its 'buffer' output on Node 20. createHash is the fallback for older runtimes.
const hashToString = typeof crypto.hash === 'function' ? crypto.hash : undefined;
const sha256: (data: Uint8Array) => Buffer = hashToString
  ? (data) => Buffer.from(hashToString('sha256', data, 'binary'), 'binary')
  : (data) => crypto.createHash('sha256').update(data).digest();

export const EMPTY_ROOT: Buffer = sha256(new Uint8Array(0));

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);
// One reused input buffer for node hashes: the hot path of every root and append. Safe because hashing is synchronous.
const nodeInput = Buffer.alloc(65, 0x01);

export function leafHash(entry: Uint8Array): Buffer {
  return sha256(Buffer.concat([LEAF_PREFIX, entry]));
}

/**
 * The leaf hash of a text's UTF-8 bytes written into `out` at `offset`: the verifier's path through a million entries,
 * with no Buffer made per entry (crypto.hash encodes a string as UTF-8 itself; its 32-character binary string result is
 * copied in place).
 */
export function leafHashOfTextInto(text: string, out: Buffer, offset: number): void {
  if (hashToString) out.write(hashToString('sha256', `\u0000${text}`, 'binary'), offset, 32, 'latin1');
  else leafHash(Buffer.from(text, 'utf8')).copy(out, offset);
}

/** nodeHash of the 64 bytes at `offset` in `buf` (left then right), written into `out` at `at`. */
function nodeHashInto(buf: Uint8Array, offset: number, out: Buffer, at: number): void {
  nodeInput.set(buf.subarray(offset, offset + 64), 1);
  if (hashToString) out.write(hashToString('sha256', nodeInput, 'binary'), at, 32, 'latin1');
  else sha256(nodeInput).copy(out, at);
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== 32 || right.length !== 32) return sha256(Buffer.concat([NODE_PREFIX, left, right]));
  nodeInput.set(left, 1);
  nodeInput.set(right, 33);
  return sha256(nodeInput);
}

/**
 * Root of a perfect subtree whose `count` leaf hashes (a power of two) lie back to back in `hashes` from byte `offset`.
 * Works level by level in one scratch array: no Buffer per node.
 */
export function perfectRoot(hashes: Uint8Array, offset: number, count: number): Buffer {
  if (count < 1 || (count & (count - 1)) !== 0) throw new RangeError(`${count} leaves are not a perfect subtree`);
  if (scratch.length < count * 32) scratch = Buffer.alloc(count * 32);
  scratch.set(hashes.subarray(offset, offset + count * 32));
  for (let width = count; width > 1; width >>>= 1) {
    for (let i = 0; i < width; i += 2) nodeHashInto(scratch, i * 32, scratch, (i >>> 1) * 32);
  }
  return Buffer.from(scratch.subarray(0, 32));
}
let scratch = Buffer.alloc(256 * 32);

/** MTH(D[n]) of RFC 6962 §2.1, level by level: pair neighbours, carry a lone last node up unchanged. */
export function rootFromLeaves(leaves: readonly Buffer[]): Buffer {
  const n = leaves.length;
  if (n === 0) return EMPTY_ROOT;
  if (n === 1) return leaves[0]!;
  const level: Buffer[] = new Array<Buffer>(Math.ceil(n / 2));
  let len = pairUp(leaves, n, level);
  while (len > 1) len = pairUp(level, len, level); // in place: slot i is written after slots 2i, 2i+1 are read
  return level[0]!;
}

function pairUp(from: readonly Buffer[], len: number, to: Buffer[]): number {
  const half = len >>> 1;
  for (let i = 0; i < half; i++) to[i] = nodeHash(from[2 * i]!, from[2 * i + 1]!);
  if (len % 2 === 1) to[half] = from[len - 1]!;
  return half + (len % 2);
}

/**
 * The frontier of an append-only tree: the roots of the perfect subtrees of `size`'s binary decomposition, largest first.
 * Appending emits every complete node it creates, so a store can persist them and later serve any root or proof.
 */
export class CompactRange {
  #size = 0;
  #peaks: Buffer[] = [];

  static fromPeaks(size: number, peaks: readonly Buffer[]): CompactRange {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid tree size ${size}`);
    if (peaks.length !== popcount(size)) throw new RangeError(`size ${size} needs ${popcount(size)} peaks, got ${peaks.length}`);
    const range = new CompactRange();
    range.#size = size;
    range.#peaks = [...peaks];
    return range;
  }

  get size(): number {
    return this.#size;
  }

  /** A copy, so callers cannot corrupt the range. */
  get peaks(): Buffer[] {
    return [...this.#peaks];
  }

  append(leaf: Buffer): { newNodes: StoredNode[] } {
    return this.appendSubtree(0, leaf);
  }

  /**
   * Appends 2^level leaves at once, given the root of their perfect subtree (the size must be a multiple of 2^level):
   * the same peaks and the same new nodes from `level` up as appending the leaves one by one.
   */
  appendSubtree(level: number, root: Buffer): { newNodes: StoredNode[] } {
    const width = 2 ** level;
    if (this.#size % width !== 0) throw new RangeError(`a subtree of ${width} leaves cannot follow ${this.#size}`);
    let index = this.#size / width;
    let hash = root;
    const newNodes: StoredNode[] = [{ level, index, hash }];
    // Each trailing 1 bit of the old size (counted in subtrees of this width) is a peak of the same height: merge them.
    for (let s = index, l = level + 1; s % 2 === 1; s = (s - 1) / 2, l++) {
      hash = nodeHash(this.#peaks.pop()!, hash);
      index = (index - 1) / 2;
      newNodes.push({ level: l, index, hash });
    }
    this.#peaks.push(hash);
    this.#size += width;
    return { newNodes };
  }

  root(): Buffer {
    return foldPeaks(this.#peaks);
  }
}

/** RFC 6962 root of perfect subtrees laid left to right, largest first: fold right to left. */
function foldPeaks(peaks: readonly Buffer[]): Buffer {
  if (peaks.length === 0) return EMPTY_ROOT;
  let acc = peaks[peaks.length - 1]!;
  for (let i = peaks.length - 2; i >= 0; i--) acc = nodeHash(peaks[i]!, acc);
  return acc;
}

function popcount(n: number): number {
  let c = 0;
  for (; n > 0; n = Math.floor(n / 2)) c += n % 2;
  return c;
}

/** Largest power of two strictly below n (n ≥ 2): the RFC's split point k. */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** The node id if [start, end) is one complete subtree, else undefined. */
function asNode(start: number, end: number): NodeId | undefined {
  const n = end - start;
  let level = 0;
  while (2 ** level < n) level++;
  return 2 ** level === n && start % n === 0 ? { level, index: start / n } : undefined;
}

type Range = readonly [start: number, end: number];

// Follows the RFC split of [start, end) down to complete subtrees. For ranges proofs and roots use (start a multiple of
// the power of two ≥ end - start) these are the O(log n) peaks; an unaligned range falls back to smaller nodes.
function rangeNodes(start: number, end: number, out: NodeId[]): void {
  const node = asNode(start, end);
  if (node) out.push(node);
  else {
    const k = splitPoint(end - start);
    rangeNodes(start, start + k, out);
    rangeNodes(start + k, end, out);
  }
}

function rangeHash(start: number, end: number, next: () => Buffer): Buffer {
  if (asNode(start, end)) return next();
  const k = splitPoint(end - start);
  const left = rangeHash(start, start + k, next);
  return nodeHash(left, rangeHash(start + k, end, next));
}

function nodesOf(ranges: readonly Range[]): NodeId[] {
  const out: NodeId[] = [];
  for (const [start, end] of ranges) rangeNodes(start, end, out);
  return out;
}

/** Combines fetched hashes, given in the order `nodesOf(ranges)` listed them, into one hash per range. */
function hashesOf(ranges: readonly Range[], hashes: readonly Buffer[]): Buffer[] {
  let i = 0;
  const next = (): Buffer => {
    const h = hashes[i++];
    if (!h) throw new RangeError(`expected more than ${hashes.length} node hashes`);
    return h;
  };
  const out = ranges.map(([start, end]) => rangeHash(start, end, next));
  if (i !== hashes.length) throw new RangeError(`expected ${i} node hashes, got ${hashes.length}`);
  return out;
}

const fetch = (getNode: GetNode, ids: readonly NodeId[]): Buffer[] => ids.map((n) => getNode(n.level, n.index));

function checkSize(name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`invalid ${name} ${n}`);
}

function subtreeRanges(start: number, end: number): Range[] {
  checkSize('start', start);
  checkSize('end', end);
  if (end < start) throw new RangeError(`range [${start}, ${end}) is reversed`);
  return start === end ? [] : [[start, end]];
}

// PATH(m, D[n]) of RFC 6962 §2.1.1, unrolled: siblings are found top-down, the proof lists them bottom-up.
function inclusionRanges(index: number, size: number): Range[] {
  checkSize('size', size);
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) throw new RangeError(`index ${index} not in tree of size ${size}`);
  const out: Range[] = [];
  let lo = 0;
  let hi = size;
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (index < lo + k) {
      out.push([lo + k, hi]);
      hi = lo + k;
    } else {
      out.push([lo, lo + k]);
      lo += k;
    }
  }
  return out.reverse();
}

// PROOF(m, D[n]) = SUBPROOF(m, D[n], true) of RFC 6962 §2.1.2, unrolled. from = 0 or from = to gives an empty proof:
// the empty tree is a prefix of every tree (RFC 9162 defines proofs only for 0 < m < n).
function consistencyRanges(from: number, to: number): Range[] {
  checkSize('from', from);
  checkSize('to', to);
  if (from > to) throw new RangeError(`from ${from} > to ${to}`);
  if (from === 0) return [];
  const out: Range[] = [];
  let lo = 0;
  let hi = to;
  let known = true; // whether MTH(D[lo:hi]) is the old root itself, which the verifier already has
  while (hi !== from) {
    const k = splitPoint(hi - lo);
    if (from - lo <= k) {
      out.push([lo + k, hi]);
      hi = lo + k;
    } else {
      out.push([lo, lo + k]);
      lo += k;
      known = false;
    }
  }
  if (!known) out.push([lo, hi]);
  return out.reverse();
}

/** MTH of leaves [start, end): the nodes to fetch, then the combination of their hashes (same order). */
export const subtreeRootNodes = (start: number, end: number): NodeId[] => nodesOf(subtreeRanges(start, end));
export const subtreeRootFromNodes = (start: number, end: number, hashes: readonly Buffer[]): Buffer =>
  hashesOf(subtreeRanges(start, end), hashes)[0] ?? EMPTY_ROOT;
export const subtreeRoot = (getNode: GetNode, start: number, end: number): Buffer =>
  subtreeRootFromNodes(start, end, fetch(getNode, subtreeRootNodes(start, end)));

/** Root of the tree of `size` leaves; `rootNodes(size)` are its peaks, largest first (what `CompactRange.fromPeaks` takes). */
export const rootNodes = (size: number): NodeId[] => subtreeRootNodes(0, size);
export const rootFromNodes = (size: number, hashes: readonly Buffer[]): Buffer => subtreeRootFromNodes(0, size, hashes);
export const rootAt = (getNode: GetNode, size: number): Buffer => subtreeRoot(getNode, 0, size);

/** RFC 6962 §2.1.1 audit path of leaf `index` in the tree of `size` leaves, bottom-up. */
export const inclusionProofNodes = (index: number, size: number): NodeId[] => nodesOf(inclusionRanges(index, size));
export const inclusionProofFromNodes = (index: number, size: number, hashes: readonly Buffer[]): Buffer[] =>
  hashesOf(inclusionRanges(index, size), hashes);
export const inclusionProof = (getNode: GetNode, index: number, size: number): Buffer[] =>
  inclusionProofFromNodes(index, size, fetch(getNode, inclusionProofNodes(index, size)));

/** RFC 6962 §2.1.2 consistency proof between the trees of `from` and `to` leaves (empty if from is 0 or equals to). */
export const consistencyProofNodes = (from: number, to: number): NodeId[] => nodesOf(consistencyRanges(from, to));
export const consistencyProofFromNodes = (from: number, to: number, hashes: readonly Buffer[]): Buffer[] =>
  hashesOf(consistencyRanges(from, to), hashes);
export const consistencyProof = (getNode: GetNode, from: number, to: number): Buffer[] =>
  consistencyProofFromNodes(from, to, fetch(getNode, consistencyProofNodes(from, to)));

const isSize = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;
const half = (n: number): number => Math.floor(n / 2);
const odd = (n: number): boolean => n % 2 === 1;

/** RFC 9162 §2.1.3.2. Trust comes from (size, root) being a signed checkpoint; the proof itself is untrusted. */
export function verifyInclusion(leaf: Buffer, index: number, size: number, proof: readonly Buffer[], root: Buffer): boolean {
  if (!isSize(index) || !isSize(size) || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r);
      while (!odd(fn) && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else {
      r = nodeHash(r, p);
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  return sn === 0 && r.equals(root);
}

/**
 * RFC 9162 §2.1.4.2. Equal sizes need an empty proof and equal roots; from = 0 needs an empty proof and the empty root
 * (the empty tree is consistent with every tree, so rootTo is not constrained).
 */
export function verifyConsistency(from: number, to: number, proof: readonly Buffer[], rootFrom: Buffer, rootTo: Buffer): boolean {
  if (!isSize(from) || !isSize(to) || from > to) return false;
  if (from === 0) return proof.length === 0 && rootFrom.equals(EMPTY_ROOT);
  if (from === to) return proof.length === 0 && rootFrom.equals(rootTo);
  if (proof.length === 0) return false;
  const path = asNode(0, from) ? [rootFrom, ...proof] : [...proof]; // a power-of-two old tree is a node of the new one
  let fn = from - 1;
  let sn = to - 1;
  while (odd(fn)) [fn, sn] = [half(fn), half(sn)];
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (!odd(fn) && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else {
      sr = nodeHash(sr, c);
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  return sn === 0 && fr.equals(rootFrom) && sr.equals(rootTo);
}
