// Visitor keys (`visitor_keys`): one per subject; bound once from a browser, re-bound only by a verified identity.
import type { Kysely } from 'kysely';
import type { DataDatabase, VisitorKeysTable } from './schema.ts';
import { kyselyOf, type Handle } from './internal/scope.ts';

const CHUNK = 500;

export class VisitorKeyRepo {
  private readonly db: Kysely<DataDatabase>;

  constructor(handle: Handle<DataDatabase>) {
    this.db = kyselyOf(handle);
  }

  get(subjectId: string): Promise<VisitorKeysTable | undefined> {
    return this.db.selectFrom('visitor_keys').selectAll().where('subject_id', '=', subjectId).executeTakeFirst();
  }

  /** The first binding only: false when the subject already has a key (a concurrent binding won). */
  async bindFirst(row: VisitorKeysTable): Promise<boolean> {
    const r = await this.db.insertInto('visitor_keys').values(row).onConflict((oc) => oc.column('subject_id').doNothing()).executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /** A verified identity's binding: replaces any earlier one (and so voids its credentials). */
  async rebind(row: VisitorKeysTable): Promise<void> {
    await this.db
      .insertInto('visitor_keys')
      .values(row)
      .onConflict((oc) => oc.column('subject_id').doUpdateSet({ secret_hash: row.secret_hash, signing_key: row.signing_key, bound_by: row.bound_by, bound_at: row.bound_at }))
      .execute();
  }

  /** Whether any event or trait of the subject is stored: once one is, its anonymousId may have reached a destination. */
  async hasData(subjectId: string): Promise<boolean> {
    if ((await this.db.selectFrom('events').select('id').where('subject_id', '=', subjectId).limit(1).executeTakeFirst()) !== undefined) return true;
    return (await this.db.selectFrom('traits').select('name').where('subject_id', '=', subjectId).limit(1).executeTakeFirst()) !== undefined;
  }

  /** Erasure: the keys of these subjects; returns how many. */
  async deleteOfSubjects(subjectIds: readonly string[]): Promise<number> {
    let n = 0;
    for (let i = 0; i < subjectIds.length; i += CHUNK) {
      n += Number((await this.db.deleteFrom('visitor_keys').where('subject_id', 'in', subjectIds.slice(i, i + CHUNK)).executeTakeFirst()).numDeletedRows ?? 0);
    }
    return n;
  }
}
