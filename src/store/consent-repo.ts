// The append-only consent ledger: the only repository that writes the `consents` table.
import type { Kysely } from 'kysely';
import type { ConsentsTable, DataDatabase } from './schema.ts';
import { chunks } from './internal/batches.ts';
import { kyselyOf, type Handle } from './internal/scope.ts';

export class ConsentRepo {
  private readonly db: Kysely<DataDatabase>;

  constructor(handle: Handle<DataDatabase>) {
    this.db = kyselyOf(handle);
  }

  async append(rows: readonly ConsentsTable[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 200) {
      await this.db.insertInto('consents').values(rows.slice(i, i + 200)).execute();
    }
  }

  /** Every ledger row of these subjects, oldest first. */
  async ledgerOf(subjectIds: readonly string[]): Promise<ConsentsTable[]> {
    const out: ConsentsTable[] = [];
    for (let i = 0; i < subjectIds.length; i += 400) {
      const part = subjectIds.slice(i, i + 400);
      out.push(...(await this.db.selectFrom('consents').selectAll().where('subject_id', 'in', part).orderBy('id').execute()));
    }
    return out;
  }

  /** What the use rule reads of these subjects' ledgers, oldest first (the last row per purpose is in force). */
  async stateRows(subjectIds: readonly string[]): Promise<Pick<ConsentsTable, 'id' | 'subject_id' | 'purpose' | 'status' | 'notice_version' | 'method' | 'at' | 'explicit'>[]> {
    const out = [];
    for (let i = 0; i < subjectIds.length; i += 400) {
      const part = subjectIds.slice(i, i + 400);
      out.push(
        ...(await this.db
          .selectFrom('consents')
          .select(['id', 'subject_id', 'purpose', 'status', 'notice_version', 'method', 'at', 'explicit'])
          .where('subject_id', 'in', part)
          .orderBy('id')
          .execute()),
      );
    }
    return out;
  }

  byReceipt(receiptId: string): Promise<ConsentsTable[]> {
    return this.db.selectFrom('consents').selectAll().where('receipt_id', '=', receiptId).orderBy('id').execute();
  }

  /**
   * Erasure: the ledger stays as pseudonymous proof of lawful processing, minus the proof fields that could help
   * re-link it to a browser (hashed user agent, truncated IP). Returns how many rows lost them.
   */
  stripProofs(subjectId: string): Promise<number> {
    return this.stripProofsOfSubjects([subjectId]);
  }

  /** `stripProofs` for several subjects (in parts of 500); how many rows lost them. */
  async stripProofsOfSubjects(subjectIds: readonly string[]): Promise<number> {
    let n = 0;
    for (const part of chunks(subjectIds)) {
      const r = await this.db
        .updateTable('consents')
        .set({ ua_hash: null, ip_truncated: null })
        .where('subject_id', 'in', part)
        .where((eb) => eb.or([eb('ua_hash', 'is not', null), eb('ip_truncated', 'is not', null)]))
        .executeTakeFirst();
      n += Number(r.numUpdatedRows ?? 0);
    }
    return n;
  }

  /** Merge: the ledger rows follow the person (rows are moved, never edited otherwise). */
  /** Merge: the ledger of `from` joins `to`'s, deleted and inserted rather than updated (see EventRepo.moveEvents). */
  async reassign(from: string, to: string): Promise<void> {
    const rows = await this.db.selectFrom('consents').selectAll().where('subject_id', '=', from).orderBy('id').execute();
    if (rows.length === 0) return;
    await this.db.deleteFrom('consents').where('subject_id', '=', from).execute();
    for (let i = 0; i < rows.length; i += 200) await this.db.insertInto('consents').values(rows.slice(i, i + 200).map((r) => ({ ...r, subject_id: to }))).execute();
  }
}
