// The audit tables: the locked head, entry and node inserts, node and entry reads for proofs, verification and queries.
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { dialectOf, type Dialect } from './database.ts';
import { readVerifyRows, type VerifyRow } from './audit-raw.ts';
import { pgByteaArray, pgInt4Array, pgInt8Array, pgTextArray } from './pg-binary-array.ts';
import { rawTarget, type RawData, type RawTarget } from './raw.ts';
import type { AuditCheckpointsTable, AuditEntriesTable, AuditNodesTable, DataDatabase } from './schema.ts';
import { kyselyOf, rawOf, locksRows, type Handle } from './internal/scope.ts';
import { InvariantError } from '../domain/errors.ts';

export type { VerifyRow } from './audit-raw.ts';

export interface AuditHead {
  size: number;
  peaks: Buffer[];
  root: Buffer;
  /** Time of the last append (appends never go back in time, so time ranges are index ranges). */
  updatedAt?: number;
}

export interface AuditQuery {
  subjectId?: string | undefined;
  actor?: string | undefined;
  action?: string | undefined;
  purpose?: string | undefined;
  /** Epoch ms, inclusive. */
  from?: number | undefined;
  /** Epoch ms, exclusive. */
  to?: number | undefined;
  /** Entries with idx below this (paging newest first). */
  before?: number | undefined;
  limit: number;
}

/** Entries per block of the subject index, `(idx / 4096, subject_id, idx)`: the divisor its expression spells (migration 0007). */
export const AUDIT_SUBJECT_BLOCK = 4096;

// Row limits per multi-row INSERT: under PostgreSQL's 65,535 and SQLite's 32,766 bound parameters.
const ENTRY_CHUNK = 2000;
const UNNEST_CHUNK = 10_000;
// Its own text, not one Kysely could also prepare: statements are shared through the cache in database.ts.
const INSERT_ENTRY_SQLITE = 'insert into audit_entries (idx, at, actor, action, purpose, subject_id, outcome, data, leaf_hash) values (?, ?, ?, ?, ?, ?, ?, ?, ?) -- one entry';
const NODE_CHUNK = 8000;
const APPEND_IF_HEAD = `with head as (
    update audit_head set size = $1, peaks = $2, root = $3, updated_at = $4 where id = 1 and size = $5 and root = $6 returning 1),
  entries as (insert into audit_entries (idx, at, actor, action, purpose, subject_id, outcome, data, leaf_hash)
    select * from unnest($7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::bytea[])
    where exists (select 1 from head)),
  nodes as (insert into audit_nodes (level, idx, hash) select * from unnest($16::int[], $17::bigint[], $18::bytea[]) where exists (select 1 from head))
  select count(*)::int as n from head`;

/**
 * The entries' columns as PostgreSQL arrays in the binary format, in the order of the `unnest` inserts (idx, at, actor,
 * action, purpose, subject_id, outcome, data, leaf_hash): see pg-binary-array.ts for what this saves against `pg`'s
 * quoted text arrays.
 */
function entryArrays(rows: readonly AuditEntriesTable[]): Buffer[] {
  return [
    pgInt8Array(rows.map((r) => r.idx)), pgInt8Array(rows.map((r) => r.at)), pgTextArray(rows.map((r) => r.actor)), pgTextArray(rows.map((r) => r.action)),
    pgTextArray(rows.map((r) => r.purpose)), pgTextArray(rows.map((r) => r.subject_id)), pgTextArray(rows.map((r) => r.outcome)), pgTextArray(rows.map((r) => r.data)),
    pgByteaArray(rows.map((r) => r.leaf_hash)),
  ];
}

const toBuf = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

function splitPeaks(blob: Uint8Array): Buffer[] {
  const b = toBuf(blob);
  const out: Buffer[] = [];
  for (let i = 0; i + 32 <= b.length; i += 32) out.push(b.subarray(i, i + 32));
  return out;
}

// Spelled into the SQL (not bound), as the index's expression is: a parameter would not match it.
const BLOCK = sql.lit(AUDIT_SUBJECT_BLOCK);

/**
 * A person's entries with lo ≤ idx < min(below, end) through the block-first subject index (migration 0007): one index
 * seek per block of AUDIT_SUBJECT_BLOCK entries, newest block first. SQLite walks the blocks with a recursive CTE that a
 * CROSS JOIN keeps as the outer loop; PostgreSQL takes them as an array. Both must spell the index's expression,
 * `idx / 4096`.
 */
