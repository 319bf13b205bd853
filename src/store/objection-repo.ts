// Art. 21 objections to a purpose: the only repository that writes the `objections` table (in force while `lifted_at` is null).
import type { Kysely } from 'kysely';
import { uuidv7 } from '../domain/ids.ts';
import type { DataDatabase, ObjectionsTable } from './schema.ts';
import { kyselyOf, type Handle } from './internal/scope.ts';

const CHUNK = 400;

export class ObjectionRepo {
  private readonly db: Kysely<DataDatabase>;

  constructor(handle: Handle<DataDatabase>) {
    this.db = kyselyOf(handle);
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

  async lift(subjectId: string, purpose: string, at: number): Promise<void> {
    await this.db
      .updateTable('objections')
      .set({ lifted_at: at })
      .where('subject_id', '=', subjectId)
      .where('purpose', '=', purpose)
      .where('lifted_at', 'is', null)
      .execute();
  }

  /** Objections in force of these subjects. */
  async inForce(subjectIds: readonly string[]): Promise<{ subject_id: string; purpose: string }[]> {
    const out: { subject_id: string; purpose: string }[] = [];
    for (let i = 0; i < subjectIds.length; i += CHUNK) {
      out.push(...(await this.db.selectFrom('objections').select(['subject_id', 'purpose']).where('subject_id', 'in', subjectIds.slice(i, i + CHUNK)).where('lifted_at', 'is', null).execute()));
    }
    return out;
  }

  /** Merge: objections follow the person. */
  /** Merge: `from`'s objections become `to`'s, deleted and inserted rather than updated (see EventRepo.moveEvents). */
  async reassign(from: string, to: string): Promise<void> {
    const rows = await this.db.selectFrom('objections').selectAll().where('subject_id', '=', from).orderBy('id').execute();
    if (rows.length === 0) return;
    await this.db.deleteFrom('objections').where('subject_id', '=', from).execute();
    for (let i = 0; i < rows.length; i += 200) await this.db.insertInto('objections').values(rows.slice(i, i + 200).map((r) => ({ ...r, subject_id: to }))).execute();
  }

  /** Erasure: every objection of the subject, lifted or not; returns how many. */
  deleteOf(subjectId: string): Promise<number> {
    return this.deleteOfSubjects([subjectId]);
  }

  /** Erasure: every objection of these subjects, lifted or not; returns how many. */
  async deleteOfSubjects(subjectIds: readonly string[]): Promise<number> {
    let n = 0;
    for (let i = 0; i < subjectIds.length; i += CHUNK) {
      n += Number((await this.db.deleteFrom('objections').where('subject_id', 'in', subjectIds.slice(i, i + CHUNK)).executeTakeFirst()).numDeletedRows ?? 0);
    }
    return n;
  }
}
