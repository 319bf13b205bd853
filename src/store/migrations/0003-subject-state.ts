// Subject state the use rule reads: explicit consent (Art. 9), restriction (Art. 18), objections (Art. 21), erasure markers.
import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../dialect.ts';
import { columnTypes } from './types.ts';

export function subjectState(dialect: Dialect): Migration {
  const t = columnTypes(dialect);
  return {
    async up(db: Kysely<unknown>) {
      // 0/1 on both databases, so the row type is the same whichever is underneath.
      await db.schema.alterTable('consents').addColumn('explicit', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable('subjects').addColumn('restricted_at', t.time).execute();
      await db.schema.alterTable('subjects').addColumn('erased_at', t.time).execute();
      // An objection is in force while lifted_at is null; rows are kept as the record of the request.
      await db.schema
        .createTable('objections')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('subject_id', 'text', (c) => c.notNull())
        .addColumn('purpose', 'text', (c) => c.notNull())
        .addColumn('at', t.time, (c) => c.notNull())
        .addColumn('lifted_at', t.time)
        .addColumn('request_id', 'text')
        .execute();
      await db.schema.createIndex('objections_subject').on('objections').columns(['subject_id', 'purpose']).execute();
    },
  };
}