export function subjectQuery(dialect: Dialect, subjectId: string, q: Omit<AuditQuery, 'subjectId'>, lo: number, below: number, end: number): RawBuilder<AuditEntriesTable> {
  // Never past the log's end: the blocks searched are those the log has (a cursor far beyond it would make millions).
  const hi = Math.max(lo, Math.min(below, end));
  const first = Math.floor(lo / AUDIT_SUBJECT_BLOCK);
  const last = Math.max(first, Math.floor((hi - 1) / AUDIT_SUBJECT_BLOCK));
  const filters = [sql`e.subject_id = ${subjectId}`, sql`e.idx >= ${lo}`, sql`e.idx < ${hi}`];
  if (q.actor !== undefined) filters.push(sql`e.actor = ${q.actor}`);
  if (q.action !== undefined) filters.push(sql`e.action = ${q.action}`);
  if (q.purpose !== undefined) filters.push(sql`e.purpose = ${q.purpose}`);
  if (q.from !== undefined) filters.push(sql`e.at >= ${q.from}`);
  if (q.to !== undefined) filters.push(sql`e.at < ${q.to}`);
  const where = sql.join(filters, sql` and `);
  if (dialect === 'postgres') {
    // The subject and blocks alone in a subquery that OFFSET 0 keeps apart: the other filters and the ORDER BY … LIMIT
    // could otherwise tempt the planner into walking the action index or the primary key backwards.
    const blocks = Array.from({ length: last - first + 1 }, (_, i) => last - i);
    return sql<AuditEntriesTable>`select e.* from (select * from audit_entries where (idx / ${BLOCK}) = any(${blocks}::bigint[])
      and subject_id = ${subjectId} offset 0) e where ${where} order by e.idx desc limit ${q.limit}`;
  }
  return sql<AuditEntriesTable>`with recursive b(n) as (select ${last} union all select n - 1 from b where n > ${first})
    select e.* from b cross join audit_entries e indexed by audit_entries_subject_block where (e.idx / ${BLOCK}) = b.n and ${where} order by e.idx desc limit ${q.limit}`;
}

export class AuditRepo {
  private readonly db: Kysely<DataDatabase>;
  private readonly rowLocks: boolean;
  /** The driver underneath, for the entries' insert and `verifyRows`; none for a bare Kysely handle (tests). */
  private readonly raw: RawData | undefined;

  constructor(handle: Handle<DataDatabase>) {
    this.db = kyselyOf(handle);
    this.rowLocks = locksRows(handle);
    this.raw = rawOf(handle);
  }

  /** Whether `appendIfHead` is available: entries appended outside a transaction in one conditional statement (PostgreSQL). */
  get appendsInOneStatement(): boolean {
    return this.raw?.dialect === 'postgres';
  }

  /**
   * Whether the inserts of one transaction are worth handing over before the next chunk is hashed: the server stores
   * one chunk while the process hashes the next (PostgreSQL). On SQLite each insert runs as it is called.
   */
  get pipelinesInserts(): boolean {
    return this.raw?.dialect === 'postgres';
  }

  /**
   * The head, locked for the rest of the transaction where the database can (PostgreSQL); on SQLite the single
   * writer connection already serializes transactions.
   */
  async lockHead(): Promise<AuditHead> {
    const q = this.db.selectFrom('audit_head').select(['size', 'peaks', 'root', 'updated_at']).where('id', '=', 1);
    const row = await (this.rowLocks ? q.forUpdate() : q).executeTakeFirstOrThrow();
    return { size: Number(row.size), peaks: splitPeaks(row.peaks), root: toBuf(row.root), updatedAt: Number(row.updated_at) };
  }

  async head(): Promise<AuditHead> {
    const row = await this.db.selectFrom('audit_head').select(['size', 'peaks', 'root', 'updated_at']).where('id', '=', 1).executeTakeFirstOrThrow();
    return { size: Number(row.size), peaks: splitPeaks(row.peaks), root: toBuf(row.root), updatedAt: Number(row.updated_at) };
  }

