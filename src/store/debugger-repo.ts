// The live debugger's shared buffer (`debugger_events`): per source, the newest rows kept, the older pruned.
import type { Kysely } from 'kysely';
import type { DataDatabase, DebuggerEventsTable } from './schema.ts';
import { chunks } from './internal/batches.ts';
import { kyselyOf, type Handle } from './internal/scope.ts';

/** Rows per statement: nine parameters each, well under either database's limit. */
const ROWS_PER_INSERT = 200;

export class DebuggerRepo {
  private readonly db: Kysely<DataDatabase>;

  constructor(handle: Handle<DataDatabase>) {
    this.db = kyselyOf(handle);
  }

  async insert(rows: readonly DebuggerEventsTable[]): Promise<void> {
    for (const part of chunks(rows, ROWS_PER_INSERT)) await this.db.insertInto('debugger_events').values(part).execute();
  }

  /** Deletes a source's rows older than its `keep` newest (by id, which is time-ordered). */
  async prune(sourceId: string, keep: number): Promise<void> {
    await this.db
      .deleteFrom('debugger_events')
      .where('source_id', '=', sourceId)
      .where('id', '<', (eb) => eb.selectFrom('debugger_events').select('id').where('source_id', '=', sourceId).orderBy('id', 'desc').limit(1).offset(keep - 1))
      .execute();
  }

  /** A source's newest rows, newest first; with `after`, only those with a larger id. */
  newest(sourceId: string, limit: number, after?: string): Promise<DebuggerEventsTable[]> {
    let q = this.db.selectFrom('debugger_events').selectAll().where('source_id', '=', sourceId);
    if (after !== undefined) q = q.where('id', '>', after);
    return q.orderBy('id', 'desc').limit(limit).execute();
  }

  /** How many rows a source holds (tests and the prune's checks). */
  async count(sourceId: string): Promise<number> {
    const row = await this.db.selectFrom('debugger_events').select((eb) => eb.fn.countAll<number | string>().as('n')).where('source_id', '=', sourceId).executeTakeFirstOrThrow();
    return Number(row.n);
  }
}
