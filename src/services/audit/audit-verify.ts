// Verification of the whole audit log from its rows: leaves, stored nodes, head, stored and exported signed checkpoints.
import { CompactRange } from '../../domain/merkle.ts';
import { hashRows, leafPages, type LeafPage } from './audit-leaves.ts';
import type { CheckpointVerifier, SignedCheckpoint } from '../../crypto/signed-note.ts';
import type { AuditRepo } from '../../store/audit-repo.ts';

export type ProblemCode =
  | 'entry_missing' // a gap in the indices: an entry was deleted
  | 'entry_modified' // the row does not hash to its stored leaf hash (or does not parse)
  | 'entry_unexpected' // an entry beyond the head, or out of order
  | 'node_mismatch' // a stored subtree hash differs from the one recomputed from the entries
  | 'node_missing'
  | 'head_mismatch' // the head's size or root differs from the recomputed tree
  | 'checkpoint_invalid' // a checkpoint whose signature does not verify (forged) or that does not parse
  | 'checkpoint_mismatch' // a validly signed checkpoint whose root is not the root of the log at its size
  | 'log_truncated'; // a validly signed checkpoint covers more entries than the log has

export interface Problem {
  code: ProblemCode;
  message: string;
  /** The entry concerned, when one is. */
  index?: number;
  /** The range [from, to) of entries where a rewrite must be, when it cannot be pinned to one entry. */
  range?: [number, number];
}

export interface CheckpointResult {
  treeSize: number;
  rootHash: string;
  timestamp: number;
  source: 'stored' | 'supplied';
  ok: boolean;
}

export interface VerifyReport {
  ok: boolean;
  /** Entries read. */
  entries: number;
  head: { size: number; rootHash: string };
  /** Root recomputed from the entries. */
  computedRoot: string;
  /** The lowest index at which the log is known to be bad (edited, deleted, reordered or cut). */
  firstBadEntry?: number;
  problems: Problem[];
  checkpoints: CheckpointResult[];
  nodesChecked: number;
}

export interface VerifyOptions {
  /** Exported checkpoint notes to check the log against (e.g. `--checkpoint FILE`). */
  checkpoints?: readonly string[];
  /** Rows per read. */
  pageSize?: number;
  /** Stop listing problems after this many (the first bad entry is still exact). */
  maxProblems?: number;
  /**
   * Share the reading and hashing with a worker thread (default: for logs of WORKER_FROM entries and more). `'wait'`
   * (tests) also waits for it to start, so that it takes pages even of a small log.
   */
  worker?: boolean | 'wait';
}

/** Below this many entries a worker thread costs more to start than it saves. */
export const WORKER_FROM = 100_000;

const b64 = (b: Buffer): string => b.toString('base64');

/** Complete subtrees of this level and up are stored (see audit-log.ts). */
const STORED_NODE_LEVEL = 8;

/**
 * Reads every entry in index order, recomputes its leaf from the columns, rebuilds the tree and checks it against the
 * stored level-≥ 8 nodes, the head and every signed checkpoint. A large log's pages are shared with a worker thread
 * (src/services/audit/audit-leaves.ts).
 */
