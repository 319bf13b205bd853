// Aggregate counts for the public transparency page: rights requests, consent decisions, notified breaches. No row
// of any person leaves this file, only counts and one median.
import { sql, type Kysely } from 'kysely';
import { kyselyOf, type Handle } from './internal/scope.ts';
import type { DataDatabase } from './schema.ts';

export interface RightsCountRow {
  type: string;
  /** Requests whose sender was confirmed (staff-entered, or a self-service code entered). */
  received: number;
  /** Of those, the ones closed (completed or rejected). */
  answered: number;
}

export interface ConsentCountRow {
  purpose: string;
  /** People whose latest ledger row for the purpose exists. */
  decided: number;
  /** Of those, the ones whose latest row is a grant. */
  granted: number;
}

const ANSWERED = ['completed', 'rejected'];

export class TransparencyRepo {
  private readonly db: Kysely<DataDatabase>;

  constructor(handle: Handle<DataDatabase>) {
    this.db = kyselyOf(handle);
  }

  /**
   * Confirmed requests per type. Self-service requests nobody confirmed (a stranger can start those by the hundred)
   * are left out: they never became requests anyone had to answer.
   */
  async rightsByType(): Promise<RightsCountRow[]> {
    const rows = await this.db
      .selectFrom('rights_requests')
      .select((eb) => [
        'type',
        eb.fn.countAll().as('received'),
        sql<number>`sum(case when status in (${sql.join(ANSWERED)}) then 1 else 0 end)`.as('answered'),
      ])
      .where('verified_at', 'is not', null)
      .groupBy('type')
      .execute();
    return rows.map((r) => ({ type: r.type, received: Number(r.received), answered: Number(r.answered ?? 0) }));
  }

  /** How many confirmed requests (of one type, or all) were answered, and the median time from receipt to answer. */
  async answerTimes(type?: string): Promise<{ answered: number; medianMs: number | null }> {
    let base = this.db
      .selectFrom('rights_requests')
      .where('verified_at', 'is not', null)
      .where('status', 'in', ANSWERED)
      .where('closed_at', 'is not', null);
    if (type !== undefined) base = base.where('type', '=', type);
    const counted = await base.select((eb) => eb.fn.countAll().as('n')).executeTakeFirst();
    const answered = Number(counted?.n ?? 0);
    if (answered === 0) return { answered, medianMs: null };
    // The middle one or two durations, found by the database (both dialects): no list of requests is read.
    const middle = await base
      .select(sql<number>`closed_at - received_at`.as('ms'))
      .orderBy(sql`closed_at - received_at`)
      .limit(answered % 2 === 1 ? 1 : 2)
      .offset(Math.floor((answered - 1) / 2))
      .execute();
    const values = middle.map((r) => Number(r.ms));
    const medianMs = values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
    return { answered, medianMs };
  }

  /** Per purpose, the people whose latest ledger row (the one in force) exists, and how many of those rows are grants. */
  async consentDecisions(purposes: readonly string[]): Promise<ConsentCountRow[]> {
    if (purposes.length === 0) return [];
    const rows = await this.db
      .selectFrom('consents as c')
      .select((eb) => [
        'c.purpose',
        eb.fn.countAll().as('decided'),
        sql<number>`sum(case when c.status = 'granted' then 1 else 0 end)`.as('granted'),
      ])
      .where('c.purpose', 'in', purposes)
      // The latest row per (subject, purpose) is the one no later row follows; the (subject_id, purpose, id) index answers it.
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('consents as d')
              .select(sql`1`.as('one'))
              .whereRef('d.subject_id', '=', 'c.subject_id')
              .whereRef('d.purpose', '=', 'c.purpose')
              .whereRef('d.id', '>', 'c.id'),
          ),
        ),
      )
      .groupBy('c.purpose')
      .execute();
    return rows.map((r) => ({ purpose: r.purpose, decided: Number(r.decided), granted: Number(r.granted ?? 0) }));
  }

  /** Breaches notified to the supervisory authority. */
  async notifiedBreaches(): Promise<number> {
    const row = await this.db
      .selectFrom('breaches')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('authority_notified_at', 'is not', null)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }
}
