// Verification of the whole audit log from its rows: leaves, stored nodes, head, stored and exported signed checkpoints.
import { canonicalEntryBytes } from '../domain/audit-entry.ts';
import { CompactRange, leafHash } from '../domain/merkle.ts';
import type { CheckpointVerifier, SignedCheckpoint } from '../crypto/signed-note.ts';
import type { AuditRepo } from '../store/audit-repo.ts';

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
  /** How the leaves were recomputed (see verifyAuditLog). */
  method: VerifyMethod;
}

export interface VerifyOptions {
  /** Exported checkpoint notes to check the log against (e.g. `--checkpoint FILE`). */
  checkpoints?: readonly string[];
  /** Rows per read. */
  pageSize?: number;
  /** Stop listing problems after this many (the first bad entry is still exact). */
  maxProblems?: number;
  /** `columns` skips the fast pass (see verifyAuditLog). */
  method?: VerifyMethod;
}

export type VerifyMethod = 'sql-text' | 'columns';

const b64 = (b: Buffer): string => b.toString('base64');

/** Complete subtrees of this level and up are stored (see audit-log.ts). */
const STORED_NODE_LEVEL = 8;

/**
 * Two ways to get each leaf's bytes: `sql-text` has SQLite splice the canonical text from the columns with its
 * built-in JSON string quoting (json_quote: one string per row, ~2.5× cheaper to read than the columns);
 * `columns` reads the columns and encodes them here. The `columns` encoder is the authority: a `sql-text` pass is
 * accepted only when every check passes; any problem (or error) and the log is verified again by `columns`, whose report
 * is the one returned. A database encoder that differed from ours could only cause that second pass, never hide a change:
 * json_quote quotes strings the way JSON.stringify does (tested), and the parts are spliced in the same injective layout.
 */
export async function verifyAuditLog(repo: AuditRepo, verifier: CheckpointVerifier, opts: VerifyOptions = {}): Promise<VerifyReport> {
  if ((opts.method ?? 'sql-text') === 'sql-text' && repo.canSpliceText) {
    try {
      const fast = await verifyWith('sql-text', repo, verifier, opts);
      if (fast.ok) return fast;
    } catch {
      // e.g. a column holding a blob: json_quote refuses it; the column pass names the entry
    }
  }
  return verifyWith('columns', repo, verifier, opts);
}

