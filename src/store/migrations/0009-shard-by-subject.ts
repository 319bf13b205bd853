// Primary keys that lead with subject_id, so that Citus can distribute each person's tables by it (src/store/sharding.ts).
import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from '../dialect.ts';

/** Tables keyed by a time-ordered `id` alone until now: their key becomes (subject_id, id). */
const KEYED_BY_ID = ['events', 'consents', 'objections', 'legal_holds', 'recipient_notifications'] as const;

/**
 * Citus refuses a primary key or unique index of a distributed table that lacks its distribution column. The ids stay
 * unique, so (subject_id, id) holds for every existing row and the new key is built over the rows as they are. Building
 * it holds the table for the time of one index build; on a large table an operator can build the index beforehand with
 * `CREATE UNIQUE INDEX CONCURRENTLY <table>_pk ON <table> (subject_id, id)` and this migration adopts it.
 *
 * SQLite is not sharded, and changing a primary key there means rebuilding the table: nothing changes on SQLite, where
 * no statement depends on the new keys (no ON CONFLICT names them).
 */
export function shardBySubject(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      if (dialect !== 'postgres') return;
      for (const table of KEYED_BY_ID) await replacePrimaryKey(db, table);
      // The old (subject_id, id) index of events is now the primary key's: one index less on the busiest table.
      await sql`drop index events_subject`.execute(db);
    },
  };
}

async function replacePrimaryKey(db: Kysely<unknown>, table: (typeof KEYED_BY_ID)[number]): Promise<void> {
  const name = `${table}_pk`;
  const old = await sql<{ conname: string }>`select conname from pg_constraint where conrelid = ${table}::regclass and contype = 'p'`.execute(db);
  const drop = old.rows[0] ? sql`drop constraint ${sql.id(old.rows[0].conname)}, ` : sql``;
  const prebuilt = await sql<{ columns: string[] }>`
    select array_agg(a.attname::text order by k.n) as columns
    from pg_index x
    cross join lateral unnest(x.indkey) with ordinality as k(attnum, n)
    join pg_attribute a on a.attrelid = x.indrelid and a.attnum = k.attnum
    where x.indexrelid = to_regclass(${name}) and x.indrelid = ${table}::regclass
    group by x.indexrelid`.execute(db);
  const columns = prebuilt.rows[0]?.columns;
  if (columns && columns.join() !== 'subject_id,id') {
    throw new Error(`index ${name} exists on (${columns.join(', ')}); the primary key needs (subject_id, id): drop it or rebuild it on those columns`);
  }
  // PostgreSQL checks that a prebuilt index is unique, valid and not partial before it becomes the key.
  const add = columns ? sql`add constraint ${sql.id(name)} primary key using index ${sql.id(name)}` : sql`add constraint ${sql.id(name)} primary key (subject_id, id)`;
  await sql`alter table ${sql.id(table)} ${drop}${add}`.execute(db);
}
