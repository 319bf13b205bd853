// The tamper-evident audit log: appends entries inside the caller's transaction, signs checkpoints, serves proofs and queries.
import type { DataScope } from '../../store/scope.ts';
import { canonicalEntryText, entryDataJson, entryFromParts, entryProblem, type AuditEntry, type AuditEntryParts } from '../../domain/audit-entry.ts';
import {
  CompactRange,
  consistencyProofFromNodes,
  consistencyProofNodes,
  inclusionProofFromNodes,
  inclusionProofNodes,
  leafHashOfTextInto,
  rootFromLeaves,
  rootFromNodes,
  rootNodes,
  type NodeId,
} from '../../domain/merkle.ts';
import type { BlindIndexer } from '../../crypto/blind-index.ts';
import type { CheckpointSigner, SignedCheckpoint } from '../../crypto/signed-note.ts';
import { FiduciaError } from '../../domain/errors.ts';
import type { IdentityRef } from '../../domain/identity.ts';
import { AuditRepo, type AuditHead, type AuditQuery } from '../../store/audit-repo.ts';
import { ProfileRepo } from '../../store/profile-repo.ts';
import type { AuditEntriesTable, AuditNodesTable } from '../../store/schema.ts';
import type { AuditEntryInput, AuditPort, AuditRecorder } from './audit-port.ts';
import { verifyAuditLog, type VerifyOptions, type VerifyReport } from './audit-verify.ts';

/** An entry the log refuses (a caller's bug, not a client's): 500, the message logged only. */
export class AuditInputError extends FiduciaError {
  constructor(message: string) {
    super('FIDUCIA_INTERNAL', message);
    this.name = 'AuditInputError';
  }
}

export interface AuditLogDeps {
  signer: CheckpointSigner;
  /** Lets queries name a person by identity (`email:…`) instead of subject id. */
  blindIndex?: BlindIndexer;
  now?: () => number;
}

export interface InclusionProof {
  index: number;
  treeSize: number;
  entry: AuditEntry;
  leafHash: Buffer;
  proof: Buffer[];
  rootHash: Buffer;
  /** A checkpoint signed now for `treeSize`, so the proof can be checked against a signed root. */
  checkpoint: SignedCheckpoint;
}

export interface ConsistencyProof {
  from: number;
  to: number;
  proof: Buffer[];
  fromRoot: Buffer;
  toRoot: Buffer;
  fromCheckpoint: SignedCheckpoint;
  toCheckpoint: SignedCheckpoint;
}

/** A node or entry the head says exists is not stored: the log is damaged (500; `fiducia audit verify` says where). */
export class AuditLogDamagedError extends FiduciaError {
  constructor(message: string) {
    super('FIDUCIA_INTERNAL', `${message}: run "fiducia audit verify"`);
    this.name = 'AuditLogDamagedError';
  }
}

export class ProofRangeError extends FiduciaError {
  constructor(message: string) {
    super('FIDUCIA_VALIDATION', message);
    this.name = 'ProofRangeError';
  }
}

/** Complete subtrees of this level and up are stored; smaller ones are recomputed from ≤ 2^(level-1)·2 leaf hashes. */
export const STORED_NODE_LEVEL = 8;

/**
 * Entries hashed and sent per insert statement within one append. On PostgreSQL the server stores one chunk while this
 * process hashes the next; in appends of 1,000, chunks of 250 came closer to plain inserts than larger or smaller ones
 * (figures in docs/performance.md, "Audit log").
 */
const APPEND_CHUNK = 250;

/**
 * Tries of the one-statement append (PostgreSQL): on the head this process wrote last, then on the head read afresh;
 * then the locked transaction. Under contention (two instances appending without pause) misses are common, and further
 * tries only re-send the rows (figures in docs/performance.md, "Audit log").
 */
const ALONE_ATTEMPTS = 2;

/** Sees each group of entries once it is appended; returns a promise when it has work the append should wait for. */
export type AppendObserver = (entries: readonly AuditEntryInput[]) => Promise<void> | undefined;

