// Subjects, their identities (by blind index) and their traits.
import type { Kysely } from 'kysely';
import type { DataDatabase, IdentitiesTable, IdentityAssertion, SubjectsTable, TraitsTable } from './schema.ts';
import { IN_LIST, keyIn } from './internal/batches.ts';
import { kyselyOf, locksRows, type Handle } from './internal/scope.ts';

/** What retention reads of a trait: its key and envelope, no value. */
export type RetentionTraitRow = Pick<TraitsTable, 'subject_id' | 'name' | 'purposes' | 'updated_at'>;

const CHUNK = 400;

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export class ProfileRepo {
  private readonly db: Kysely<DataDatabase>;
  /** Whether locks are taken with `FOR UPDATE`/`FOR SHARE` (PostgreSQL); SQLite's single writer already excludes. */
  private readonly rowLocks: boolean;

  constructor(handle: Handle<DataDatabase>) {
    this.db = kyselyOf(handle);
    this.rowLocks = locksRows(handle);
  }

  /**
   * Reads (and, where the database can, locks) subject rows for the rest of the transaction, so a concurrent
   * merge in another process cannot slip between reading a subject and writing to it.
   */
  async lockSubjects(ids: readonly string[], mode: 'share' | 'update'): Promise<Pick<SubjectsTable, 'id' | 'merged_into' | 'erased_at'>[]> {
    const out = [];
    for (const part of chunks([...ids].sort())) {
      const q = this.db.selectFrom('subjects').select(['id', 'merged_into', 'erased_at']).where('id', 'in', part).orderBy('id');
      out.push(...(await (this.rowLocks ? (mode === 'update' ? q.forUpdate() : q.forShare()) : q).execute()));
    }
    return out;
  }

  /** Identities whose blind index is among `indexes` (any kind; callers match on kind). */
  async identitiesByIndex(indexes: readonly Buffer[]): Promise<Pick<IdentitiesTable, 'kind' | 'blind_index' | 'subject_id' | 'asserted'>[]> {
    const out = [];
    for (const part of chunks(indexes)) {
      out.push(
        ...(await this.db
          .selectFrom('identities')
          .select(['kind', 'blind_index', 'subject_id', 'asserted'])
          .where('blind_index', 'in', part)
          .execute()),
      );
    }
    return out;
  }

  /** The identities of several subjects (at most 500), by subject then kind. */
  identitiesOfSubjects(subjectIds: readonly string[]): Promise<IdentitiesTable[]> {
    if (subjectIds.length === 0) return Promise.resolve([]);
    return this.db.selectFrom('identities').selectAll().where('subject_id', 'in', [...subjectIds]).orderBy('subject_id').orderBy('kind').execute();
  }

  /** A subject's identities, by kind. */
  identitiesOf(subjectId: string): Promise<IdentitiesTable[]> {
    return this.db.selectFrom('identities').selectAll().where('subject_id', '=', subjectId).orderBy('kind').execute();
  }

  async subjectsWithUserId(subjectIds: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const part of chunks(subjectIds)) {
      // The userId slot table, by its key: asking `identities` for kind = 'userId' made SQLite walk every userId.
      const rows = await this.db.selectFrom('subject_user_ids').select('subject_id').where('subject_id', 'in', part).execute();
      for (const r of rows) out.add(r.subject_id);
    }
    return out;
  }

  async subjects(ids: readonly string[]): Promise<SubjectsTable[]> {
    const out: SubjectsTable[] = [];
    for (const part of chunks(ids)) {
      out.push(...(await this.db.selectFrom('subjects').selectAll().where('id', 'in', part).execute()));
    }
    return out;
  }

  async insertSubjects(rows: readonly SubjectsTable[]): Promise<void> {
    for (const part of chunks(rows, 200)) await this.db.insertInto('subjects').values(part).execute();
  }

  /** Records a stronger assertion for a link made before assertions were recorded. */
  async setAssertion(kind: string, blindIndex: Buffer, asserted: IdentityAssertion): Promise<void> {
    await this.db.updateTable('identities').set({ asserted }).where('kind', '=', kind).where('blind_index', '=', blindIndex).execute();
  }

  /**
   * Links identities. A userId link also claims the subject's one userId slot (`subject_user_ids`, keyed by subject):
   * a second userId for the same subject, even from another process, fails the transaction there.
   */
  async insertIdentities(rows: readonly IdentitiesTable[]): Promise<void> {
    for (const part of chunks(rows, 150)) await this.db.insertInto('identities').values(part).execute();
    const userIds = rows.filter((r) => r.kind === 'userId').map((r) => ({ subject_id: r.subject_id, blind_index: r.blind_index }));
    for (const part of chunks(userIds, 300)) await this.db.insertInto('subject_user_ids').values(part).execute();
  }

  /** The blind indexes of a subject's identities of one kind. */
  identityIndexesOf(subjectId: string, kind: string): Promise<Pick<IdentitiesTable, 'blind_index'>[]> {
    return this.db.selectFrom('identities').select(['blind_index']).where('subject_id', '=', subjectId).where('kind', '=', kind).execute();
  }

  /** The subject an identity is linked to, if any. */
  async identityHolder(kind: string, blindIndex: Buffer): Promise<string | undefined> {
    const row = await this.db.selectFrom('identities').select('subject_id').where('kind', '=', kind).where('blind_index', '=', blindIndex).executeTakeFirst();
    return row?.subject_id;
  }

  async deleteIdentitiesOf(subjectId: string, kind: string): Promise<void> {
    await this.db.deleteFrom('identities').where('subject_id', '=', subjectId).where('kind', '=', kind).execute();
    if (kind === 'userId') await this.db.deleteFrom('subject_user_ids').where('subject_id', '=', subjectId).execute();
  }

  async reassignIdentity(kind: string, blindIndex: Buffer, subjectId: string, valueEnc: Buffer): Promise<void> {
    if (kind === 'userId') {
      // The slot moves with the link (delete and insert: the distribution column is never updated in place).
      const holder = await this.identityHolder(kind, blindIndex);
      if (holder !== undefined) await this.db.deleteFrom('subject_user_ids').where('subject_id', '=', holder).execute();
      await this.db.insertInto('subject_user_ids').values({ subject_id: subjectId, blind_index: blindIndex }).execute();
    }
    await this.db
      .updateTable('identities')
      .set({ subject_id: subjectId, value_enc: valueEnc })
      .where('kind', '=', kind)
      .where('blind_index', '=', blindIndex)
      .execute();
  }

  async markMerged(loser: string, survivor: string, at: number): Promise<void> {
    await this.db.updateTable('subjects').set({ merged_into: survivor, updated_at: at }).where('id', '=', loser).execute();
    // Anything that pointed at the loser now points at the survivor.
    await this.db.updateTable('subjects').set({ merged_into: survivor }).where('merged_into', '=', loser).execute();
  }

  async touch(ids: readonly string[], at: number): Promise<void> {
    for (const part of chunks(ids)) await this.db.updateTable('subjects').set({ updated_at: at }).where('id', 'in', part).execute();
  }

  /** The traits of several subjects (at most 500), by subject then name. */
  traitsOfSubjects(subjectIds: readonly string[]): Promise<TraitsTable[]> {
    if (subjectIds.length === 0) return Promise.resolve([]);
    return this.db.selectFrom('traits').selectAll().where('subject_id', 'in', [...subjectIds]).orderBy('subject_id').orderBy('name').execute();
  }

  traitsOf(subjectId: string): Promise<TraitsTable[]> {
    return this.db.selectFrom('traits').selectAll().where('subject_id', '=', subjectId).orderBy('name').execute();
  }

  /** Writes traits; an existing value is replaced only by a write at least as recent (last write wins). */
  async upsertTraits(rows: readonly TraitsTable[]): Promise<void> {
    for (const part of chunks(rows, 100)) {
      await this.db
        .insertInto('traits')
        .values(part)
        .onConflict((oc) =>
          oc
            .columns(['subject_id', 'name'])
            .doUpdateSet((eb) => ({
              category: eb.ref('excluded.category'),
              value_enc: eb.ref('excluded.value_enc'),
              purposes: eb.ref('excluded.purposes'),
              source_id: eb.ref('excluded.source_id'),
              updated_at: eb.ref('excluded.updated_at'),
            }))
            .where((eb) => eb(eb.ref('excluded.updated_at'), '>=', eb.ref('traits.updated_at'))),
        )
        .execute();
    }
  }

  async deleteTrait(subjectId: string, name: string): Promise<void> {
    await this.db.deleteFrom('traits').where('subject_id', '=', subjectId).where('name', '=', name).execute();
  }

  /** Replaces a trait whatever the time of the stored value (a correction, not the last-write-wins upsert). */
  async replaceTrait(row: TraitsTable): Promise<void> {
    await this.deleteTrait(row.subject_id, row.name);
    await this.db.insertInto('traits').values(row).execute();
  }

  /** Deletes every trait of a subject; how many there were. */
  deleteTraits(subjectId: string): Promise<number> {
    return this.deleteTraitsOfSubjects([subjectId]);
  }

  /** Deletes every trait of these subjects; how many there were. */
  async deleteTraitsOfSubjects(subjectIds: readonly string[]): Promise<number> {
    let n = 0;
    for (const part of chunks(subjectIds, IN_LIST)) n += Number((await this.db.deleteFrom('traits').where('subject_id', 'in', part).executeTakeFirst()).numDeletedRows);
    return n;
  }

  /** Deletes every identity linked to a subject; how many there were. */
  deleteAllIdentitiesOf(subjectId: string): Promise<number> {
    return this.deleteIdentitiesOfSubjects([subjectId]);
  }

  /** Deletes every identity linked to these subjects (and their userId slots); how many identities there were. */
  async deleteIdentitiesOfSubjects(subjectIds: readonly string[]): Promise<number> {
    let n = 0;
    for (const part of chunks(subjectIds, IN_LIST)) {
      await this.db.deleteFrom('subject_user_ids').where('subject_id', 'in', part).execute();
      n += Number((await this.db.deleteFrom('identities').where('subject_id', 'in', part).executeTakeFirst()).numDeletedRows);
    }
    return n;
  }

  /** Retention: a page of live subjects (neither merged away nor erased), in id order after `afterId`. */
  async liveSubjectsPage(afterId: string | null, limit: number): Promise<string[]> {
    let q = this.db.selectFrom('subjects').select('id').where('merged_into', 'is', null).where('erased_at', 'is', null);
    if (afterId) q = q.where('id', '>', afterId);
    return (await q.orderBy('id').limit(limit).execute()).map((r) => r.id);
  }

  /**
   * Retention: these subjects' traits in (subject, name) order, without their values, after the key `after` when given,
   * at most `limit`. `subjectIds` in id order, as a page of subjects comes (see EventRepo.retentionRows).
   */
  async traitRetentionRows(subjectIds: readonly string[], after: { subjectId: string; name: string } | null, limit: number): Promise<RetentionTraitRow[]> {
    const out: RetentionTraitRow[] = [];
    for (const part of chunks(subjectIds, IN_LIST)) {
      if (out.length >= limit) break;
      let q = this.db.selectFrom('traits').select(['subject_id', 'name', 'purposes', 'updated_at']).where('subject_id', 'in', part);
      if (after) q = q.where((eb) => eb(eb.refTuple('subject_id', 'name'), '>', eb.tuple(after.subjectId, after.name)));
      out.push(...(await q.orderBy('subject_id').orderBy('name').limit(limit - out.length).execute()));
    }
    return out;
  }

  /** Deletes traits by key (subject, name), up to 500 keys a statement; how many were deleted. */
  async deleteTraitKeys(keys: readonly { subjectId: string; name: string }[]): Promise<number> {
    let n = 0;
    for (const part of chunks(keys, IN_LIST)) {
      const r = await this.db.deleteFrom('traits').where(keyIn('name', part.map((k) => [k.subjectId, k.name]))).executeTakeFirst();
      n += Number(r.numDeletedRows);
    }
    return n;
  }

  /** Those of these subjects that have any trait. */
  async subjectsWithTraits(subjectIds: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const part of chunks(subjectIds, IN_LIST)) {
      for (const r of await this.db.selectFrom('traits').select('subject_id').distinct().where('subject_id', 'in', part).execute()) out.add(r.subject_id);
    }
    return out;
  }

  /** Those of these subjects with an asserted identity (anything but an anonymous link). */
  async subjectsWithAssertedIdentity(subjectIds: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const part of chunks(subjectIds, IN_LIST)) {
      const rows = await this.db.selectFrom('identities').select('subject_id').distinct().where('subject_id', 'in', part).where('asserted', '!=', 'anonymous').execute();
      for (const r of rows) out.add(r.subject_id);
    }
    return out;
  }

  async restrict(subjectId: string, at: number): Promise<void> {
    await this.db.updateTable('subjects').set({ restricted_at: at }).where('id', '=', subjectId).where('restricted_at', 'is', null).execute();
  }

  async liftRestriction(subjectId: string): Promise<void> {
    await this.db.updateTable('subjects').set({ restricted_at: null }).where('id', '=', subjectId).execute();
  }

  /** The subject rows stay as the pseudonymous record that an erasure happened; a restriction has nothing left to hold. */
  async markErased(ids: readonly string[], at: number): Promise<void> {
    for (const part of chunks(ids)) {
      await this.db
        .updateTable('subjects')
        .set((eb) => ({ erased_at: eb.fn.coalesce('erased_at', eb.val(at)), restricted_at: null, updated_at: at }))
        .where('id', 'in', part)
        .execute();
    }
  }
}
