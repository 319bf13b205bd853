// Subject state beyond the data itself: the latest consent per purpose, restriction (Art. 18), objections (Art. 21), erasure markers.
import { sql, type CompiledQuery, type Kysely } from 'kysely';
import { ConsentRepo } from './consent-repo.ts';
import { ObjectionRepo } from './objection-repo.ts';
import { ProfileRepo } from './profile-repo.ts';
import { identityKey, type Reader } from './reader.ts';
import type { ConsentsTable, DataDatabase, SubjectsTable, TraitsTable } from './schema.ts';
import { chunks } from './internal/batches.ts';
import { kyselyOf, type Handle } from './internal/scope.ts';
import type { ConsentStatus } from '../domain/consent.ts';
import type { SubjectConsent, SubjectState } from '../domain/policy.ts';

export interface StoredSubjectState {
  subjectId: string;
  /** Set when the subject was merged into another one: callers follow it. */
  mergedInto: string | null;
  restrictedAt: number | null;
  erasedAt: number | null;
  /** Purposes with an objection in force. */
  objections: string[];
  /** Latest ledger row per purpose. */
  consents: { purpose: string; status: string; noticeVersion: string; method: string; at: number; explicit: boolean }[];
}

/** The state as the use rule takes it (src/domain/policy.ts). */
export function policyStateOf(s: Pick<StoredSubjectState, 'consents' | 'restrictedAt' | 'erasedAt' | 'objections'>): SubjectState {
  const consents = new Map<string, SubjectConsent>();
  for (const c of s.consents) {
    consents.set(c.purpose, { purpose: c.purpose, status: c.status as ConsentStatus, noticeVersion: c.noticeVersion, method: c.method, at: c.at, explicit: c.explicit });
  }
  return { consents, restricted: s.restrictedAt !== null, erased: s.erasedAt !== null, objections: new Set(s.objections) };
}

/** A subject's state and (optionally) its trait rows, read in one round trip: the hot path of profile reads. */
export interface SubjectSnapshot {
  consents: StoredSubjectState['consents'];
  objections: string[];
  /** `value_enc` is null for traits outside `blobsFor` (their ciphertext is not even fetched). */
  traits: (Pick<TraitsTable, 'name' | 'category'> & { value_enc: Buffer | null })[];
}

/** Everything a profile read needs about one subject, in one statement: its markers, state, traits and segment data. */
export interface ProfileSnapshot extends SubjectSnapshot, Pick<StoredSubjectState, 'subjectId' | 'mergedInto' | 'restrictedAt' | 'erasedAt'> {
  /** Segment memberships (every purpose's: callers keep their purpose's). */
  memberships: { segmentId: string; since: number }[];
  /** The encrypted per-subject segment state (computed traits are derived from it), if any. */
  segmentState: Buffer | null;
}

/**
 * One row of the union in `profile`. Six kinds of row share its columns (named by the first branch's aliases):
 *
 *   kind  item        detail       notice_version  method  ciphertext  at             explicit_or_erased_at  ledger_id
 *   0     trait name  category                             value_enc
 *   1     purpose     status       notice_version  method              at             explicit               id
 *   2     purpose (an objection in force)
 *   3     segment id                                                   since
 *   4                                                      state_enc
 *   5     subject id  merged_into                                      restricted_at  erased_at
 */
interface SnapshotRow {
  kind: number | string;
  item: string | null;
  detail: string | null;
  notice_version: string | null;
  method: string | null;
  ciphertext: Uint8Array | null;
  at: number | string | null;
  explicit_or_erased_at: number | string | null;
  ledger_id: string | null;
}

// Placeholders the hot queries are compiled with once; each call swaps in its own values (see `bind`).
const KIND = '\u0000kind';
const INDEX = Buffer.from('\u0000index');
const SUBJECT = '\u0000subject';

/** A compiled query with its placeholder parameters replaced. */
function bind<R>(q: CompiledQuery<R>, values: ReadonlyMap<unknown, unknown>): CompiledQuery<R> {
  return { ...q, parameters: q.parameters.map((p) => (values.has(p) ? values.get(p) : p)) };
}

// Shapes under which `#profileSqlite` keeps a lookup's answer: control characters, so no list of category prefixes
// (the other shapes) can be the same.
const SUBJECT_OF_IDENTITY = '\u0001subject id';
const SUBJECT_ROW = '\u0001subject row';

const toBuffer = (v: Uint8Array): Buffer => (Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength));
const numOrNull = (v: number | string | null): number | null => (v === null ? null : Number(v));