export async function verifyAuditLog(repo: AuditRepo, verifier: CheckpointVerifier, opts: VerifyOptions = {}): Promise<VerifyReport> {
  // A multiple of the 256-entry block, so blocks never straddle pages.
  const pageSize = Math.max(1, Math.round((opts.pageSize ?? 4096) / 256)) * 256;
  const maxProblems = opts.maxProblems ?? 100;
  const problems: Problem[] = [];
  let firstBad: number | undefined;
  const bad = (p: Problem, at?: number) => {
    if (problems.length < maxProblems) problems.push(p);
    if (at !== undefined && (firstBad === undefined || at < firstBad)) firstBad = at;
  };

  // The last stored index is read before the head: rows committed by an append in between are within the head, so only
  // rows written behind its back lie beyond it.
  const stored = await repo.countEntries();
  const head = await repo.head();
  // Checkpoints: each must carry a valid signature by the log's key before its root means anything.
  const valid: { cp: SignedCheckpoint; source: CheckpointResult['source']; result: CheckpointResult }[] = [];
  const results: CheckpointResult[] = [];
  const notes = [
    ...(await repo.checkpoints()).map((r) => ({ note: r.note, source: 'stored' as const, row: r })),
    ...(opts.checkpoints ?? []).map((note) => ({ note, source: 'supplied' as const, row: undefined })),
  ];
  for (const { note, source, row } of notes) {
    const opened = verifier.open(note);
    if (!opened.ok) {
      bad({ code: 'checkpoint_invalid', message: `${source} checkpoint rejected: ${opened.reason}` });
      continue;
    }
    const cp = opened.checkpoint;
    if (row && (row.tree_size !== cp.treeSize || !row.root.equals(cp.rootHash))) {
      bad({ code: 'checkpoint_invalid', message: `stored checkpoint columns differ from its signed note (size ${row.tree_size})` });
      continue;
    }
    const result: CheckpointResult = { treeSize: cp.treeSize, rootHash: b64(cp.rootHash), timestamp: cp.timestamp, source, ok: true };
    results.push(result);
    valid.push({ cp, source, result });
  }
  valid.sort((a, b) => a.cp.treeSize - b.cp.treeSize);
  const bySize = new Map<number, typeof valid>();
  for (const v of valid) bySize.set(v.cp.treeSize, [...(bySize.get(v.cp.treeSize) ?? []), v]);
  let lastGoodCheckpoint = 0;
  const checkAt = (range: CompactRange) => {
    const here = bySize.get(range.size);
    if (!here) return;
    const root = range.root();
    for (const v of here) {
      if (root.equals(v.cp.rootHash)) continue;
      v.result.ok = false;
      bad({
        code: 'checkpoint_mismatch',
        message: `the log's first ${range.size} entries do not hash to the ${v.source} checkpoint's root: entries in [${lastGoodCheckpoint}, ${range.size}) were rewritten, or the checkpoint is from a fork`,
        range: [lastGoodCheckpoint, range.size],
      });
    }
    if (here.every((v) => v.result.ok)) lastGoodCheckpoint = range.size;
  };

  const range = new CompactRange();
  checkAt(range);
  let expected = 0;
  let read = 0;
  let nodesChecked = 0;
  const maxLevel = Math.max(STORED_NODE_LEVEL, Math.ceil(Math.log2(Math.max(head.size, 2))) + 1);
  const block = 2 ** STORED_NODE_LEVEL;

  /**
   * Stored leaf hashes of the given entries (ascending indices, one read) against the recomputed ones: names each
   * modified entry, returns how many.
   */
  const compareLeavesAt = async (indices: readonly number[], leaves: readonly Buffer[]): Promise<number> => {
    if (indices.length === 0) return 0;
    const storedLeaves = await repo.leafHashesByIndex(indices[0]!, indices[indices.length - 1]! + 1);
    let found = 0;
    leaves.forEach((leaf, i) => {
      const idx = indices[i]!;
      const s = storedLeaves.get(idx);
      if (s && !s.equals(leaf)) {
        found++;
        bad({ code: 'entry_modified', message: `entry ${idx} does not match its leaf hash`, index: idx }, idx);
      }
    });
    return found;
  };
  /** The same for entries `first`, `first`+1, …. */
  const compareLeaves = (first: number, leaves: readonly Buffer[]): Promise<number> =>
    compareLeavesAt(Array.from({ length: leaves.length }, (_, i) => first + i), leaves);

  // Sizes of the valid checkpoints, ascending: a block with one strictly inside is appended leaf by leaf, so the tree is
  // checked at exactly that size.
  const sizes = valid.map((v) => v.cp.treeSize);
  let nextSize = 0;
  const sizeInside = (lo: number, hi: number): boolean => {
    while (nextSize < sizes.length && sizes[nextSize]! <= lo) nextSize++;
    return nextSize < sizes.length && sizes[nextSize]! < hi;
  };

  // Pages by index range, not OFFSET: a gap shows up as a jump in idx. Stored leaf hashes are not read for complete
  // 256-entry blocks: the recomputed block root is compared with the stored level-8 node, and only a block that differs
  // is read leaf by leaf.
  const consume = async (page: LeafPage): Promise<void> => {
    const n = page.idx.length;
    if (n === 0) return;
    for (const idx of page.unencodable) bad({ code: 'entry_modified', message: `entry ${idx} has columns no append writes`, index: idx }, idx);
    const leafAt = (i: number): Buffer => Buffer.from(page.hashes.buffer, page.hashes.byteOffset + i * 32, 32);
    const lo = expected;
    // Rows before the page's first gap, while the tree still lines up with the indices (no gap in an earlier page):
    // those are checked by block and stored node; the rest leaf by leaf.
    let g = 0;
    if (range.size === expected) while (g < n && page.idx[g] === lo + g) g++;
    const created = new Map<string, Buffer>();
    const addNodes = (nodes: readonly { level: number; index: number; hash: Buffer }[]) => {
      for (const node of nodes) if (node.level >= STORED_NODE_LEVEL) created.set(`${node.level}:${node.index}`, node.hash);
    };
    for (let i = 0; i < n; ) {
      const idx = page.idx[i]!;
      // A whole block at once when its root came with the page, the tree is at its start, it lies within the head and
      // no checkpoint ends inside it.
      const k = i / block;
      if (i + block <= g && idx === page.from + i && range.size === idx && Number.isInteger(k) && page.blockValid[k] === 1 && idx + block <= head.size && !sizeInside(idx, idx + block)) {
        addNodes(range.appendSubtree(STORED_NODE_LEVEL, Buffer.from(page.blockRoots.buffer, page.blockRoots.byteOffset + k * 32, 32)).newNodes);
        checkAt(range);
        read += block;
        expected += block;
        i += block;
        continue;
      }
      read++;
      if (idx !== expected) {
        bad({ code: 'entry_missing', message: `entries ${expected}…${idx - 1} are missing`, index: expected }, expected);
        expected = idx; // keep hashing what is there: the roots will not match, the report names the gap
      }
      // Past the gap the tree's nodes no longer sit where the stored ones do: not compared.
      const grown = range.append(leafAt(i)).newNodes;
      if (i < g) addNodes(grown);
      checkAt(range);
      expected++;
      i++;
    }
    // Leaf hashes of the page's rows [a, b), made only where some must be compared with the stored ones.
    const leaves = (a: number, b: number): Buffer[] => Array.from({ length: b - a }, (_, j) => leafAt(a + j));
    if (g < n) {
      const indices = Array.from(page.idx.subarray(g));
      await compareLeavesAt(indices, leaves(g, n));
    }
    if (g === 0) return;
    const hi = lo + g;
    // The entries after the last complete block have no stored node yet: their leaf hashes are compared one by one.
    const tailFrom = Math.max(lo, Math.floor(hi / block) * block);
    if (tailFrom < hi) await compareLeaves(tailFrom, leaves(tailFrom - lo, hi - lo));
    for (const node of await repo.nodesCompletedIn(lo, hi, STORED_NODE_LEVEL, maxLevel)) {
      const key = `${node.level}:${Number(node.idx)}`;
      const want = created.get(key);
      nodesChecked++;
      if (!want) continue;
      created.delete(key);
      if (want.equals(node.hash)) continue;
      const first = Number(node.idx) * 2 ** node.level;
      const width = 2 ** node.level;
      // A differing block: find the entries; if every entry matches its own leaf hash, the node (or a leaf hash
      // rewritten along with its entry) is what changed.
      const named = node.level === STORED_NODE_LEVEL && first >= lo ? await compareLeaves(first, leaves(first - lo, first - lo + width)) : 0;
      if (named === 0) {
        bad({ code: 'node_mismatch', message: `stored node ${key} (entries ${first}…${first + width - 1}) differs from the entries`, range: [first, first + width] });
      }
    }
    for (const key of created.keys()) {
      const [level, index] = key.split(':').map(Number) as [number, number];
      if ((index + 1) * 2 ** level <= head.size) bad({ code: 'node_missing', message: `stored node ${key} is missing` });
    }
  };

  // The head's entries page by page (with a worker thread for a large log), then, in one read each, rows beyond the head
  // that were there before it was read, and rows below index 0. Rows appended while this runs lie beyond both: unread.
  const target = repo.rawTarget;
  const worker = target && (opts.worker ?? head.size >= WORKER_FROM) ? target : undefined;
  for await (const page of leafPages((a, b) => repo.verifyRows(a, b), head.size, pageSize, block, worker, opts.worker === 'wait')) await consume(page);
  // Rows beyond the head or below 0 belong to no tree the head or a checkpoint speaks for: each is named, none hashed.
  const stray = async (from: number, to: number) => hashRows(from, await repo.verifyRows(from, to), block).idx;
  if (stored.max !== null && stored.max >= head.size) {
    for (const idx of await stray(head.size, Math.min(stored.max + 1, Number.MAX_SAFE_INTEGER))) {
      bad({ code: 'entry_unexpected', message: `entry ${idx} is beyond the head (size ${head.size})`, index: idx }, idx);
    }
  }
  if (stored.min !== null && stored.min < 0) {
    for (const idx of await stray(Math.max(stored.min, Number.MIN_SAFE_INTEGER), 0)) {
      bad({ code: 'entry_unexpected', message: `entry ${idx} lies before the first entry`, index: idx }, 0);
    }
  }
  // Rows no index range reaches: SQLite keeps a NULL, a text or a fraction in any column, the primary key included.
  const misplaced = await repo.countMisplaced();
  if (misplaced > 0) bad({ code: 'entry_unexpected', message: `${misplaced} rows have an index that is not an integer` }, 0);

  if (expected < head.size) {
    bad({ code: 'entry_missing', message: `the head has ${head.size} entries, the log ${expected}: entries from ${expected} are missing`, index: expected }, expected);
  }
  const computed = range.root();
  if (range.size === head.size && !computed.equals(head.root)) {
    bad({ code: 'head_mismatch', message: "the head's root is not the root of the entries" });
  }
  const peaks = range.peaks;
  if (range.size === head.size) {
    // Peaks are the roots of consecutive complete subtrees, largest first: the first that differs brackets the change.
    let start = 0;
    for (const [i, p] of peaks.entries()) {
      const width = 2 ** Math.floor(Math.log2(range.size - start));
      if (!head.peaks[i] || !p.equals(head.peaks[i]!)) {
        bad({ code: 'head_mismatch', message: `the head's subtree over entries ${start}…${start + width - 1} is not the entries'`, range: [start, start + width] });
        break;
      }
      start += width;
    }
  }
  for (const v of valid) {
    if (v.cp.treeSize > range.size) {
      v.result.ok = false;
      bad(
        { code: 'log_truncated', message: `a ${v.source} signed checkpoint covers ${v.cp.treeSize} entries; the log has ${range.size}`, range: [range.size, v.cp.treeSize] },
        range.size,
      );
    }
  }
  return {
    ok: problems.length === 0 && firstBad === undefined,
    entries: read,
    head: { size: head.size, rootHash: b64(head.root) },
    computedRoot: b64(computed),
    ...(firstBad !== undefined ? { firstBadEntry: firstBad } : {}),
    problems,
    checkpoints: results,
    nodesChecked,
  };
}
