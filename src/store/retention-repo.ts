// Anonymous aggregates of deleted events (migration 0012): counts per day, purpose, event type and name, no subject.
import type { Kysely } from 'kysely';
import type { DataDatabase, RetentionAggregatesTable } from './schema.ts';
import { kyselyOf, type Handle } from './internal/scope.ts';

export class RetentionRepo {
  private readonly db: Kysely<DataDatabase>;

  constructor(handle: Handle<DataDatabase>) {
    this.db = kyselyOf(handle);
  }

  /** Adds counts to the aggregates (an existing row's count grows). Rows go in key order, so concurrent adds cannot deadlock. */
  async add(rows: readonly RetentionAggregatesTable[]): Promise<void> {
    const sorted = [...rows].sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
    for (let i = 0; i < sorted.length; i += 200) {
      await this.db
        .insertInto('retention_aggregates')
        .values(sorted.slice(i, i + 200))
        .onConflict((oc) => oc.columns(['day', 'purpose', 'type', 'event_name']).doUpdateSet((eb) => ({ count: eb(eb.ref('retention_aggregates.count'), '+', eb.ref('excluded.count')) })))
        .execute();
    }
  }

  /** Every aggregate row, in key order, up to `limit`. */
  list(limit: number): Promise<RetentionAggregatesTable[]> {
    return this.db.selectFrom('retention_aggregates').selectAll().orderBy('day').orderBy('purpose').orderBy('type').orderBy('event_name').limit(limit).execute();
  }
}

const keyOf = (r: RetentionAggregatesTable): string => `${r.day}\u0000${r.purpose}\u0000${r.type}\u0000${r.event_name}`;