async function verifyWith(method: VerifyMethod, repo: AuditRepo, verifier: CheckpointVerifier, opts: VerifyOptions): Promise<VerifyReport> {
  // A multiple of the 256-entry block, so blocks never straddle pages.
  const pageSize = Math.max(1, Math.round((opts.pageSize ?? 16_384) / 256)) * 256;
  const maxProblems = opts.maxProblems ?? 100;
  const problems: Problem[] = [];
  let firstBad: number | undefined;
  const bad = (p: Problem, at?: number) => {
    if (problems.length < maxProblems) problems.push(p);
    if (at !== undefined && (firstBad === undefined || at < firstBad)) firstBad = at;
  };

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

  if (method === 'sql-text') {
    // The fast pass reads no index per row: it needs indices 0…n-1 without a gap (the column pass names gaps).
    const { n, min, max } = await repo.countEntries();
    if (n > 0 && (min !== 0 || max !== n - 1)) throw new Error('gaps: verify by columns');
  }
  const range = new CompactRange();
  checkAt(range);
  let expected = 0;
  let read = 0;
  let nodesChecked = 0;
  const maxLevel = Math.max(STORED_NODE_LEVEL, Math.ceil(Math.log2(Math.max(head.size, 2))) + 1);
  const block = 2 ** STORED_NODE_LEVEL;

  /** Stored leaf hashes of [from, to) against the recomputed ones: names each modified entry. */
  const compareLeaves = async (from: number, leaves: readonly Buffer[]): Promise<number> => {
    const stored = await repo.leafHashesByIndex(from, from + leaves.length);
    let found = 0;
    leaves.forEach((leaf, i) => {
      const s = stored.get(from + i);
      if (s && !s.equals(leaf)) {
        found++;
        bad({ code: 'entry_modified', message: `entry ${from + i} does not match its leaf hash`, index: from + i }, from + i);
      }
    });
    return found;
  };

  // Pages by index range, not OFFSET: a gap shows up as a jump in idx. Reading continues past the head's size so that
  // rows appended behind the head's back are seen too. Stored leaf hashes are not read for complete 256-entry blocks:
  // the recomputed block root is compared with the stored level-8 node, and only a block that differs is read leaf by
  // leaf (which is what keeps a million entries within a few seconds).
  for (let from = 0; ; from += pageSize) {
    const rows =
      method === 'sql-text'
        ? (await repo.canonicalTexts(from, from + pageSize)).map((text, i) => ({ idx: from + i, text }))
        : await repo.entriesForVerify(from, from + pageSize);
    if (rows.length === 0) {
      const { max } = await repo.countEntries();
      if (max === null || max < from) break;
      continue;
    }
    const pageStart = expected;
    const leaves: Buffer[] = [];
    const created = new Map<string, Buffer>();
    let contiguous = true;
    for (const row of rows) {
      read++;
      const idx = Number(row.idx);
      if (idx !== expected) {
        bad({ code: 'entry_missing', message: `entries ${expected}…${idx - 1} are missing`, index: expected }, expected);
        expected = idx; // keep hashing what is there: the roots will not match, the report names the gap
        contiguous = false;
      }
      let leaf: Buffer;
      try {
        if ('text' in row) {
          if (typeof row.text !== 'string') throw new Error('a NULL column');
          leaf = leafHash(Buffer.from(row.text, 'utf8'));
        } else {
          leaf = leafHash(
            canonicalEntryBytes({ index: idx, at: row.at, actor: row.actor, action: row.action, purpose: row.purpose, subjectId: row.subject_id, outcome: row.outcome, dataJson: row.data }),
          );
        }
      } catch {
        leaf = Buffer.alloc(32); // a column that cannot be encoded (e.g. a negative time) was not written by us
        bad({ code: 'entry_modified', message: `entry ${idx} has columns no append writes`, index: idx }, idx);
      }
      leaves.push(leaf);
      if (idx >= head.size) bad({ code: 'entry_unexpected', message: `entry ${idx} is beyond the head (size ${head.size})`, index: idx }, idx);
      for (const n of range.append(leaf).newNodes) if (n.level >= STORED_NODE_LEVEL) created.set(`${n.level}:${n.index}`, n.hash);
      checkAt(range);
      expected++;
    }
    if (!contiguous) {
      // After a gap the blocks no longer line up with the indices: compare every leaf of the page instead.
      await compareLeaves(pageStart, leaves);
      continue;
    }
    const lo = pageStart;
    const hi = expected;
    // The entries after the last complete block have no stored node yet: their leaf hashes are compared one by one.
    const tailFrom = Math.max(lo, Math.floor(hi / block) * block);
    if (tailFrom < hi) await compareLeaves(tailFrom, leaves.slice(tailFrom - lo));
    for (const n of await repo.nodesCompletedIn(lo, hi, STORED_NODE_LEVEL, maxLevel)) {
      const key = `${n.level}:${Number(n.idx)}`;
      const want = created.get(key);
      nodesChecked++;
      if (!want) continue;
      created.delete(key);
      if (want.equals(n.hash)) continue;
      const first = Number(n.idx) * 2 ** n.level;
      const width = 2 ** n.level;
      // A differing block: find the entries; if every entry matches its own leaf hash, the node (or a leaf hash
      // rewritten along with its entry) is what changed.
      const named = n.level === STORED_NODE_LEVEL && first >= lo ? await compareLeaves(first, leaves.slice(first - lo, first - lo + width)) : 0;
      if (named === 0) {
        bad({ code: 'node_mismatch', message: `stored node ${key} (entries ${first}…${first + width - 1}) differs from the entries`, range: [first, first + width] });
      }
    }
    for (const key of created.keys()) {
      const [level, index] = key.split(':').map(Number) as [number, number];
      if ((index + 1) * 2 ** level <= head.size) bad({ code: 'node_missing', message: `stored node ${key} is missing` });
    }
  }

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
    method,
  };
}
