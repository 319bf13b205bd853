// Exfiltration detection: a token can be suspended (kept with the token, so every process refuses it and a restart
// does not lift it), and the windows of distinct subjects each principal read, shared by every process.
import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../dialect.ts';
import { columnTypes } from './types.ts';

export function exfiltration(dialect: Dialect): Migration {
  const t = columnTypes(dialect);
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('tokens').addColumn('suspended_at', t.time).execute();
      await db.schema.alterTable('tokens').addColumn('suspended_reason', 'text').execute();
      // One row per principal (token id, `user:<id>`), window length and time bucket: a distinct-count sketch of keyed
      // hashes of the subjects read (src/domain/distinct-sketch.ts), never a subject id. `bucket_start` -1 is the
      // principal's last alert for that window (a compare-and-set, so processes raise one alert, not one each).
      await db.schema
        .createTable('disclosure_windows')
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('window_seconds', 'integer', (c) => c.notNull())
        .addColumn('bucket_start', t.time, (c) => c.notNull())
        .addColumn('sketch', t.blob, (c) => c.notNull())
        .addColumn('updated_at', t.time, (c) => c.notNull())
        .addPrimaryKeyConstraint('disclosure_windows_pk', ['principal', 'window_seconds', 'bucket_start'])
        .execute();
      // The prune deletes old buckets of everyone.
      await db.schema.createIndex('disclosure_windows_age').on('disclosure_windows').columns(['bucket_start']).execute();
    },
  };
}
