// Daily counts for the console's overview (docs/console.md, "Overview"): per UTC day, metric and key, how many messages
// collection stored, replayed or dropped and how many fields it dropped and why. Counts only: no subject, no value.
import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../dialect.ts';

export function dailyCounts(_dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('daily_counts')
        .addColumn('day', 'text', (c) => c.notNull())
        .addColumn('metric', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('count', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('daily_counts_pk', ['day', 'metric', 'key'])
        .execute();
    },
  };
}
