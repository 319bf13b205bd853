// The live debugger (docs/debugger.md): per source, the last few hundred messages as field names and reason codes,
// never a value and never an id of a person; shared by every process, pruned to a fixed number of rows per source.
import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../dialect.ts';
import { columnTypes } from './types.ts';

export function debuggerEvents(dialect: Dialect): Migration {
  const t = columnTypes(dialect);
  return {
    async up(db: Kysely<unknown>) {
      // `id` is a uuidv7 (time-ordered): the polling cursor, and what the prune keeps the newest of.
      await db.schema
        .createTable('debugger_events')
        .addColumn('source_id', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('received_at', t.time, (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('event_name', 'text')
        .addColumn('message_id', 'text', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('reason', 'text')
        // JSON text: {identity, stored, dropped, omitted} (src/domain/debugger-entry.ts); names and codes only.
        .addColumn('details', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('debugger_events_pk', ['source_id', 'id'])
        .execute();
    },
  };
}
