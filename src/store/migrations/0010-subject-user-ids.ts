// One userId per subject, kept where Citus can enforce it: a table keyed by subject_id (distributed with `subjects`)
// instead of a partial unique index on `identities`, which is distributed by blind index (docs/architecture.md,
// "Sharding by person").
import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from '../dialect.ts';
import { columnTypes } from './types.ts';

export function subjectUserIds(dialect: Dialect): Migration {
  const t = columnTypes(dialect);
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('subject_user_ids')
        .addColumn('subject_id', 'text', (c) => c.notNull())
        .addColumn('blind_index', t.blob, (c) => c.notNull())
        .addPrimaryKeyConstraint('subject_user_ids_pk', ['subject_id'])
        .execute();
      // Every subject's userId link, as the unique index allowed (at most one each): the insert cannot conflict.
      await sql`insert into subject_user_ids (subject_id, blind_index) select subject_id, blind_index from identities where kind = 'userId'`.execute(db);
      await db.schema.dropIndex('identities_one_user_id').execute();
    },
  };
}