  /**
   * PostgreSQL: entries, nodes and the new head in one statement (its own transaction), written only if the stored head
   * is still `expected`; false when it is not (nothing written). The update's condition is checked again on the row
   * version it waited for, so two processes extending the same head cannot both succeed.
   */
  async appendIfHead(expected: AuditHead, next: AuditHead, rows: readonly AuditEntriesTable[], nodes: readonly AuditNodesTable[]): Promise<boolean> {
    if (this.raw?.dialect !== 'postgres') throw new InvariantError('appendIfHead is for PostgreSQL');
    // Named, so each pooled connection plans it once: planning these three CTEs cost more than running them (≈ 180 µs
    // a call, measured with pg_stat_statements; docs/performance.md).
    const { rows: out } = await this.raw.pool.query<{ n: number }>({
      name: 'fiducia_audit_append_if_head',
      text: APPEND_IF_HEAD,
      values: [
        next.size, Buffer.concat(next.peaks), next.root, next.updatedAt ?? 0, expected.size, expected.root,
        ...entryArrays(rows),
        pgInt4Array(nodes.map((n) => n.level)), pgInt8Array(nodes.map((n) => n.idx)), pgByteaArray(nodes.map((n) => n.hash)),
      ],
    });
    return out[0]?.n === 1;
  }

  async setHead(head: AuditHead, now: number): Promise<void> {
    await this.db
      .updateTable('audit_head')
      .set({ size: head.size, peaks: Buffer.concat(head.peaks), root: head.root, updated_at: now })
      .where('id', '=', 1)
      .execute();
  }

  /**
   * The entries, inside the caller's transaction. On SQLite one prepared single-row statement run per entry on the
   * transaction's connection (there is only one); on PostgreSQL one statement per chunk taking a column array each
   * (unnest), which the server parses once, instead of nine parameters per row: faster on both than Kysely's multi-row
   * VALUES (figures in docs/performance.md, "Audit log"). The arrays go in PostgreSQL's binary format (entryArrays).
   */
  async insertEntries(rows: readonly AuditEntriesTable[]): Promise<void> {
    const raw = this.raw;
    if (raw?.dialect === 'sqlite') {
      const stmt = raw.db.prepare(INSERT_ENTRY_SQLITE);
      for (const r of rows) stmt.run(r.idx, r.at, r.actor, r.action, r.purpose, r.subject_id, r.outcome, r.data, r.leaf_hash);
      return;
    }
    if (raw?.dialect === 'postgres') {
      for (let i = 0; i < rows.length; i += UNNEST_CHUNK) {
        const [idx, at, actor, action, purpose, subjectId, outcome, data, leafHash] = entryArrays(rows.slice(i, i + UNNEST_CHUNK));
        await sql`insert into audit_entries (idx, at, actor, action, purpose, subject_id, outcome, data, leaf_hash)
          select * from unnest(${idx}::bigint[], ${at}::bigint[], ${actor}::text[], ${action}::text[], ${purpose}::text[],
          ${subjectId}::text[], ${outcome}::text[], ${data}::text[], ${leafHash}::bytea[])`.execute(this.db);
      }
      return;
    }
    for (let i = 0; i < rows.length; i += ENTRY_CHUNK) await this.db.insertInto('audit_entries').values(rows.slice(i, i + ENTRY_CHUNK)).execute();
  }

  async insertNodes(rows: readonly AuditNodesTable[]): Promise<void> {
    for (let i = 0; i < rows.length; i += NODE_CHUNK) await this.db.insertInto('audit_nodes').values(rows.slice(i, i + NODE_CHUNK)).execute();
  }

