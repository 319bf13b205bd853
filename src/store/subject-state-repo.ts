// Subject state beyond the data itself: the latest consent per purpose, restriction (Art. 18), objections (Art. 21), erasure markers.
import { sql, type CompiledQuery, type Kysely } from 'kysely';
import { uuidv7 } from '../domain/ids.ts';
import type { DataDatabase, ObjectionsTable, TraitsTable } from './schema.ts';

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

/** A subject's state and (optionally) its trait rows, read in one round trip: the hot path of profile reads. */
export interface SubjectSnapshot {
  consents: StoredSubjectState['consents'];
  objections: string[];
  /** `value_enc` is null for traits outside `blobsFor` (their ciphertext is not even fetched). */
  traits: (Pick<TraitsTable, 'name' | 'category'> & { value_enc: Buffer | null })[];
}

/** One row of the union in `snapshot`: k = 0 trait, 1 consent, 2 objection. */
interface SnapshotRow {
  k: number | string;
  a: string;
  b: string | null;
  c: string | null;
  d: string | null;
  v: Uint8Array | null;
  n: number | string | null;
  x: number | string | null;
  e: string | null;
}

// Placeholders the hot queries are compiled with once; each call swaps in its own values (see `bind`).
const KIND = '\u0000kind';
const INDEX = Buffer.from('\u0000index');
const SUBJECT = '\u0000subject';

/** A compiled query with its placeholder parameters replaced. */
function bind<R>(q: CompiledQuery<R>, values: ReadonlyMap<unknown, unknown>): CompiledQuery<R> {
  return { ...q, parameters: q.parameters.map((p) => (values.has(p) ? values.get(p) : p)) };
}

export class SubjectStateRepo {
  // Building and compiling a Kysely query costs more than running these small indexed ones: compile once per repo.
  #lookupQuery: CompiledQuery<{ id: string; merged_into: string | null; restricted_at: number | null; erased_at: number | null }> | undefined;
  readonly #snapshotQueries = new Map<string, CompiledQuery<SnapshotRow>>();

  constructor(private readonly db: Kysely<DataDatabase>) {}

