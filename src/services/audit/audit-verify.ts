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
  /** Entries read so far, of the head's size (a command's progress bar). */
  onProgress?: (done: number, total: number) => void;
}

/** Below this many entries a worker thread costs more to start than it saves. */
export const WORKER_FROM = 100_000;

const b64 = (b: Buffer): string => b.toString('base64');

/** Complete subtrees of this level and up are stored (see audit-log.ts). */
const STORED_NODE_LEVEL = 8;
/** Entries under one stored level-8 node. */
const BLOCK = 2 ** STORED_NODE_LEVEL;

type AuditHead = Awaited<ReturnType<AuditRepo['head']>>;
type EntryCount = Awaited<ReturnType<AuditRepo['countEntries']>>;

/** A checkpoint whose signature verified: its root means something. */
interface ValidCheckpoint {
  cp: SignedCheckpoint;
  source: CheckpointResult['source'];
  result: CheckpointResult;
}

/**
 * Reads every entry in index order, recomputes its leaf from the columns, rebuilds the tree and checks it against the
 * stored level-≥ 8 nodes, the head and every signed checkpoint. A large log's pages are shared with a worker thread
 * (src/services/audit/audit-leaves.ts).
 */
export async function verifyAuditLog(repo: AuditRepo, verifier: CheckpointVerifier, opts: VerifyOptions = {}): Promise<VerifyReport> {
  // A multiple of the 256-entry block, so blocks never straddle pages.
  const pageSize = Math.max(1, Math.round((opts.pageSize ?? 4096) / 256)) * 256;
  const problems = new ProblemList(opts.maxProblems ?? 100);

  // The last stored index is read before the head: rows committed by an append in between are within the head, so only
  // rows written behind its back lie beyond it.
  const stored = await repo.countEntries();
  const head = await repo.head();
  const { valid, results } = await openCheckpoints(repo, verifier, opts.checkpoints ?? [], problems);
  const checkpoints = new CheckpointSchedule(valid, problems);
  const tree = new TreeRebuild(repo, head, checkpoints, problems);

  // The head's entries page by page (with a worker thread for a large log), then, in one read each, rows beyond the head
  // that were there before it was read, and rows below index 0. Rows appended while this runs lie beyond both: unread.
  const target = repo.rawTarget;
  const worker = target && (opts.worker ?? head.size >= WORKER_FROM) ? target : undefined;
  opts.onProgress?.(0, head.size);
  for await (const page of leafPages((a, b) => repo.verifyRows(a, b), head.size, pageSize, BLOCK, worker, opts.worker === 'wait')) {
    await tree.consume(page);
    opts.onProgress?.(Math.min(tree.read, head.size), head.size);
  }
  await checkStrayRows(repo, stored, head, problems);

  if (tree.expected < head.size) {
    const expected = tree.expected;
    problems.add({ code: 'entry_missing', message: `the head has ${head.size} entries, the log ${expected}: entries from ${expected} are missing`, index: expected }, expected);
  }
  const computed = tree.range.root();
  checkHead(tree.range, head, computed, problems);
  checkpoints.checkTruncation(tree.range.size);
  return {
    ok: problems.items.length === 0 && problems.firstBad === undefined,
    entries: tree.read,
    head: { size: head.size, rootHash: b64(head.root) },
    computedRoot: b64(computed),
    ...(problems.firstBad !== undefined ? { firstBadEntry: problems.firstBad } : {}),
    problems: problems.items,
    checkpoints: results,
    nodesChecked: tree.nodesChecked,
  };
}

/** The problems found, listed up to a maximum; the lowest bad index is kept exact past it. */
class ProblemList {
  readonly items: Problem[] = [];
  firstBad: number | undefined;

  constructor(private readonly max: number) {}

  add(p: Problem, at?: number): void {
    if (this.items.length < this.max) this.items.push(p);
    if (at !== undefined && (this.firstBad === undefined || at < this.firstBad)) this.firstBad = at;
  }
}

/**
 * The stored checkpoints, then the supplied notes: each must carry a valid signature by the log's key before its root
 * means anything. Returns the valid ones by ascending size, and a result for each (in the order read) for the report.
 */