/** A row of the union as an array (SQLite's raw mode), its columns in the order of `SnapshotRow`. */
type RawSnapshotRow = [
  SnapshotRow['kind'],
  SnapshotRow['item'],
  SnapshotRow['detail'],
  SnapshotRow['notice_version'],
  SnapshotRow['method'],
  SnapshotRow['ciphertext'],
  SnapshotRow['at'],
  SnapshotRow['explicit_or_erased_at'],
  SnapshotRow['ledger_id'],
];
const toRaw = (r: SnapshotRow): RawSnapshotRow => [r.kind, r.item, r.detail, r.notice_version, r.method, r.ciphertext, r.at, r.explicit_or_erased_at, r.ledger_id];

/**
 * A profile snapshot from the rows of its union (as arrays), in any order, and the subject's own row if it came apart;
 * null without it. The rows are only read (they may be kept for later reads).
 */
function collect(rows: readonly RawSnapshotRow[], subject?: RawSnapshotRow): ProfileSnapshot | null {
  // No ORDER BY (it costs a sort per branch): the latest consent is picked by id, traits are sorted here.
  const latest = new Map<string, StoredSubjectState['consents'][number] & { id: string }>();
  const objections = new Set<string>();
  let out: ProfileSnapshot | null = null;
  const traitRows: ProfileSnapshot['traits'] = [];
  const memberships: ProfileSnapshot['memberships'] = [];
  let segmentState: Buffer | null = null;
  for (const [kindColumn, item, detail, noticeVersion, method, ciphertext, at, explicitOrErasedAt, ledgerId] of subject ? [...rows, subject] : rows) {
    const kind = Number(kindColumn);
    if (kind === 0) traitRows.push({ name: item ?? '', category: detail ?? '', value_enc: ciphertext ? toBuffer(ciphertext) : null });
    else if (kind === 1) {
      // Ledger ids are time-ordered UUIDv7 (fixed-width lowercase hex): the greatest is the entry in force.
      const id = ledgerId ?? '';
      const purpose = item ?? '';
      const prev = latest.get(purpose);
      if (!prev || prev.id < id) {
        latest.set(purpose, { purpose, status: detail ?? '', noticeVersion: noticeVersion ?? '', method: method ?? '', at: Number(at), explicit: Number(explicitOrErasedAt) === 1, id });
      }
    } else if (kind === 2) objections.add(item ?? '');
    else if (kind === 3) memberships.push({ segmentId: item ?? '', since: Number(at) });
    else if (kind === 4) segmentState = ciphertext ? toBuffer(ciphertext) : null;
    else {
      out = { subjectId: item ?? '', mergedInto: detail, restrictedAt: numOrNull(at), erasedAt: numOrNull(explicitOrErasedAt), consents: [], objections: [], traits: [], memberships: [], segmentState: null };
    }
  }
  if (!out) return null;
  out.consents = [...latest.values()].map(({ id: _id, ...c }) => c);
  out.objections = [...objections];
  out.traits = traitRows.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  out.memberships = memberships.sort((x, y) => (x.segmentId < y.segmentId ? -1 : x.segmentId > y.segmentId ? 1 : 0));
  out.segmentState = segmentState;
  return out;
}

/** Rows by their subject, each subject's in the order they came. */
function groupBy<R extends { subject_id: string }>(rows: readonly R[]): Map<string, R[]> {
  const out = new Map<string, R[]>();
  for (const r of rows) {
    const list = out.get(r.subject_id);
    if (list) list.push(r);
    else out.set(r.subject_id, [r]);
  }
  return out;
}

type LedgerRow = Pick<ConsentsTable, 'purpose' | 'status' | 'notice_version' | 'method' | 'at' | 'explicit'>;

/** A subject's stored state from its row, its objections in force and its ledger rows oldest first. */
function storedState(
  subject: Pick<SubjectsTable, 'id' | 'merged_into' | 'restricted_at' | 'erased_at'>,
  objections: readonly { purpose: string }[],
  ledger: readonly LedgerRow[],
): StoredSubjectState {
  // Ledger ids are time-ordered: the last row per purpose is the one in force.
  const latest = new Map<string, StoredSubjectState['consents'][number]>();
  for (const r of ledger) {
    latest.set(r.purpose, { purpose: r.purpose, status: r.status, noticeVersion: r.notice_version, method: r.method, at: Number(r.at), explicit: Number(r.explicit) === 1 });
  }
  return {
    subjectId: subject.id,
    mergedInto: subject.merged_into,
    restrictedAt: subject.restricted_at === null ? null : Number(subject.restricted_at),
    erasedAt: subject.erased_at === null ? null : Number(subject.erased_at),
    objections: [...new Set(objections.map((o) => o.purpose))],
    consents: [...latest.values()],
  };
}

export class SubjectStateRepo {
  // Building and compiling a Kysely query costs more than running these small indexed ones: compile once per repo.
  readonly #profileQueries = new Map<string, CompiledQuery<SnapshotRow>>();

