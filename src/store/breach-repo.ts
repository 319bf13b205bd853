// The breach register: breaches, the append-only history of their changes, and the people each one concerns.
import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
import { chunks } from './internal/batches.ts';
import { kyselyOf, locksRows, type Handle } from './internal/scope.ts';
import type { BreachHistoryTable, BreachSubjectsTable, BreachesTable, DataDatabase } from './schema.ts';

export interface BreachQuery {
  status?: string | undefined;
  limit: number;
  offset: number;
}

/** Times and counts as numbers (PostgreSQL returns bigint columns as text). */
function numbers(row: BreachesTable): BreachesTable {
  const n = (v: number | null) => (v === null ? null : Number(v));
  return {
    ...row,
    approx_subjects: n(row.approx_subjects),
    approx_records: n(row.approx_records),
    aware_at: Number(row.aware_at),
    occurred_at: n(row.occurred_at),
    due_at: Number(row.due_at),
    authority_notified_at: n(row.authority_notified_at),
    subjects_notified: Number(row.subjects_notified),
    subjects_notified_at: n(row.subjects_notified_at),
    created_at: Number(row.created_at),
    updated_at: Number(row.updated_at),
    closed_at: n(row.closed_at),
  };
}

export class BreachRepo {
  private readonly db: Kysely<DataDatabase>;

  constructor(handle: Handle<DataDatabase>) {
    this.db = kyselyOf(handle);
  }

  async insert(row: BreachesTable): Promise<void> {
    await this.db.insertInto('breaches').values(row).execute();
  }

  async get(id: string): Promise<BreachesTable | undefined> {
    const row = await this.db.selectFrom('breaches').selectAll().where('id', '=', id).executeTakeFirst();
    return row && numbers(row);
  }

  /** Reads a breach and, on PostgreSQL, locks it for the rest of the transaction. */
  async lock(id: string): Promise<BreachesTable | undefined> {
    const q = this.db.selectFrom('breaches').selectAll().where('id', '=', id);
    const row = await (locksRows(this.db) ? q.forUpdate() : q).executeTakeFirst();
    return row && numbers(row);
  }

  async update(id: string, patch: Partial<Omit<BreachesTable, 'id'>>): Promise<void> {
    await this.db.updateTable('breaches').set(patch).where('id', '=', id).execute();
  }

  /** Open breaches first, nearest (or most overdue) deadline first; then the others, newest first. */
  async list(q: BreachQuery): Promise<BreachesTable[]> {
    let s = this.db.selectFrom('breaches').selectAll();
    if (q.status) s = s.where('status', '=', q.status);
    const rows = await s
      .orderBy(sql`case when status = 'open' then 0 else 1 end`)
      .orderBy(sql`case when status = 'open' then due_at else 0 - created_at end`)
      .orderBy('id', 'desc')
      .limit(q.limit)
      .offset(q.offset)
      .execute();
    return rows.map(numbers);
  }

  // ---- history ----

  async appendHistory(row: BreachHistoryTable): Promise<void> {
    await this.db.insertInto('breach_history').values(row).execute();
  }

  async history(breachId: string): Promise<BreachHistoryTable[]> {
    const rows = await this.db.selectFrom('breach_history').selectAll().where('breach_id', '=', breachId).orderBy('id').execute();
    return rows.map((r) => ({ ...r, at: Number(r.at) }));
  }

  // ---- the people concerned ----

  /** Adds these subjects to a breach (those already there are kept as they are); how many were new. */
  async addSubjects(breachId: string, subjectIds: readonly string[], at: number): Promise<number> {
    let added = 0;
    for (const part of chunks(subjectIds)) {
      const r = await this.db
        .insertInto('breach_subjects')
        .values(part.map((subject_id) => ({ breach_id: breachId, subject_id, added_at: at, notified_at: null, outcome: null })))
        .onConflict((oc) => oc.columns(['breach_id', 'subject_id']).doNothing())
        .executeTakeFirst();
      added += Number(r.numInsertedOrUpdatedRows ?? 0);
    }
    return added;
  }

  /**
   * Claims up to `limit` subjects of a breach not told yet (in id order after `after`), and those whose claim is older
   * than `staleBefore` (the sender stopped): each is marked `sending`, and only the rows this call changed are
   * returned, so two senders never tell the same person twice. `last`: the last candidate, to page on from (null: none left).
   */
  async claimSubjects(breachId: string, after: string | null, limit: number, now: number, staleBefore: number): Promise<{ claimed: string[]; last: string | null }> {
    const due = (eb: ExpressionBuilder<DataDatabase, 'breach_subjects'>) =>
      eb.or([eb('notified_at', 'is', null), eb.and([eb('outcome', '=', 'sending'), eb('notified_at', '<', staleBefore)])]);
    let q = this.db.selectFrom('breach_subjects').select('subject_id').where('breach_id', '=', breachId).where(due);
    if (after !== null) q = q.where('subject_id', '>', after);
    const candidates = (await q.orderBy('subject_id').limit(limit).execute()).map((r) => r.subject_id);
    if (candidates.length === 0) return { claimed: [], last: null };
    const claimed = await this.db
      .updateTable('breach_subjects')
      .set({ notified_at: now, outcome: 'sending' })
      .where('breach_id', '=', breachId)
      .where('subject_id', 'in', candidates)
      .where(due)
      .returning('subject_id')
      .execute();
    const mine = new Set(claimed.map((r) => r.subject_id));
    return { claimed: candidates.filter((c) => mine.has(c)), last: candidates[candidates.length - 1]! };
  }

  /** Records the notice's outcome for each of these subjects. */
  async markSubjects(breachId: string, outcomes: readonly { subjectId: string; outcome: string }[], at: number): Promise<void> {
    const byOutcome = new Map<string, string[]>();
    for (const o of outcomes) byOutcome.set(o.outcome, [...(byOutcome.get(o.outcome) ?? []), o.subjectId]);
    for (const [outcome, ids] of byOutcome) {
      for (const part of chunks(ids)) {
        await this.db.updateTable('breach_subjects').set({ notified_at: at, outcome }).where('breach_id', '=', breachId).where('subject_id', 'in', part).execute();
      }
    }
  }

  /** How many subjects a breach names, by notice outcome (`pending` for those not tried). */
  async subjectCounts(breachId: string): Promise<Record<string, number>> {
    const rows = await this.db
      .selectFrom('breach_subjects')
      .select((eb) => ['outcome', eb.fn.countAll<string | number>().as('n')])
      .where('breach_id', '=', breachId)
      .groupBy('outcome')
      .execute();
    const out: Record<string, number> = {};
    for (const r of rows) out[r.outcome ?? 'pending'] = Number(r.n);
    return out;
  }

  async countSubjects(breachId: string): Promise<number> {
    const r = await this.db.selectFrom('breach_subjects').select((eb) => eb.fn.countAll<string | number>().as('n')).where('breach_id', '=', breachId).executeTakeFirstOrThrow();
    return Number(r.n);
  }
}

export type { BreachHistoryTable, BreachSubjectsTable, BreachesTable };
