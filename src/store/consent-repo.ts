// The append-only consent ledger.
import type { Kysely } from 'kysely';
import type { ConsentsTable, DataDatabase } from './schema.ts';

export class ConsentRepo {
  constructor(private readonly db: Kysely<DataDatabase>) {}

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

  byReceipt(receiptId: string): Promise<ConsentsTable[]> {
    return this.db.selectFrom('consents').selectAll().where('receipt_id', '=', receiptId).orderBy('id').execute();
  }

  /** Merge: the ledger rows follow the person (rows are moved, never edited otherwise). */
  async reassign(from: string, to: string): Promise<void> {
    await this.db.updateTable('consents').set({ subject_id: to }).where('subject_id', '=', from).execute();
  }
}