async function openCheckpoints(
  repo: AuditRepo,
  verifier: CheckpointVerifier,
  supplied: readonly string[],
  problems: ProblemList,
): Promise<{ valid: ValidCheckpoint[]; results: CheckpointResult[] }> {
  const valid: ValidCheckpoint[] = [];
  const results: CheckpointResult[] = [];
  const notes = [
    ...(await repo.checkpoints()).map((r) => ({ note: r.note, source: 'stored' as const, row: r })),
    ...supplied.map((note) => ({ note, source: 'supplied' as const, row: undefined })),
  ];
  for (const { note, source, row } of notes) {
    const opened = verifier.open(note);
    if (!opened.ok) {
      problems.add({ code: 'checkpoint_invalid', message: `${source} checkpoint rejected: ${opened.reason}` });
      continue;
    }
    const cp = opened.checkpoint;
    if (row && (row.tree_size !== cp.treeSize || !row.root.equals(cp.rootHash))) {
      problems.add({ code: 'checkpoint_invalid', message: `stored checkpoint columns differ from its signed note (size ${row.tree_size})` });
      continue;
    }
    const result: CheckpointResult = { treeSize: cp.treeSize, rootHash: b64(cp.rootHash), timestamp: cp.timestamp, source, ok: true };
    results.push(result);
    valid.push({ cp, source, result });
  }
  valid.sort((a, b) => a.cp.treeSize - b.cp.treeSize);
  return { valid, results };
}

/** The valid checkpoints by size: each is compared with the rebuilt tree when the tree reaches its size. */
class CheckpointSchedule {
  readonly #bySize = new Map<number, ValidCheckpoint[]>();
  /** Sizes of the valid checkpoints, ascending, and the first of them not yet passed (see `sizeInside`). */
  readonly #sizes: number[];
  #nextSize = 0;
  /** The largest size at which every checkpoint matched so far: a rewrite found later lies after it. */
  #lastGood = 0;

  /** `valid` by ascending size. */
  constructor(
    private readonly valid: readonly ValidCheckpoint[],
    private readonly problems: ProblemList,
  ) {
    for (const v of valid) this.#bySize.set(v.cp.treeSize, [...(this.#bySize.get(v.cp.treeSize) ?? []), v]);
    this.#sizes = valid.map((v) => v.cp.treeSize);
  }

