// The destinations' outbox: one row per message owed to a destination (an event, an identify, an Art. 19 notice),
// written in the transaction that stored what it refers to. A row holds references, counts and error codes, never a
// value: the payload is read, filtered by the policy and built when it is sent. A notice's identifiers (the person is
// erased by then) are the one exception, encrypted under a key of the notice's own that is destroyed once delivered.
import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from '../dialect.ts';
import { columnTypes } from './types.ts';

export function deliveries(dialect: Dialect): Migration {
  const t = columnTypes(dialect);
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('deliveries')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('destination_id', 'text', (c) => c.notNull())
        .addColumn('subject_id', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('ref', 'text', (c) => c.notNull())
        .addColumn('secret_enc', t.blob)
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_attempt_at', t.time, (c) => c.notNull())
        .addColumn('lease_owner', 'text')
        .addColumn('lease_until', t.time)
        .addColumn('last_status', 'integer')
        .addColumn('last_error', 'text')
        .addColumn('created_at', t.time, (c) => c.notNull())
        .addColumn('finished_at', t.time)
        .execute();
      // Due rows, oldest first; pending ones are few beside the delivered history.
      const pending = sql<boolean>`status = 'pending'`;
      await db.schema.createIndex('deliveries_due').on('deliveries').columns(['next_attempt_at', 'id']).where(pending).execute();
      // One queue per destination and person: a row waits while an earlier one of the same queue is pending.
      await db.schema.createIndex('deliveries_queue').on('deliveries').columns(['destination_id', 'subject_id', 'id']).execute();
      // The deliveries listing, newest first, per destination and status.
      await db.schema.createIndex('deliveries_listing').on('deliveries').columns(['destination_id', 'status', 'id']).execute();
    },
  };
}
