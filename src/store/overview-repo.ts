// Counts for the console's overview that are read as they are now: people known, rights requests open and overdue.
// Counts only: no row of any person leaves this file.
import { sql, type Kysely } from 'kysely';
import { kyselyOf, type Handle } from './internal/scope.ts';
import type { DataDatabase } from './schema.ts';

/** Statuses of a request still to be answered (src/domain/rights.ts: not final). */
const OPEN = ['received', 'verified', 'in_progress'];

export interface OpenRightsCounts {
  /** Open requests whose sender was confirmed (staff-entered, or a self-service code entered). */
  open: number;
  /** Of those, the ones past their due date. */
  overdue: number;
  /** Open self-service requests whose sender has not entered the code yet. */
  awaitingConfirmation: number;
}

export class OverviewRepo {
  private readonly db: Kysely<DataDatabase>;

  constructor(handle: Handle<DataDatabase>) {
    this.db = kyselyOf(handle);
  }

  /** Profiles in use: neither merged into another nor erased. */
  async subjects(): Promise<number> {
    const row = await this.db
      .selectFrom('subjects')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('merged_into', 'is', null)
      .where('erased_at', 'is', null)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async openRights(now: number): Promise<OpenRightsCounts> {
    const row = await this.db
      .selectFrom('rights_requests')
      .select([
        sql<number | string | null>`sum(case when verified_at is not null then 1 else 0 end)`.as('open'),
        sql<number | string | null>`sum(case when verified_at is not null and due_at < ${now} then 1 else 0 end)`.as('overdue'),
        sql<number | string | null>`sum(case when verified_at is null then 1 else 0 end)`.as('unconfirmed'),
      ])
      .where('status', 'in', OPEN)
      .executeTakeFirst();
    return { open: Number(row?.open ?? 0), overdue: Number(row?.overdue ?? 0), awaitingConfirmation: Number(row?.unconfirmed ?? 0) };
  }
}