  /** Compares the checkpoints of the tree's current size, if any, with its root. */
  checkAt(range: CompactRange): void {
    const here = this.#bySize.get(range.size);
    if (!here) return;
    const root = range.root();
    for (const v of here) {
      if (root.equals(v.cp.rootHash)) continue;
      v.result.ok = false;
      this.problems.add({
        code: 'checkpoint_mismatch',
        message: `the log's first ${range.size} entries do not hash to the ${v.source} checkpoint's root: entries in [${this.#lastGood}, ${range.size}) were rewritten, or the checkpoint is from a fork`,
        range: [this.#lastGood, range.size],
      });
    }
    if (here.every((v) => v.result.ok)) this.#lastGood = range.size;
  }

  /**
   * Whether a checkpoint's size lies strictly inside (lo, hi): such a block is appended leaf by leaf, so the tree is
   * checked at exactly that size. Calls come with ascending `lo`.
   */
  sizeInside(lo: number, hi: number): boolean {
    const sizes = this.#sizes;
    while (this.#nextSize < sizes.length && sizes[this.#nextSize]! <= lo) this.#nextSize++;
    return this.#nextSize < sizes.length && sizes[this.#nextSize]! < hi;
  }

  /** A checkpoint covering more entries than the log has: the log was cut. */
  checkTruncation(size: number): void {
    for (const v of this.valid) {
      if (v.cp.treeSize <= size) continue;
      v.result.ok = false;
      this.problems.add(
        { code: 'log_truncated', message: `a ${v.source} signed checkpoint covers ${v.cp.treeSize} entries; the log has ${size}`, range: [size, v.cp.treeSize] },
        size,
      );
    }
  }
}

/** The recomputed leaf hash of a page's row `i`. */
const leafAt = (page: LeafPage, i: number): Buffer => Buffer.from(page.hashes.buffer, page.hashes.byteOffset + i * 32, 32);
/** Leaf hashes of the page's rows [a, b), made only where some must be compared with the stored ones. */
const leavesOf = (page: LeafPage, a: number, b: number): Buffer[] => Array.from({ length: b - a }, (_, j) => leafAt(page, a + j));

/**
 * The tree rebuilt from the pages as they come, checked on the way against the stored nodes (and, where a block
 * differs, the stored leaf hashes) and against every valid checkpoint at its size.
 */
class TreeRebuild {
  readonly range = new CompactRange();
  /** The index the next row should have. */
  expected = 0;
  /** Entries read. */
  read = 0;
  nodesChecked = 0;
  readonly #maxLevel: number;

  constructor(
    private readonly repo: AuditRepo,
    private readonly head: AuditHead,
    private readonly checkpoints: CheckpointSchedule,
    private readonly problems: ProblemList,
  ) {
    this.#maxLevel = Math.max(STORED_NODE_LEVEL, Math.ceil(Math.log2(Math.max(head.size, 2))) + 1);
    checkpoints.checkAt(this.range);
  }

  /**
   * One page. Pages go by index range, not OFFSET: a gap shows up as a jump in idx. Stored leaf hashes are not read for
   * complete 256-entry blocks: the recomputed block root is compared with the stored level-8 node, and only a block that
   * differs is read leaf by leaf.
   */
  async consume(page: LeafPage): Promise<void> {
    const n = page.idx.length;
    if (n === 0) return;
    for (const idx of page.unencodable) this.problems.add({ code: 'entry_modified', message: `entry ${idx} has columns no append writes`, index: idx }, idx);
    const lo = this.expected;
    // Rows before the page's first gap, while the tree still lines up with the indices (no gap in an earlier page):
    // those are checked by block and stored node; the rest leaf by leaf.
    let g = 0;
    if (this.range.size === lo) while (g < n && page.idx[g] === lo + g) g++;
    const created = this.#append(page, g);
    if (g < n) await this.#compareLeavesAt(Array.from(page.idx.subarray(g)), leavesOf(page, g, n));
    if (g === 0) return;
    await this.#checkStoredNodes(page, lo, lo + g, created);
  }

  /**
   * Appends the page's rows to the tree, a whole block at once where it can, and names the gaps. Returns the level-≥ 8
   * nodes completed by its first `aligned` rows (before the first gap), by `level:index`.
   */
  #append(page: LeafPage, aligned: number): Map<string, Buffer> {
    const created = new Map<string, Buffer>();
    const addNodes = (nodes: readonly { level: number; index: number; hash: Buffer }[]) => {
      for (const node of nodes) if (node.level >= STORED_NODE_LEVEL) created.set(`${node.level}:${node.index}`, node.hash);
    };
    const n = page.idx.length;
    for (let i = 0; i < n; ) {
      const idx = page.idx[i]!;
      // A whole block at once when its root came with the page, the tree is at its start, it lies within the head and
      // no checkpoint ends inside it.
      const k = i / BLOCK;
      if (i + BLOCK <= aligned && idx === page.from + i && this.range.size === idx && Number.isInteger(k) && page.blockValid[k] === 1 && idx + BLOCK <= this.head.size && !this.checkpoints.sizeInside(idx, idx + BLOCK)) {
        addNodes(this.range.appendSubtree(STORED_NODE_LEVEL, Buffer.from(page.blockRoots.buffer, page.blockRoots.byteOffset + k * 32, 32)).newNodes);
        this.checkpoints.checkAt(this.range);
        this.read += BLOCK;
        this.expected += BLOCK;
        i += BLOCK;
        continue;
      }
      this.read++;
      if (idx !== this.expected) {
        this.problems.add({ code: 'entry_missing', message: `entries ${this.expected}…${idx - 1} are missing`, index: this.expected }, this.expected);
        this.expected = idx; // keep hashing what is there: the roots will not match, the report names the gap
      }
      // Past the gap the tree's nodes no longer sit where the stored ones do: not compared.
      const grown = this.range.append(leafAt(page, i)).newNodes;
      if (i < aligned) addNodes(grown);
      this.checkpoints.checkAt(this.range);
      this.expected++;
      i++;
    }
    return created;
  }

  /**
   * The stored nodes completed by entries [lo, hi) (the page's rows before its first gap) against `created`, the ones
   * recomputed; a differing block is looked into entry by entry.
   */
  async #checkStoredNodes(page: LeafPage, lo: number, hi: number, created: Map<string, Buffer>): Promise<void> {
    // The entries after the last complete block have no stored node yet: their leaf hashes are compared one by one.
    const tailFrom = Math.max(lo, Math.floor(hi / BLOCK) * BLOCK);
    if (tailFrom < hi) await this.#compareLeaves(tailFrom, leavesOf(page, tailFrom - lo, hi - lo));
    for (const node of await this.repo.nodesCompletedIn(lo, hi, STORED_NODE_LEVEL, this.#maxLevel)) {
      const key = `${node.level}:${Number(node.idx)}`;
      const want = created.get(key);
      this.nodesChecked++;
      if (!want) continue;
      created.delete(key);
      if (want.equals(node.hash)) continue;
      const first = Number(node.idx) * 2 ** node.level;
      const width = 2 ** node.level;
      // A differing block: find the entries; if every entry matches its own leaf hash, the node (or a leaf hash
      // rewritten along with its entry) is what changed.
      const named = node.level === STORED_NODE_LEVEL && first >= lo ? await this.#compareLeaves(first, leavesOf(page, first - lo, first - lo + width)) : 0;
      if (named === 0) {
        this.problems.add({ code: 'node_mismatch', message: `stored node ${key} (entries ${first}…${first + width - 1}) differs from the entries`, range: [first, first + width] });
      }
    }
    for (const key of created.keys()) {
      const [level, index] = key.split(':').map(Number) as [number, number];
      if ((index + 1) * 2 ** level <= this.head.size) this.problems.add({ code: 'node_missing', message: `stored node ${key} is missing` });
    }
  }

  /**
   * Stored leaf hashes of the given entries (ascending indices, one read) against the recomputed ones: names each
   * modified entry, returns how many.
   */
  async #compareLeavesAt(indices: readonly number[], leaves: readonly Buffer[]): Promise<number> {
    if (indices.length === 0) return 0;
    const storedLeaves = await this.repo.leafHashesByIndex(indices[0]!, indices[indices.length - 1]! + 1);
    let found = 0;
    leaves.forEach((leaf, i) => {
      const idx = indices[i]!;
      const s = storedLeaves.get(idx);
      if (s && !s.equals(leaf)) {
        found++;
        this.problems.add({ code: 'entry_modified', message: `entry ${idx} does not match its leaf hash`, index: idx }, idx);
      }
    });
    return found;
  }

