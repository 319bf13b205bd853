// The breach register (GDPR Art. 33(5)): each breach's facts and status, the append-only history of its changes, and the
// people it concerns by subject id. No personal value is stored: free texts describe the breach, not anyone in it.
import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../dialect.ts';
import { columnTypes } from './types.ts';

export function breaches(dialect: Dialect): Migration {
  const t = columnTypes(dialect);
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('breaches')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('nature', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('categories', 'text', (c) => c.notNull())
        .addColumn('approx_subjects', t.time)
        .addColumn('approx_records', t.time)
        .addColumn('consequences', 'text')
        .addColumn('measures_taken', 'text')
        .addColumn('measures_proposed', 'text')
        .addColumn('advice', 'text')
        .addColumn('encryption', 'text', (c) => c.notNull())
        .addColumn('contact', 'text', (c) => c.notNull())
        .addColumn('aware_at', t.time, (c) => c.notNull())
        .addColumn('occurred_at', t.time)
        .addColumn('due_at', t.time, (c) => c.notNull())
        .addColumn('authority_notified_at', t.time)
        .addColumn('authority_reference', 'text')
        .addColumn('delay_reason', 'text')
        .addColumn('not_required_reason', 'text')
        .addColumn('subjects_notified', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('subjects_notified_at', t.time)
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', t.time, (c) => c.notNull())
        .addColumn('updated_at', t.time, (c) => c.notNull())
        .addColumn('closed_at', t.time)
        .execute();
      // The register's listing: open breaches by deadline first.
      await db.schema.createIndex('breaches_status_due').on('breaches').columns(['status', 'due_at']).execute();
      await db.schema
        .createTable('breach_history')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('breach_id', 'text', (c) => c.notNull())
        .addColumn('at', t.time, (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('fields', 'text', (c) => c.notNull())
        .addColumn('previous', 'text')
        .addColumn('note', 'text')
        .execute();
      await db.schema.createIndex('breach_history_breach').on('breach_history').columns(['breach_id', 'id']).execute();
      await db.schema
        .createTable('breach_subjects')
        .addColumn('breach_id', 'text', (c) => c.notNull())
        .addColumn('subject_id', 'text', (c) => c.notNull())
        .addColumn('added_at', t.time, (c) => c.notNull())
        .addColumn('notified_at', t.time)
        .addColumn('outcome', 'text')
        .addPrimaryKeyConstraint('breach_subjects_pk', ['breach_id', 'subject_id'])
        .execute();
    },
  };
}
