// The background jobs' shared state: one row per job, holding its lease (who runs it, until when), when it is next due
// and how its last run went. Counts and error codes only: a job's record never holds a personal value.
import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../dialect.ts';
import { columnTypes } from './types.ts';

export function jobs(dialect: Dialect): Migration {
  const t = columnTypes(dialect);
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('jobs')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('lease_owner', 'text')
        .addColumn('lease_until', t.time)
        .addColumn('next_run_at', t.time)
        .addColumn('last_started_at', t.time)
        .addColumn('last_finished_at', t.time)
        .addColumn('last_duration_ms', t.time)
        .addColumn('last_outcome', 'text')
        .addColumn('last_counts', 'text')
        .addColumn('last_error', 'text')
        .execute();
    },
  };
}