  /** The same for entries `first`, `first`+1, …. */
  #compareLeaves(first: number, leaves: readonly Buffer[]): Promise<number> {
    return this.#compareLeavesAt(Array.from({ length: leaves.length }, (_, i) => first + i), leaves);
  }
}

/**
 * Rows beyond the head or below 0 belong to no tree the head or a checkpoint speaks for: each is named, none hashed. Then
 * rows no index range reaches: SQLite keeps a NULL, a text or a fraction in any column, the primary key included.
 */
async function checkStrayRows(repo: AuditRepo, stored: EntryCount, head: AuditHead, problems: ProblemList): Promise<void> {
  const stray = async (from: number, to: number) => hashRows(from, await repo.verifyRows(from, to), BLOCK).idx;
  if (stored.max !== null && stored.max >= head.size) {
    for (const idx of await stray(head.size, Math.min(stored.max + 1, Number.MAX_SAFE_INTEGER))) {
      problems.add({ code: 'entry_unexpected', message: `entry ${idx} is beyond the head (size ${head.size})`, index: idx }, idx);
    }
  }
  if (stored.min !== null && stored.min < 0) {
    for (const idx of await stray(Math.max(stored.min, Number.MIN_SAFE_INTEGER), 0)) {
      problems.add({ code: 'entry_unexpected', message: `entry ${idx} lies before the first entry`, index: idx }, 0);
    }
  }
  const misplaced = await repo.countMisplaced();
  if (misplaced > 0) problems.add({ code: 'entry_unexpected', message: `${misplaced} rows have an index that is not an integer` }, 0);
}

/** The head against the rebuilt tree, when the tree has the head's size: its root, then its peaks. */
function checkHead(range: CompactRange, head: AuditHead, computed: Buffer, problems: ProblemList): void {
  if (range.size !== head.size) return;
  if (!computed.equals(head.root)) problems.add({ code: 'head_mismatch', message: "the head's root is not the root of the entries" });
  // Peaks are the roots of consecutive complete subtrees, largest first: the first that differs brackets the change.
  let start = 0;
  for (const [i, p] of range.peaks.entries()) {
    const width = 2 ** Math.floor(Math.log2(range.size - start));
    if (!head.peaks[i] || !p.equals(head.peaks[i]!)) {
      problems.add({ code: 'head_mismatch', message: `the head's subtree over entries ${start}…${start + width - 1} is not the entries'`, range: [start, start + width] });
      break;
    }
    start += width;
  }
}