  /** The subject an identity (kind + blind index) belongs to, with its markers, in one indexed join. */
  async lookup(kind: string, blindIndex: Buffer): Promise<Pick<StoredSubjectState, 'subjectId' | 'mergedInto' | 'restrictedAt' | 'erasedAt'> | null> {
    this.#lookupQuery ??= this.db
      .selectFrom('identities as i')
      .innerJoin('subjects as s', 's.id', 'i.subject_id')
      .select(['s.id', 's.merged_into', 's.restricted_at', 's.erased_at'])
      .where('i.kind', '=', KIND)
      .where('i.blind_index', '=', INDEX)
      .compile();
    const r = (await this.db.executeQuery(bind(this.#lookupQuery, new Map<unknown, unknown>([[KIND, kind], [INDEX, blindIndex]])))).rows[0];
    if (!r) return null;
    return {
      subjectId: r.id,
      mergedInto: r.merged_into,
      restrictedAt: r.restricted_at === null ? null : Number(r.restricted_at),
      erasedAt: r.erased_at === null ? null : Number(r.erased_at),
    };
  }

  /**
   * Latest consent per purpose, objections in force and, with `traits`, the trait rows (ordered by name): one
   * UNION ALL statement instead of three, since every read pays for each round trip. Ciphertexts are fetched only
   * for categories under one of `traits.blobsFor` (category prefixes, as a purpose lists them): the rest will be
   * withheld anyway. LIKE's `_` may match more than it should, never less; the caller decides each field anyway.
   */
  async snapshot(subjectId: string, traits: { blobsFor: readonly string[] } | null): Promise<SubjectSnapshot> {
    const shape = traits ? JSON.stringify(traits.blobsFor) : '-';
    let query = this.#snapshotQueries.get(shape);
    if (!query) {
      const blob =
        traits && traits.blobsFor.length > 0
          ? sql`case when ${sql.join(traits.blobsFor.map((p) => sql`category = ${p} or category like ${`${p}.%`}`), sql` or `)} then value_enc end`
          : sql`null`;
      const traitRows = traits
        ? sql`select 0 as k, name as a, category as b, null as c, null as d, ${blob} as v, null as n, null as x, null as e from traits where subject_id = ${SUBJECT} union all `
        : sql``;
      query = sql<SnapshotRow>`${traitRows}select 1 as k, purpose as a, status as b, notice_version as c, method as d, null as v, at as n, explicit as x, id as e from consents where subject_id = ${SUBJECT}
        union all select 2 as k, purpose as a, null as b, null as c, null as d, null as v, null as n, null as x, null as e from objections where subject_id = ${SUBJECT} and lifted_at is null`.compile(this.db);
      // One entry per purpose (and one without traits): bounded by the configuration.
      this.#snapshotQueries.set(shape, query);
    }
    const { rows } = await this.db.executeQuery(bind(query, new Map([[SUBJECT, subjectId]])));
    // No ORDER BY (it costs a sort per branch): the latest consent is picked by id, traits are sorted here.
    const latest = new Map<string, StoredSubjectState['consents'][number] & { id: string }>();
    const objections = new Set<string>();
    const out: SubjectSnapshot = { consents: [], objections: [], traits: [] };
    for (const r of rows) {
      const k = Number(r.k);
      if (k === 0) out.traits.push({ name: r.a, category: r.b ?? '', value_enc: r.v ? Buffer.from(r.v.buffer, r.v.byteOffset, r.v.byteLength) : null });
      else if (k === 2) objections.add(r.a);
      else {
        // Ledger ids are time-ordered UUIDv7 (fixed-width lowercase hex): the greatest is the entry in force.
        const id = r.e ?? '';
        const prev = latest.get(r.a);
        if (!prev || prev.id < id) latest.set(r.a, { purpose: r.a, status: r.b ?? '', noticeVersion: r.c ?? '', method: r.d ?? '', at: Number(r.n), explicit: Number(r.x) === 1, id });
      }
    }
    out.consents = [...latest.values()].map(({ id: _id, ...c }) => c);
    out.objections = [...objections];
    out.traits.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
    return out;
  }

  /** Everything the use rule needs about one subject, in three indexed reads; null when the subject does not exist. */
  async stateOf(subjectId: string): Promise<StoredSubjectState | null> {
    const subject = await this.db
      .selectFrom('subjects')
      .select(['id', 'merged_into', 'restricted_at', 'erased_at'])
      .where('id', '=', subjectId)
      .executeTakeFirst();
    if (!subject) return null;
    const [objections, ledger] = await Promise.all([
      this.db.selectFrom('objections').select('purpose').where('subject_id', '=', subjectId).where('lifted_at', 'is', null).execute(),
      this.db
        .selectFrom('consents')
        .select(['id', 'purpose', 'status', 'notice_version', 'method', 'at', 'explicit'])
        .where('subject_id', '=', subjectId)
        .orderBy('id')
        .execute(),
    ]);
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

  async restrict(subjectId: string, at: number): Promise<void> {
    await this.db.updateTable('subjects').set({ restricted_at: at }).where('id', '=', subjectId).where('restricted_at', 'is', null).execute();
  }

  async liftRestriction(subjectId: string): Promise<void> {
    await this.db.updateTable('subjects').set({ restricted_at: null }).where('id', '=', subjectId).execute();
  }

  async markErased(subjectId: string, at: number): Promise<void> {
    await this.db.updateTable('subjects').set({ erased_at: at }).where('id', '=', subjectId).where('erased_at', 'is', null).execute();
  }

  /** Records an objection (no-op while one for the same purpose is in force); returns its id. */
  async object(subjectId: string, purpose: string, at: number, requestId: string | null = null): Promise<string> {
    const open = await this.db
      .selectFrom('objections')
      .select('id')
      .where('subject_id', '=', subjectId)
      .where('purpose', '=', purpose)
      .where('lifted_at', 'is', null)
      .executeTakeFirst();
    if (open) return open.id;
    const row: ObjectionsTable = { id: uuidv7(at), subject_id: subjectId, purpose, at, lifted_at: null, request_id: requestId };
    await this.db.insertInto('objections').values(row).execute();
    return row.id;
  }

  async liftObjection(subjectId: string, purpose: string, at: number): Promise<void> {
    await this.db
      .updateTable('objections')
      .set({ lifted_at: at })
      .where('subject_id', '=', subjectId)
      .where('purpose', '=', purpose)
      .where('lifted_at', 'is', null)
      .execute();
  }

  /** Merge: objections follow the person, and a restriction of either side holds for the survivor. */
  async reassign(from: string, to: string): Promise<void> {
    await this.db.updateTable('objections').set({ subject_id: to }).where('subject_id', '=', from).execute();
    const loser = await this.db.selectFrom('subjects').select(['restricted_at']).where('id', '=', from).executeTakeFirst();
    if (loser?.restricted_at != null) await this.restrict(to, Number(loser.restricted_at));
  }
}