export function partsOfRow(r: AuditEntriesTable) {
  return { index: r.idx, at: r.at, actor: r.actor, action: r.action, purpose: r.purpose, subjectId: r.subject_id, outcome: r.outcome, dataJson: r.data };
}

export function entryFromRow(r: AuditEntriesTable): AuditEntry {
  return entryFromParts(partsOfRow(r));
}

// Text no database column can hold the same way: lone surrogates (not UTF-8) and NUL (refused by PostgreSQL).
const UNSTORABLE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]|\u0000/g;
const SUSPECT = /[\ud800-\udfff\u0000]/;
const wellFormed = (s: string): string => (SUSPECT.test(s) ? s.replace(UNSTORABLE, '\ufffd') : s);

export class AuditLog implements AuditPort, AuditRecorder {
  readonly signer: CheckpointSigner;
  readonly #now: () => number;
  /** The head this process wrote last, while nothing else is known to have moved it (PostgreSQL, see #appendAlone). */
  #head: AuditHead | undefined;
  /** The appends made outside a transaction, one after the other. */
  #alone: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: DataScope,
    private readonly deps: AuditLogDeps,
  ) {
    this.signer = deps.signer;
    this.#now = deps.now ?? Date.now;
  }

  /** Entries that stand alone, not part of a caller's transaction (see AuditRecorder). */
  record(entries: readonly AuditEntryInput[]): Promise<void> {
    return this.append(this.db, entries);
  }

  async append(db: DataScope, entries: readonly AuditEntryInput[]): Promise<void> {
    if (entries.length === 0) return;
    // Checked and encoded now, before any await: a caller changing its objects later cannot change what is recorded.
    const prepared = entries.map((e): Omit<AuditEntryParts, 'index' | 'at'> => {
      const x = {
        actor: e.actor,
        action: e.action,
        purpose: e.purpose ?? null,
        subjectId: e.subjectId ?? null,
        fields: e.fields ?? [],
        counts: e.counts ?? {},
        outcome: e.outcome,
        details: e.details ?? {},
      };
      const problem = entryProblem(x);
      if (problem) throw new AuditInputError(`audit entry refused: ${problem}`);
      // Columns hold text as the database stores it: a lone surrogate would come back as U+FFFD (and NUL is refused by
      // PostgreSQL), no longer hashing the same, so both are replaced before hashing (JSON-encoded `data` escapes them).
      return { actor: wellFormed(x.actor), action: x.action, purpose: x.purpose && wellFormed(x.purpose), subjectId: x.subjectId && wellFormed(x.subjectId), outcome: x.outcome, dataJson: entryDataJson(x) };
    });
    if (db.inTransaction) await this.#append(db, prepared);
    // Where the store can (PostgreSQL), outside a transaction: one statement that checks the head it extends (see #appendAlone).
    else if (new AuditRepo(this.db).appendsInOneStatement) await this.#appendAlone(prepared);
    // Otherwise the entries get a transaction of their own: the head must be locked until the rows commit.
    else await db.transaction((trx) => this.#append(trx, prepared));
    const after = this.#observer?.(entries);
    if (after === undefined) return;
    // Inside a transaction the observer's own writes would wait for it to end (SQLite has one connection): not awaited.
    if (db.inTransaction) void after.catch(() => undefined);
    else await after;
  }

  #observer: AppendObserver | undefined;

  /**
   * Called with every group of entries once appended (exfiltration detection counts the reads recorded here). A promise
   * it returns is awaited before the append resolves, unless the append is part of a caller's transaction.
   */
  onAppended(observer: AppendObserver): void {
    this.#observer = observer;
  }

  /**
   * The rows of `prepared` appended after `head`, chunk by chunk (each chunk's leaves hashed and its stored nodes made
   * when it is asked for); `range` ends as the tree after all of them.
   */
  *#chunks(range: CompactRange, at: number, prepared: readonly Omit<AuditEntryParts, 'index' | 'at'>[]): Generator<{ rows: AuditEntriesTable[]; nodes: AuditNodesTable[] }> {
    const leaves = Buffer.allocUnsafe(prepared.length * 32);
    for (let from = 0; from < prepared.length; from += APPEND_CHUNK) {
      const rows: AuditEntriesTable[] = [];
      const nodes: AuditNodesTable[] = [];
      for (let i = from; i < Math.min(from + APPEND_CHUNK, prepared.length); i++) {
        const p = prepared[i]!;
        const idx = range.size;
        const leaf = leaves.subarray(i * 32, i * 32 + 32);
        // Fields listed, not spread: an object spread here costs more than hashing the entry.
        const text = canonicalEntryText({ index: idx, at, actor: p.actor, action: p.action, purpose: p.purpose, subjectId: p.subjectId, outcome: p.outcome, dataJson: p.dataJson });
        leafHashOfTextInto(text, leaves, i * 32);
        rows.push({ idx, at, actor: p.actor, action: p.action, purpose: p.purpose, subject_id: p.subjectId, outcome: p.outcome, data: p.dataJson, leaf_hash: leaf });
        for (const n of range.append(leaf).newNodes) if (n.level >= STORED_NODE_LEVEL) nodes.push({ level: n.level, idx: n.index, hash: n.hash });
      }
      yield { rows, nodes };
    }
  }

  async #append(trx: DataScope, prepared: readonly Omit<AuditEntryParts, 'index' | 'at'>[]): Promise<void> {
    this.#head = undefined; // the head moves when this transaction commits
    const repo = new AuditRepo(trx);
    const head = await repo.lockHead();
    const range = CompactRange.fromPeaks(head.size, head.peaks);
    // Never before the last append: time order and index order agree, so time ranges are index ranges.
    const at = Math.max(this.#now(), head.updatedAt ?? 0);
    const nodes: AuditNodesTable[] = [];
    // Chunk by chunk, each chunk's insert handed over before the next is hashed. On PostgreSQL the transaction's
    // connection runs one query at a time, in the order given, so the server stores one chunk while this process hashes
    // the next; a query reaches the driver only after a few promise turns inside Kysely, which the loop lets run (without
    // that, every chunk was hashed before the first was sent). On SQLite each insert runs as it is called.
    const pipelined = repo.pipelinesInserts;
    const inserts: Promise<void>[] = [];
    let aborted = false;
    for (const chunk of this.#chunks(range, at, prepared)) {
      const insert = repo.insertEntries(chunk.rows);
      // Handled at once: a chunk can fail while the loop waits, before allSettled below takes it. After a failure the
      // transaction is lost, so the rest is neither hashed nor sent.
      insert.catch(() => {
        aborted = true;
      });
      inserts.push(insert);
      nodes.push(...chunk.nodes);
      if (pipelined) await new Promise((resolve) => setImmediate(resolve));
      if (aborted) break;
    }
    // Every insert settles before the transaction goes on (after a failure the others fail too: report the first).
    const failed = (await Promise.allSettled(inserts)).find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    await repo.insertNodes(nodes);
    await repo.setHead({ size: range.size, peaks: range.peaks, root: range.root() }, at);
  }

  /**
   * PostgreSQL, entries not part of a caller's transaction (a group of reads, a query, a token change): the head this
   * process last wrote is extended here and stored with the entries in one statement, on the condition that the stored
   * head is still that one. Four round trips fewer than begin, lock, insert, update and commit. When another process
   * (or a transaction of this one) has moved the head, nothing is written: the head is read again and the append made
   * anew; after a second miss, the locked transaction. Appends of this process take turns, so they do not miss on
   * each other.
   */
  #appendAlone(prepared: readonly Omit<AuditEntryParts, 'index' | 'at'>[]): Promise<void> {
    const run = this.#alone.then(() => this.#tryAlone(prepared));
    this.#alone = run.catch(() => undefined);
    return run;
  }

  async #tryAlone(prepared: readonly Omit<AuditEntryParts, 'index' | 'at'>[]): Promise<void> {
    const repo = new AuditRepo(this.db);
    for (let attempt = 0; attempt < ALONE_ATTEMPTS; attempt++) {
      const head = this.#head ?? (await repo.head());
      this.#head = undefined;
      const range = CompactRange.fromPeaks(head.size, head.peaks);
      const at = Math.max(this.#now(), head.updatedAt ?? 0);
      const rows: AuditEntriesTable[] = [];
      const nodes: AuditNodesTable[] = [];
      for (const chunk of this.#chunks(range, at, prepared)) {
        rows.push(...chunk.rows);
        nodes.push(...chunk.nodes);
      }
      const next: AuditHead = { size: range.size, peaks: range.peaks, root: range.root(), updatedAt: at };
      if (await repo.appendIfHead(head, next, rows, nodes)) {
        this.#head = next;
        return;
      }
    }
    await this.db.transaction((trx) => this.#append(trx, prepared));
  }

  /**
   * Appends `config.changed` with the configuration's hash unless it is the hash recorded last. Checked under the head
   * lock, so processes starting together record a change once.
   */
  async recordConfig(hash: string, details: Record<string, string | number>): Promise<boolean> {
    return this.db.transaction(async (trx) => {
      const repo = new AuditRepo(trx);
      await repo.lockHead();
      const last = await repo.lastOf('config.changed');
      const previous = last ? entryFromRow(last).details.hash : undefined;
      if (previous === hash) return false;
      await this.append(trx, [
        { actor: 'system', action: 'config.changed', outcome: 'ok', details: { ...details, hash, previous: typeof previous === 'string' ? previous : null } },
      ]);
      return true;
    });
  }

  /** Size and root of the committed tree. */
  async head(): Promise<{ size: number; rootHash: Buffer }> {
    const h = await new AuditRepo(this.db).head();
    return { size: h.size, rootHash: h.root };
  }

  /** Node hashes: stored ones read, small subtrees recomputed from their leaf hashes (one range read each). */
  async #fetch(repo: AuditRepo, ids: readonly NodeId[]): Promise<Buffer[]> {
    const got = await repo.nodes(ids.filter((n) => n.level === 0 || n.level >= STORED_NODE_LEVEL));
    for (const n of ids) {
      if (n.level === 0 || n.level >= STORED_NODE_LEVEL) continue;
      const width = 2 ** n.level;
      const leaves = await repo.leafHashes(n.index * width, (n.index + 1) * width);
      if (leaves.length === width) got.set(`${n.level}:${n.index}`, rootFromLeaves(leaves));
    }
    return ids.map((n) => {
      const h = got.get(`${n.level}:${n.index}`);
      if (!h) throw new AuditLogDamagedError(`audit node ${n.level}:${n.index} is missing`);
      return h;
    });
  }

  async #rootAt(repo: AuditRepo, size: number): Promise<Buffer> {
    return rootFromNodes(size, await this.#fetch(repo, rootNodes(size)));
  }

  /**
   * A signed checkpoint of the current head. Stored (so later verification can check the log against it) unless the
   * newest stored checkpoint already has this size; `force` stores one anyway.
   */
  async checkpoint(force = false): Promise<SignedCheckpoint> {
    const repo = new AuditRepo(this.db);
    const head = await repo.head();
    const latest = await repo.latestCheckpoint();
    if (!force && latest && latest.tree_size === head.size && latest.root.equals(head.root)) {
      const opened = this.signer.open(latest.note);
      if (opened.ok) return opened.checkpoint;
    }
    const cp = this.signer.sign(head.size, head.root, this.#now());
    await repo.insertCheckpoint({ id: `${cp.timestamp}-${cp.treeSize}-${cp.signature.subarray(0, 6).toString('hex')}`, tree_size: cp.treeSize, root: cp.rootHash, at: cp.timestamp, key_id: cp.keyId, note: cp.note });
    return cp;
  }

  /** The newest stored checkpoint, if any (what the timer or the last request made). */
  async latestCheckpoint(): Promise<SignedCheckpoint | undefined> {
    const row = await new AuditRepo(this.db).latestCheckpoint();
    if (!row) return undefined;
    const opened = this.signer.open(row.note);
    return opened.ok ? opened.checkpoint : undefined;
  }

  async inclusionProof(index: number, size?: number): Promise<InclusionProof> {
    const repo = new AuditRepo(this.db);
    const head = await repo.head();
    const treeSize = size ?? head.size;
    if (treeSize > head.size) throw new ProofRangeError(`the log has ${head.size} entries, not ${treeSize}`);
    if (!Number.isSafeInteger(index) || index < 0 || index >= treeSize) throw new ProofRangeError(`index ${index} is not in a tree of ${treeSize} entries`);
    const ids = inclusionProofNodes(index, treeSize);
    const proof = inclusionProofFromNodes(index, treeSize, await this.#fetch(repo, ids));
    const rows = await repo.entriesRange(index, index + 1);
    const row = rows[0];
    if (!row) throw new AuditLogDamagedError(`audit entry ${index} is missing`);
    const rootHash = treeSize === head.size ? head.root : await this.#rootAt(repo, treeSize);
    return { index, treeSize, entry: entryFromRow(row), leafHash: Buffer.from(row.leaf_hash), proof, rootHash, checkpoint: this.signer.sign(treeSize, rootHash, this.#now()) };
  }

  async consistencyProof(from: number, to?: number): Promise<ConsistencyProof> {
    const repo = new AuditRepo(this.db);
    const head = await repo.head();
    const end = to ?? head.size;
    if (!Number.isSafeInteger(from) || from < 0 || !Number.isSafeInteger(end) || from > end) throw new ProofRangeError(`no consistency proof from ${from} to ${end}`);
    if (end > head.size) throw new ProofRangeError(`the log has ${head.size} entries, not ${end}`);
    const proof = consistencyProofFromNodes(from, end, await this.#fetch(repo, consistencyProofNodes(from, end)));
    const fromRoot = await this.#rootAt(repo, from);
    const toRoot = end === head.size ? head.root : await this.#rootAt(repo, end);
    const now = this.#now();
    return { from, to: end, proof, fromRoot, toRoot, fromCheckpoint: this.signer.sign(from, fromRoot, now), toCheckpoint: this.signer.sign(end, toRoot, now) };
  }

  /** Entries matching every given filter, newest first; `next` pages on with `before`. */
  async query(q: AuditQuery): Promise<{ entries: AuditEntry[]; next: number | null }> {
    const rows = await new AuditRepo(this.db).query({ ...q, limit: q.limit + 1 });
    const more = rows.length > q.limit;
    const page = rows.slice(0, q.limit).map(entryFromRow);
    return { entries: page, next: more && page.length > 0 ? page[page.length - 1]!.index : null };
  }

  /** The subject an identity points to now, or null. */
  async subjectFor(ref: IdentityRef): Promise<string | null> {
    if (!this.deps.blindIndex) return null;
    const rows = await new ProfileRepo(this.db).identitiesByIndex([this.deps.blindIndex.index(ref.kind, ref.value)]);
    return rows.find((r) => r.kind === ref.kind)?.subject_id ?? null;
  }

  /** The last entry of an action, e.g. the configuration hash recorded last. */
  async last(action: string): Promise<AuditEntry | undefined> {
    const row = await new AuditRepo(this.db).lastOf(action);
    return row && entryFromRow(row);
  }

  /** Recomputes every leaf, node, the head and the checkpoints; names the first bad entry. */
  verify(opts: VerifyOptions = {}): Promise<VerifyReport> {
    return verifyAuditLog(new AuditRepo(this.db), this.signer, opts);
  }
}