  /** Hashes of the requested nodes, keyed `level:idx`; level 0 comes from the entries' leaf hashes. */
  async nodes(ids: readonly { level: number; index: number }[]): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    const leaves = ids.filter((n) => n.level === 0).map((n) => n.index);
    const inner = ids.filter((n) => n.level > 0);
    if (leaves.length > 0) {
      const rows = await this.db.selectFrom('audit_entries').select(['idx', 'leaf_hash']).where('idx', 'in', leaves).execute();
      for (const r of rows) out.set(`0:${Number(r.idx)}`, toBuf(r.leaf_hash));
    }
    if (inner.length > 0) {
      const rows = await this.db
        .selectFrom('audit_nodes')
        .select(['level', 'idx', 'hash'])
        .where((eb) => eb.or(inner.map((n) => eb.and([eb('level', '=', n.level), eb('idx', '=', n.index)]))))
        .execute();
      for (const r of rows) out.set(`${r.level}:${Number(r.idx)}`, toBuf(r.hash));
    }
    return out;
  }

  /** Leaf hashes of entries from ≤ idx < to, in order (to recompute a small subtree). */
  async leafHashes(from: number, to: number): Promise<Buffer[]> {
    const rows = await this.db.selectFrom('audit_entries').select('leaf_hash').where('idx', '>=', from).where('idx', '<', to).orderBy('idx').execute();
    return rows.map((r) => toBuf(r.leaf_hash));
  }

  /** Stored leaf hashes of entries from ≤ idx < to, by index. */
  async leafHashesByIndex(from: number, to: number): Promise<Map<number, Buffer>> {
    const rows = await this.db.selectFrom('audit_entries').select(['idx', 'leaf_hash']).where('idx', '>=', from).where('idx', '<', to).execute();
    return new Map(rows.map((r) => [Number(r.idx), toBuf(r.leaf_hash)]));
  }

  /** Where a worker thread can open its own connection for `readVerifyRows`, when the driver is known. */
  get rawTarget(): RawTarget | undefined {
    return this.raw && rawTarget(this.raw);
  }

  /**
   * What each leaf hash is recomputed from, in index order (the stored hash is read only where needed): through the
   * driver, one spliced text per entry (src/store/audit-raw.ts); without one, the columns through Kysely.
   */
  async verifyRows(from: number, to: number): Promise<VerifyRow[]> {
    if (this.raw) return readVerifyRows(this.raw, from, to);
    const rows = await this.db
      .selectFrom('audit_entries')
      .select(['idx', 'at', 'actor', 'action', 'purpose', 'subject_id', 'outcome', 'data'])
      .where('idx', '>=', from)
      .where('idx', '<', to)
      .orderBy('idx')
      .execute();
    return rows.map((r) => [r.idx, r.at, r.actor, r.action, r.purpose, r.subject_id, r.outcome, r.data]);
  }

  /** Entries with from ≤ idx < to, in index order (one page of a verification stream). */
  entriesRange(from: number, to: number): Promise<AuditEntriesTable[]> {
    return this.db.selectFrom('audit_entries').selectAll().where('idx', '>=', from).where('idx', '<', to).orderBy('idx').execute();
  }

  /** Stored nodes completed by appending leaves [from, to) (their last leaf is in the range), level by level. */
  async nodesCompletedIn(from: number, to: number, minLevel: number, maxLevel: number): Promise<AuditNodesTable[]> {
    const ranges: { level: number; lo: number; hi: number }[] = [];
    for (let level = minLevel; level <= maxLevel; level++) {
      const lo = Math.ceil((from + 1) / 2 ** level) - 1;
      const hi = Math.floor(to / 2 ** level); // exclusive
      if (hi > lo) ranges.push({ level, lo, hi });
    }
    if (ranges.length === 0) return [];
    const rows = await this.db
      .selectFrom('audit_nodes')
      .select(['level', 'idx', 'hash'])
      .where((eb) => eb.or(ranges.map((r) => eb.and([eb('level', '=', r.level), eb('idx', '>=', r.lo), eb('idx', '<', r.hi)]))))
      .execute();
    return rows.map((r) => ({ level: r.level, idx: Number(r.idx), hash: toBuf(r.hash) }));
  }

  async countEntries(): Promise<{ n: number; min: number | null; max: number | null }> {
    const r = await this.db
      .selectFrom('audit_entries')
      .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.min('idx').as('min'), eb.fn.max('idx').as('max')])
      .executeTakeFirst();
    const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
    return { n: Number(r?.n ?? 0), min: num(r?.min), max: num(r?.max) };
  }

  /** Rows whose index is not an integer (NULL, text, a fraction): possible on SQLite only, whose columns take any type. */
  async countMisplaced(): Promise<number> {
    if (this.raw?.dialect !== 'sqlite') return 0;
    return Number(this.raw.db.prepare("select count(*) from audit_entries where typeof(idx) <> 'integer'").pluck(true).get());
  }

  async countNodes(): Promise<number> {
    const r = await this.db.selectFrom('audit_nodes').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  /** The first index whose time is ≥ t (binary search on the primary key; times never decrease along the index). */
  async firstIndexAtOrAfter(t: number): Promise<number> {
    const last = await this.db.selectFrom('audit_entries').select('idx').orderBy('idx', 'desc').limit(1).executeTakeFirst();
    let lo = 0;
    let hi = last ? Number(last.idx) + 1 : 0;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      // The row at mid, or the next one if mid is missing (the verifier reports gaps; queries still answer).
      const row = await this.db.selectFrom('audit_entries').select(['idx', 'at']).where('idx', '>=', mid).orderBy('idx').limit(1).executeTakeFirst();
      if (!row || Number(row.at) >= t) hi = mid;
      else lo = Number(row.idx) + 1;
    }
    return lo;
  }

  async query(q: AuditQuery): Promise<AuditEntriesTable[]> {
    const lo = q.from === undefined ? undefined : await this.firstIndexAtOrAfter(q.from);
    let hi = q.to === undefined ? undefined : await this.firstIndexAtOrAfter(q.to);
    if (q.before !== undefined) hi = hi === undefined ? q.before : Math.min(hi, q.before);
    if (q.subjectId !== undefined) return this.#bySubject(q.subjectId, q, lo, hi);
    let s = this.db.selectFrom('audit_entries').selectAll();
    if (lo !== undefined) s = s.where('idx', '>=', lo);
    if (hi !== undefined) s = s.where('idx', '<', hi);
    if (q.actor !== undefined) s = s.where('actor', '=', q.actor);
    if (q.action !== undefined) s = s.where('action', '=', q.action);
    if (q.purpose !== undefined) s = s.where('purpose', '=', q.purpose);
    if (q.from !== undefined) s = s.where('at', '>=', q.from);
    if (q.to !== undefined) s = s.where('at', '<', q.to);
    return s.orderBy('idx', 'desc').limit(q.limit).execute();
  }

  async #bySubject(subjectId: string, q: AuditQuery, lo = 0, hiOrNone?: number): Promise<AuditEntriesTable[]> {
    const end = await this.#end();
    if (Math.min(hiOrNone ?? end, end) <= lo) return [];
    const dialect = dialectOf(this.db);
    return (await subjectQuery(dialect, subjectId, q, lo, hiOrNone ?? end, end).execute(this.db)).rows;
  }

  /** One past the highest index stored. */
  async #end(): Promise<number> {
    const last = await this.db.selectFrom('audit_entries').select('idx').orderBy('idx', 'desc').limit(1).executeTakeFirst();
    return last ? Number(last.idx) + 1 : 0;
  }

  /**
   * Entries of one actor with one of `actions`, idx ≥ `from` and > `after`, oldest first: through the (actor, idx)
   * index, one bounded range per page.
   */
  entriesOfActor(actor: string, actions: readonly string[], from: number, after: number | null, limit: number): Promise<AuditEntriesTable[]> {
    let q = this.db.selectFrom('audit_entries').selectAll().where('actor', '=', actor).where('idx', '>=', from).where('action', 'in', actions);
    if (after !== null) q = q.where('idx', '>', after);
    return q.orderBy('idx', 'asc').limit(limit).execute();
  }

  /** The last entry of an action (e.g. the last recorded configuration hash). */
  lastOf(action: string): Promise<AuditEntriesTable | undefined> {
    return this.db.selectFrom('audit_entries').selectAll().where('action', '=', action).orderBy('idx', 'desc').limit(1).executeTakeFirst();
  }

  async insertCheckpoint(row: AuditCheckpointsTable): Promise<void> {
    await this.db.insertInto('audit_checkpoints').values(row).execute();
  }

  async checkpoints(limit?: number): Promise<AuditCheckpointsTable[]> {
    const q = this.db.selectFrom('audit_checkpoints').selectAll().orderBy('tree_size', 'desc').orderBy('at', 'desc');
    const rows = await (limit === undefined ? q : q.limit(limit)).execute();
    return rows.map((r) => ({ ...r, tree_size: Number(r.tree_size), at: Number(r.at), root: toBuf(r.root) }));
  }

  async latestCheckpoint(): Promise<AuditCheckpointsTable | undefined> {
    return (await this.checkpoints(1))[0];
  }
}
