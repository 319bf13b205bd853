// Segments: definitions, memberships, encrypted per-subject aggregate state, and the bounded reads that rebuild them.
import type { Kysely } from 'kysely';
import { ConsentRepo } from './consent-repo.ts';
import { ObjectionRepo } from './objection-repo.ts';
import type { DataDatabase, IdentityAssertion, SegmentDefinitionsTable, SegmentMembersTable, SegmentStatesTable } from './schema.ts';
import { kyselyOf, locksRows, type Handle } from './internal/scope.ts';

const CHUNK = 400;

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** What the use rule needs about a subject, as stored (the service turns it into the policy's SubjectState). */
export interface StoredPolicyState {
  restricted: boolean;
  erased: boolean;
  objections: string[];
  /** Latest ledger row per purpose. */
  consents: { purpose: string; status: string; notice_version: string; method: string; at: number; explicit: boolean }[];
}

export interface WindowEvent {
  id: string;
  subject_id: string;
  event_name: string | null;
  timestamp: number;
  category: string;
  payload_enc?: Buffer;
}

export class SegmentRepo {
  private readonly db: Kysely<DataDatabase>;
  /** Whether locks are taken with `FOR UPDATE`/`FOR SHARE` (PostgreSQL); SQLite's single writer already excludes. */
  private readonly rowLocks: boolean;

  constructor(handle: Handle<DataDatabase>) {
    this.db = kyselyOf(handle);
    this.rowLocks = locksRows(handle);
  }

  // ---- definitions ----

  definitions(): Promise<SegmentDefinitionsTable[]> {
    return this.db.selectFrom('segment_definitions').selectAll().orderBy('key').execute();
  }

  /** Keys and hashes only: compared on every group commit to notice definitions changed by another process. */
  signature(): Promise<Pick<SegmentDefinitionsTable, 'key' | 'hash'>[]> {
    return this.db.selectFrom('segment_definitions').select(['key', 'hash']).orderBy('key').execute();
  }

  async insertDefinition(row: SegmentDefinitionsTable): Promise<boolean> {
    const r = await this.db.insertInto('segment_definitions').values(row).onConflict((oc) => oc.column('key').doNothing()).executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /** Insert, or overwrite everything but the creation time. */
  async replaceDefinition(row: SegmentDefinitionsTable): Promise<void> {
    const { origin, kind, purpose, definition, hash, updated_at, built_hash, built_at } = row;
    await this.db
      .insertInto('segment_definitions')
      .values(row)
      .onConflict((oc) => oc.column('key').doUpdateSet({ origin, kind, purpose, definition, hash, updated_at, built_hash, built_at }))
      .execute();
  }

  async deleteDefinition(key: string): Promise<void> {
    await this.db.deleteFrom('segment_members').where('segment_id', '=', key).execute();
    await this.db.deleteFrom('segment_definitions').where('key', '=', key).execute();
  }

  async markBuilt(key: string, hash: string, at: number): Promise<void> {
    await this.db.updateTable('segment_definitions').set({ built_hash: hash, built_at: at }).where('key', '=', key).where('hash', '=', hash).execute();
  }

  // ---- memberships ----

  /**
   * Members of `segment` whose purpose may still be used: restriction, erasure and objections are recorded outside
   * ingestion, so listings re-check them rather than wait for the next re-evaluation.
   */
  #members(segment: string, purpose: string) {
    return this.db
      .selectFrom('segment_members as m')
      .innerJoin('subjects as s', 's.id', 'm.subject_id')
      .where('m.segment_id', '=', segment)
      .where('s.restricted_at', 'is', null)
      .where('s.erased_at', 'is', null)
      .where((eb) =>
        eb.not(
          eb.exists(
            eb.selectFrom('objections as o').select('o.id').whereRef('o.subject_id', '=', 'm.subject_id').where('o.purpose', '=', purpose).where('o.lifted_at', 'is', null),
          ),
        ),
      );
  }

  membersPage(segment: string, purpose: string, after: string | null, limit: number): Promise<Pick<SegmentMembersTable, 'subject_id' | 'since'>[]> {
    let q = this.#members(segment, purpose).select(['m.subject_id', 'm.since']);
    if (after !== null) q = q.where('m.subject_id', '>', after);
    return q.orderBy('m.subject_id').limit(limit).execute();
  }

  async countMembers(segment: string, purpose: string): Promise<number> {
    const r = await this.#members(segment, purpose)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  /**
   * How many members have an identity link asserted in one of `assertions`, counting no further than `atMost`: the
   * caller only needs to know whether a threshold is reached, so a large segment stops at the first `atMost`.
   */
  async countAssertedMembers(segment: string, purpose: string, assertions: readonly IdentityAssertion[], atMost: number): Promise<number> {
    if (assertions.length === 0 || atMost <= 0) return 0;
    const rows = await this.#members(segment, purpose)
      .where((eb) =>
        eb.exists(eb.selectFrom('identities as i').select('i.subject_id').whereRef('i.subject_id', '=', 'm.subject_id').where('i.asserted', 'in', [...assertions])),
      )
      .select('m.subject_id')
      .limit(atMost)
      .execute();
    return rows.length;
  }

  membershipsOf(subjectId: string): Promise<Pick<SegmentMembersTable, 'segment_id' | 'since'>[]> {
    return this.db.selectFrom('segment_members').select(['segment_id', 'since']).where('subject_id', '=', subjectId).orderBy('segment_id').execute();
  }

  async membershipsOfMany(subjectIds: readonly string[]): Promise<Pick<SegmentMembersTable, 'segment_id' | 'subject_id'>[]> {
    const out = [];
    for (const part of chunks(subjectIds)) {
      out.push(...(await this.db.selectFrom('segment_members').select(['segment_id', 'subject_id']).where('subject_id', 'in', part).execute()));
    }
    return out;
  }

  async addMembers(rows: readonly SegmentMembersTable[]): Promise<void> {
    for (const part of chunks(rows, 300)) {
      await this.db.insertInto('segment_members').values(part).onConflict((oc) => oc.columns(['segment_id', 'subject_id']).doNothing()).execute();
    }
  }

  async removeMembers(rows: readonly Pick<SegmentMembersTable, 'segment_id' | 'subject_id'>[]): Promise<void> {
    const bySegment = new Map<string, string[]>();
    for (const r of rows) bySegment.set(r.segment_id, [...(bySegment.get(r.segment_id) ?? []), r.subject_id]);
    for (const [segment, subjects] of bySegment) {
      for (const part of chunks(subjects)) {
        await this.db.deleteFrom('segment_members').where('segment_id', '=', segment).where('subject_id', 'in', part).execute();
      }
    }
  }

  // ---- aggregate state ----

  /**
   * The state rows of these subjects, locked for the rest of the transaction where the database can: an empty
   * placeholder is inserted first for subjects without one, so two writers of the same subject always queue on a row.
   */
  async lockStates(subjectIds: readonly string[], at: number): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    for (const part of chunks([...subjectIds].sort())) {
      let q = this.db.selectFrom('segment_states').select(['subject_id', 'state_enc']).where('subject_id', 'in', part).orderBy('subject_id');
      if (this.rowLocks) {
        await this.db
          .insertInto('segment_states')
          .values(part.map((subject_id) => ({ subject_id, state_enc: Buffer.alloc(0), updated_at: at })))
          .onConflict((oc) => oc.column('subject_id').doNothing())
          .execute();
        q = q.forUpdate();
      }
      for (const r of await q.execute()) out.set(r.subject_id, Buffer.from(r.state_enc));
    }
    return out;
  }

  async stateOf(subjectId: string): Promise<Buffer | null> {
    const r = await this.db.selectFrom('segment_states').select('state_enc').where('subject_id', '=', subjectId).executeTakeFirst();
    return r ? Buffer.from(r.state_enc) : null;
  }

  async upsertStates(rows: readonly SegmentStatesTable[]): Promise<void> {
    for (const part of chunks(rows, 200)) {
      await this.db
        .insertInto('segment_states')
        .values(part)
        .onConflict((oc) => oc.column('subject_id').doUpdateSet((eb) => ({ state_enc: eb.ref('excluded.state_enc'), updated_at: eb.ref('excluded.updated_at') })))
        .execute();
    }
  }

  /** Erasure, merge (the loser) or a subject without data: its state and memberships go. */
  async forget(subjectIds: readonly string[]): Promise<void> {
    for (const part of chunks(subjectIds)) {
      await this.db.deleteFrom('segment_states').where('subject_id', 'in', part).execute();
      await this.db.deleteFrom('segment_members').where('subject_id', 'in', part).execute();
    }
  }

  async deleteStates(subjectIds: readonly string[]): Promise<void> {
    for (const part of chunks(subjectIds)) await this.db.deleteFrom('segment_states').where('subject_id', 'in', part).execute();
  }

  // ---- what the rule and the aggregates read ----

  /** Restriction, erasure, objections and latest consents of these subjects (absent: no such live subject). */
  async policyStates(subjectIds: readonly string[]): Promise<Map<string, StoredPolicyState>> {
    const out = new Map<string, StoredPolicyState>();
    for (const part of chunks(subjectIds)) {
      const subjects = await this.db.selectFrom('subjects').select(['id', 'restricted_at', 'erased_at']).where('id', 'in', part).where('merged_into', 'is', null).execute();
      for (const s of subjects) out.set(s.id, { restricted: s.restricted_at !== null, erased: s.erased_at !== null, objections: [], consents: [] });
      const objections = await new ObjectionRepo(this.db).inForce(part);
      for (const o of objections) out.get(o.subject_id)?.objections.push(o.purpose);
      const ledger = await new ConsentRepo(this.db).stateRows(part);
      // Ledger ids are time-ordered: the last row per purpose is the one in force.
      const latest = new Map<string, Map<string, StoredPolicyState['consents'][number]>>();
      for (const r of ledger) {
        let m = latest.get(r.subject_id);
        if (!m) latest.set(r.subject_id, (m = new Map()));
        m.set(r.purpose, { purpose: r.purpose, status: r.status, notice_version: r.notice_version, method: r.method, at: Number(r.at), explicit: Number(r.explicit) === 1 });
      }
      for (const [s, m] of latest) {
        const st = out.get(s);
        if (st) st.consents = [...m.values()];
      }
    }
    return out;
  }

  /** `track` events of these subjects with these names since `from` (event time), in id order; payloads only if asked. */
  async eventsInWindow(subjectIds: readonly string[], names: readonly string[], from: number, withPayload: boolean): Promise<WindowEvent[]> {
    if (names.length === 0) return [];
    const out: WindowEvent[] = [];
    for (const part of chunks(subjectIds, 200)) {
      const base = this.db
        .selectFrom('events')
        .where('subject_id', 'in', part)
        .where('type', '=', 'track')
        .where('event_name', 'in', [...names])
        .where('timestamp', '>=', from)
        .orderBy('id');
      const rows = withPayload
        ? await base.select(['id', 'subject_id', 'event_name', 'timestamp', 'category', 'payload_enc']).execute()
        : await base.select(['id', 'subject_id', 'event_name', 'timestamp', 'category']).execute();
      for (const r of rows) out.push({ ...r, timestamp: Number(r.timestamp) });
    }
    return out;
  }

  async traitsOf(subjectIds: readonly string[], names: readonly string[]): Promise<{ subject_id: string; name: string; category: string; value_enc: Buffer }[]> {
    if (names.length === 0) return [];
    const out = [];
    for (const part of chunks(subjectIds)) {
      out.push(
        ...(await this.db
          .selectFrom('traits')
          .select(['subject_id', 'name', 'category', 'value_enc'])
          .where('subject_id', 'in', part)
          .where('name', 'in', [...names])
          .execute()),
      );
    }
    return out;
  }

  async liveSubjects(after: string | null, limit: number): Promise<string[]> {
    let q = this.db.selectFrom('subjects').select('id').where('merged_into', 'is', null);
    if (after !== null) q = q.where('id', '>', after);
    return (await q.orderBy('id').limit(limit).execute()).map((r) => r.id);
  }

  async countLive(): Promise<number> {
    const r = await this.db.selectFrom('subjects').select((eb) => eb.fn.countAll<number>().as('n')).where('merged_into', 'is', null).executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  // ---- shared facts ----

  /** Sets `name` to `value` if it is unset or smaller (text order); true for the one caller that moved it. */
  async advance(name: string, value: string): Promise<boolean> {
    const inserted = await this.db.insertInto('segment_meta').values({ name, value }).onConflict((oc) => oc.column('name').doNothing()).executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0) return true;
    const updated = await this.db.updateTable('segment_meta').set({ value }).where('name', '=', name).where('value', '<', value).executeTakeFirst();
    return Number(updated.numUpdatedRows) > 0;
  }
}
