// The keystore schema: KEK versions (salts and check values) and wrapped per-subject data keys.
import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../dialect.ts';
import { columnTypes } from './types.ts';

export function keystore(dialect: Dialect): Migration {
  const t = columnTypes(dialect);
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('kek_versions')
        .addColumn('version', 'integer', (c) => c.primaryKey())
        .addColumn('salt', t.blob, (c) => c.notNull())
        .addColumn('check_value', t.blob, (c) => c.notNull())
        .addColumn('created_at', t.time, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('data_keys')
        .addColumn('subject_id', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('kek_version', 'integer', (c) => c.notNull())
        .addColumn('wrapped', t.blob, (c) => c.notNull())
        .addColumn('created_at', t.time, (c) => c.notNull())
        .addPrimaryKeyConstraint('data_keys_pk', ['subject_id', 'version'])
        .execute();
      await db.schema.createIndex('data_keys_kek').on('data_keys').columns(['kek_version']).execute();
    },
  };
}
