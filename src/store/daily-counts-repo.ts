// The overview's daily counts (`daily_counts`, migration 0019): added to by the live debugger's writes, read by day range.
import type { Kysely } from 'kysely';
import type { DataDatabase, DailyCountsTable } from './schema.ts';
import { chunks } from './internal/batches.ts';
import { kyselyOf, type Handle } from './internal/scope.ts';

/** Rows per statement: four parameters each. */
const ROWS_PER_INSERT = 200;

export class DailyCountsRepo {
  private readonly db: Kysely<DataDatabase>;

  constructor(handle: Handle<DataDatabase>) {
    this.db = kyselyOf(handle);
  }

  /**
   * Adds counts (an existing row's count grows). Rows go in key order, so two processes adding to the same rows at once
   * lock them in the same order and cannot deadlock.
   */
  async add(rows: readonly DailyCountsTable[]): Promise<void> {
    const sorted = [...rows].sort((a, b) => compareKeys(keyOf(a), keyOf(b)));
    for (const part of chunks(sorted, ROWS_PER_INSERT)) {
      await this.db
        .insertInto('daily_counts')
        .values(part)
        .onConflict((oc) => oc.columns(['day', 'metric', 'key']).doUpdateSet((eb) => ({ count: eb(eb.ref('daily_counts.count'), '+', eb.ref('excluded.count')) })))
        .execute();
    }
  }

  /** Every row of the days from `first` to `last` (inclusive, `YYYY-MM-DD`). */
  async between(first: string, last: string): Promise<DailyCountsTable[]> {
    const rows = await this.db.selectFrom('daily_counts').selectAll().where('day', '>=', first).where('day', '<=', last).orderBy('day').orderBy('metric').orderBy('key').execute();
    // bigint comes back as a string from PostgreSQL.
    return rows.map((r) => ({ ...r, count: Number(r.count) }));
  }
}

const keyOf = (r: DailyCountsTable): string => `${r.day}\u0000${r.metric}\u0000${r.key}`;
const compareKeys = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