  private readonly db: Kysely<DataDatabase>;

  constructor(
    handle: Handle<DataDatabase>,
    /** Where profile snapshots read committed state; default: `handle`. */
    private readonly reader?: Reader,
  ) {
    this.db = kyselyOf(handle);
  }

  /**
   * The subject behind an identity (kind + blind index) or a subject id, with its markers, latest consent per
   * purpose, objections in force, segment memberships and segment state and, with `traits`, its trait rows (ordered
   * by name), in one UNION ALL statement: every read pays for each round trip. Ciphertexts are fetched only for
   * categories under one of `traits.blobsFor` (category prefixes, as a purpose lists them): the rest will be withheld
   * anyway. LIKE's `_` may match more than it should, never less; the caller decides each field anyway. Null when no
   * subject matches. A merged subject comes back with `mergedInto` set and the rest of its rows as they are: callers
   * follow the merge.
   */
  async profile(by: { kind: string; blindIndex: Buffer } | { subjectId: string }, traits: { blobsFor: readonly string[] } | null): Promise<ProfileSnapshot | null> {
    const sqlite = this.reader?.sqlite;
    if (sqlite) return this.#profileSqlite(sqlite, by, traits?.blobsFor ?? null);
    const byIdentity = 'kind' in by;
    const shape = `${byIdentity ? 'i' : 's'}:${traits ? JSON.stringify(traits.blobsFor) : '-'}`;
    let query = this.#profileQueries.get(shape);
    if (!query) {
      const subject = byIdentity
        ? sql`select s.id, s.merged_into, s.restricted_at, s.erased_at from identities i inner join subjects s on s.id = i.subject_id where i.kind = ${KIND} and i.blind_index = ${INDEX}`
        : sql`select id, merged_into, restricted_at, erased_at from subjects where id = ${SUBJECT}`;
      const blob =
        traits && traits.blobsFor.length > 0
          ? sql`case when ${sql.join(traits.blobsFor.map((p) => sql`category = ${p} or category like ${`${p}.%`}`), sql` or `)} then value_enc end`
          : sql`null`;
      const traitRows = traits
        ? sql`union all select 0, name, category, null, null, ${blob}, null, null, null from traits where subject_id = (select id from s) `
        : sql``;
      query = sql<SnapshotRow>`with s as (${subject})
        select 5 as kind, id as item, merged_into as detail, null as notice_version, null as method, null as ciphertext, restricted_at as at, erased_at as explicit_or_erased_at, null as ledger_id from s
        union all select 4, null, null, null, null, state_enc, null, null, null from segment_states where subject_id = (select id from s)
        ${traitRows}union all select 1, purpose, status, notice_version, method, null, at, explicit, id from consents where subject_id = (select id from s)
        union all select 2, purpose, null, null, null, null, null, null, null from objections where subject_id = (select id from s) and lifted_at is null
        union all select 3, segment_id, null, null, null, null, since, null, null from segment_members where subject_id = (select id from s)`.compile(this.db);
      // The segment state comes second: PostgreSQL types a UNION's columns pair by pair, and its blob is what makes
      // `ciphertext` bytea before any branch of nulls could make it text. One entry per purpose and lookup kind (and one
      // without traits): bounded by the configuration.
      this.#profileQueries.set(shape, query);
    }
    const bound = bind(query, byIdentity ? new Map<unknown, unknown>([[KIND, by.kind], [INDEX, by.blindIndex]]) : new Map([[SUBJECT, by.subjectId]]));
    const rows = this.reader ? await this.reader.rows(bound) : (await this.db.executeQuery(bound)).rows;
    return collect(rows.map(toRaw));
  }

  /** SQL text and trait parameters of `#profileSqlite`, per list of category prefixes (bounded by the configuration). */
  readonly #sqliteTexts = new Map<string, { text: string; traitParams: string[] }>();

