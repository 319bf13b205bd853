// The orphan-key sweep's bookkeeping: keys are found by creation time, and each instance resumes where the last sweep stopped.
import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../dialect.ts';
import { columnTypes } from './types.ts';

export function orphanSweep(dialect: Dialect): Migration {
  const t = columnTypes(dialect);
  return {
    async up(db: Kysely<unknown>) {
      // The sweep reads only the keys created since its last run: a range on created_at, not a scan of every key.
      await db.schema.createIndex('data_keys_created').on('data_keys').columns(['created_at']).execute();
      // One row per sweep (`orphan_keys`): keys created up to `checked_until` have been checked once and for all.
      await db.schema
        .createTable('key_sweeps')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('checked_until', t.time, (c) => c.notNull())
        .execute();
    },
  };
}
