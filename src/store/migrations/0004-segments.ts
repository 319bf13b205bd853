// Segments and computed traits: definitions, memberships, and each subject's encrypted aggregate state.
import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../dialect.ts';
import { columnTypes } from './types.ts';

export function segments(dialect: Dialect): Migration {
  const t = columnTypes(dialect);
  return {
    async up(db: Kysely<unknown>) {
      // Definitions from the configuration (origin `config`, synced at start) and from the API (origin `api`).
      await db.schema
        .createTable('segment_definitions')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('origin', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('purpose', 'text', (c) => c.notNull())
        .addColumn('definition', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('created_at', t.time, (c) => c.notNull())
        .addColumn('updated_at', t.time, (c) => c.notNull())
        // Hash of the definition when its memberships were last fully built; differs from `hash` until rebuilt.
        .addColumn('built_hash', 'text')
        .addColumn('built_at', t.time)
        .execute();
      // Membership is personal data too (pseudonymous): subject_id is the distribution column like everywhere else.
      await db.schema
        .createTable('segment_members')
        .addColumn('segment_id', 'text', (c) => c.notNull())
        .addColumn('subject_id', 'text', (c) => c.notNull())
        .addColumn('since', t.time, (c) => c.notNull())
        .addPrimaryKeyConstraint('segment_members_pk', ['segment_id', 'subject_id'])
        .execute();
      await db.schema.createIndex('segment_members_subject').on('segment_members').columns(['subject_id']).execute();
      // One ciphertext per subject (`segments:state` under its data key): the day buckets of every aggregate.
      await db.schema
        .createTable('segment_states')
        .addColumn('subject_id', 'text', (c) => c.primaryKey())
        .addColumn('state_enc', t.blob, (c) => c.notNull())
        .addColumn('updated_at', t.time, (c) => c.notNull())
        .execute();
      // Small shared facts between processes, e.g. the last day the decay refresh ran (a lease by compare-and-set).
      await db.schema
        .createTable('segment_meta')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
    },
  };
}