  /**
   * SQLite: the same rows from plain selects (the identity, the subject, then the rest by its id, kept between reads
   * while the subject does not change), answered synchronously. There a statement costs no round trip, and the one
   * statement above costs more: SQLite re-runs the identity join for each branch.
   */
  #profileSqlite(
    { read, kept }: NonNullable<Reader['sqlite']>,
    by: { kind: string; blindIndex: Buffer } | { subjectId: string },
    blobsFor: readonly string[] | null,
  ): ProfileSnapshot | null {
    const shape = blobsFor ? blobsFor.join('\n') : '\u0000';
    let rest = this.#sqliteTexts.get(shape);
    if (!rest) {
      const blob = blobsFor && blobsFor.length > 0 ? `case when ${blobsFor.map(() => 'category = ? or category like ?').join(' or ')} then value_enc end` : 'null';
      rest = {
        text: `select 4, null, null, null, null, state_enc, null, null, null from segment_states where subject_id = ?
          ${blobsFor ? `union all select 0, name, category, null, null, ${blob}, null, null, null from traits where subject_id = ? ` : ''}union all select 1, purpose, status, notice_version, method, null, at, explicit, id from consents where subject_id = ?
          union all select 2, purpose, null, null, null, null, null, null, null from objections where subject_id = ? and lifted_at is null
          union all select 3, segment_id, null, null, null, null, since, null, null from segment_members where subject_id = ?`,
        traitParams: (blobsFor ?? []).flatMap((p) => [p, `${p}.%`]),
      };
      this.#sqliteTexts.set(shape, rest);
    }
    const { text, traitParams } = rest;
    return read((prepare) => {
      // Each part is what an earlier read found, unless it changed since (src/store/reader.ts, KeptRows); otherwise two
      // point lookups (cheaper than the same as a join: docs/performance.md, "reads off Kysely's queue") and the rest by
      // subject id.
      let subjectId: string | undefined;
      if ('kind' in by) {
        const key = identityKey(by.kind, by.blindIndex);
        subjectId = kept.get(key, SUBJECT_OF_IDENTITY) as string | undefined;
        if (subjectId === undefined) {
          subjectId = prepare('select subject_id from identities where kind = ? and blind_index = ?').pluck(true).get(by.kind, by.blindIndex) as string | undefined;
          if (subjectId === undefined) return null;
          kept.set(key, SUBJECT_OF_IDENTITY, subjectId);
        }
      } else subjectId = by.subjectId;
      let subject = kept.get(subjectId, SUBJECT_ROW) as RawSnapshotRow | undefined;
      if (!subject) {
        subject = prepare('select 5, id, merged_into, null, null, null, restricted_at, erased_at, null from subjects where id = ?').raw(true).get(subjectId) as RawSnapshotRow | undefined;
        if (!subject) return null;
        kept.set(subjectId, SUBJECT_ROW, subject);
      }
      let rows = kept.get(subjectId, shape) as RawSnapshotRow[] | undefined;
      if (!rows) {
        rows = prepare(text).raw(true).all(blobsFor ? [subjectId, ...traitParams, subjectId, subjectId, subjectId, subjectId] : [subjectId, subjectId, subjectId, subjectId]) as RawSnapshotRow[];
        kept.set(subjectId, shape, rows);
      }
      return collect(rows, subject);
    });
  }

  /** Everything the use rule needs about one subject, in three indexed reads; null when the subject does not exist. */
  async stateOf(subjectId: string): Promise<StoredSubjectState | null> {
    const subject = await this.db
      .selectFrom('subjects')
      .select(['id', 'merged_into', 'restricted_at', 'erased_at'])
      .where('id', '=', subjectId)
      .executeTakeFirst();
    if (!subject) return null;
    const [objections, ledger] = await Promise.all([new ObjectionRepo(this.db).inForce([subjectId]), new ConsentRepo(this.db).stateRows([subjectId])]);
    return storedState(subject, objections, ledger);
  }

  /**
   * `stateOf` for many subjects, with one read per table (in parts of 500 ids): the subjects that exist, by id.
   * Callers that locked the subjects read their state as of their locks.
   */
  async statesOf(subjectIds: readonly string[]): Promise<Map<string, StoredSubjectState>> {
    const subjects = [];
    for (const part of chunks(subjectIds)) {
      subjects.push(...(await this.db.selectFrom('subjects').select(['id', 'merged_into', 'restricted_at', 'erased_at']).where('id', 'in', part).execute()));
    }
    const ids = subjects.map((s) => s.id);
    const objections = ids.length > 0 ? await new ObjectionRepo(this.db).inForce(ids) : [];
    const ledger = ids.length > 0 ? await new ConsentRepo(this.db).stateRows(ids) : [];
    const objectionsOf = groupBy(objections);
    const ledgerOf = groupBy(ledger);
    return new Map(subjects.map((s) => [s.id, storedState(s, objectionsOf.get(s.id) ?? [], ledgerOf.get(s.id) ?? [])]));
  }

  // Restriction and erasure marks are written by ProfileRepo, the owner of `subjects`.

  /** Merge: a restriction of either side holds for the survivor (objections follow through ObjectionRepo.reassign). */
  async reassign(from: string, to: string): Promise<void> {
    const loser = await this.db.selectFrom('subjects').select(['restricted_at']).where('id', '=', from).executeTakeFirst();
    if (loser?.restricted_at != null) await new ProfileRepo(this.db).restrict(to, Number(loser.restricted_at));
  }
}
