// Anonymous counts the retention sweep keeps of the events it deletes (when the configuration asks for them): per day,
// purpose, event type and name. No subject id, no identifier, no payload: nothing in it is personal.
import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../dialect.ts';

export function retentionAggregates(_dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('retention_aggregates')
        .addColumn('day', 'text', (c) => c.notNull())
        .addColumn('purpose', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('event_name', 'text', (c) => c.notNull())
        .addColumn('count', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('retention_aggregates_pk', ['day', 'purpose', 'type', 'event_name'])
        .execute();
    },
  };
}
