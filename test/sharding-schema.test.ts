// The PostgreSQL schema can be sharded by person (Citus): every table is placed, and no key Citus would refuse is left.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Migrator, sql, type Kysely } from 'kysely';
import pg from 'pg';
import { dropPgSchema, openDatabases, type Databases, type Dialect } from '../src/store/database.ts';
import { dataMigrationProvider } from '../src/store/migrations/index.ts';
import { DATA_TABLES, KEYSTORE_TABLES, citusStatements, type TablePlacement } from '../src/store/sharding.ts';
import { PG_URL, dialects, eachDialect, freshStore, type StoreHandle } from './helpers/harness.ts';

type Placements = Readonly<Record<string, TablePlacement>>;

// ---- the catalog, as far as Citus cares ----------------------------------------------------------

interface Column {
  type: string;
  notNull: boolean;
  /** The type has a default hash operator class (Citus hashes the distribution column with it). */
  hashable: boolean;
}

interface UniqueIndex {
  table: string;
  name: string;
  primary: boolean;
  /** Key columns in order; null for an expression. */
  columns: (string | null)[];
}

interface ForeignKey {
  table: string;
  name: string;
  columns: string[];
  refSchema: string;
  refTable: string;
  refColumns: string[];
}

interface Catalog {
  schema: string;
  tables: Map<string, Map<string, Column>>;
  /** Unique indexes (primary keys and unique constraints included) and exclusion constraints. */
  uniques: UniqueIndex[];
  foreignKeys: ForeignKey[];
}

async function readCatalog(client: pg.Client, schema: string): Promise<Catalog> {
  const tables = new Map<string, Map<string, Column>>();
  const cols = await client.query<{ table: string; column: string | null; type: string | null; not_null: boolean | null; hashable: boolean | null }>(
    `select c.relname as table, a.attname as column, format_type(a.atttypid, a.atttypmod) as type, a.attnotnull as not_null,
       exists (select 1 from pg_opclass oc join pg_am am on am.oid = oc.opcmethod
               where am.amname = 'hash' and oc.opcdefault and oc.opcintype = a.atttypid) as hashable
     from pg_class c
     join pg_namespace n on n.oid = c.relnamespace
     left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
     where n.nspname = $1 and c.relkind in ('r', 'p')`,
    [schema],
  );
  for (const r of cols.rows) {
    let t = tables.get(r.table);
    if (!t) tables.set(r.table, (t = new Map()));
    if (r.column) t.set(r.column, { type: r.type ?? '', notNull: r.not_null === true, hashable: r.hashable === true });
  }
  const uniques = await client.query<UniqueIndex>(
    `select c.relname as table, i.relname as name, x.indisprimary as primary,
       array(select a.attname::text
             from unnest(x.indkey::int2[]) with ordinality as k(attnum, n)
             left join pg_attribute a on a.attrelid = x.indrelid and a.attnum = k.attnum and k.attnum > 0
             where k.n <= x.indnkeyatts order by k.n) as columns
     from pg_index x
     join pg_class c on c.oid = x.indrelid
     join pg_class i on i.oid = x.indexrelid
     join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = $1 and (x.indisunique or x.indisexclusion)
     order by c.relname, i.relname`,
    [schema],
  );
  const fks = await client.query<ForeignKey>(
    `select c.relname as table, con.conname as name, rn.nspname as "refSchema", rc.relname as "refTable",
       array(select a.attname::text from unnest(con.conkey) with ordinality as k(attnum, n)
             join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.attnum order by k.n) as columns,
       array(select a.attname::text from unnest(con.confkey) with ordinality as k(attnum, n)
             join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.attnum order by k.n) as "refColumns"
     from pg_constraint con
     join pg_class c on c.oid = con.conrelid
     join pg_namespace n on n.oid = c.relnamespace
     join pg_class rc on rc.oid = con.confrelid
     join pg_namespace rn on rn.oid = rc.relnamespace
     where n.nspname = $1 and con.contype = 'f'
     order by c.relname, con.conname`,
    [schema],
  );
  return { schema, tables, uniques: uniques.rows, foreignKeys: fks.rows };
}

// ---- what Citus would refuse ----------------------------------------------------------------------

const distributed = (t: TablePlacement | undefined): boolean => t?.placement === 'subject' || t?.placement === 'lookup';

/** Tables distributed with the same group share shards: subject tables all together, lookup tables by `colocateWith`. */
function group(name: string, t: TablePlacement): string {
  return t.placement === 'subject' ? 'subject' : (t.colocateWith ?? name);
}

/**
 * Every way the catalog would stop `citusStatements(placements)` or break a rule of the placement, as sentences; and
 * the unique indexes Citus would refuse that `refusedByCitus` lists (kept on purpose).
 */
function citusProblems(catalog: Catalog, placements: Placements, listName: string): { problems: string[]; refused: string[] } {
  const problems: string[] = [];
  const refused: string[] = [];
  const at = (table: string) => `${catalog.schema}.${table}`;
  for (const table of [...catalog.tables.keys()].sort()) {
    if (!placements[table]) {
      problems.push(`${at(table)} is not placed: classify it in ${listName} in src/store/sharding.ts (subject, lookup, reference or coordinator) and say why`);
    }
  }
  let subjectType: { table: string; type: string } | undefined;
  for (const [table, t] of Object.entries(placements)) {
    const columns = catalog.tables.get(table);
    if (!columns) {
      problems.push(`${table} is placed in ${listName} (src/store/sharding.ts) but ${catalog.schema} has no such table`);
      continue;
    }
    if (!distributed(t)) {
      if (t.column || t.refusedByCitus || t.colocateWith) problems.push(`${table}: a ${t.placement} table has no distribution column, co-location or refused index`);
      continue;
    }
    const col = t.column ?? '';
    const c = columns.get(col);
    if (!c) {
      problems.push(`${table}: distribution column "${col}" is not a column of the table`);
      continue;
    }
    if (!c.notNull) problems.push(`${table}.${col} may be null: Citus refuses a row without a distribution value`);
    if (!c.hashable) problems.push(`${table}.${col} is ${c.type}, which has no default hash operator class to distribute by`);
    if (t.placement === 'subject') {
      if (col !== 'subject_id' && !(table === 'subjects' && col === 'id')) problems.push(`${table}: a subject table is distributed by subject_id (subjects by id), not ${col}`);
      if (!subjectType) subjectType = { table, type: c.type };
      else if (subjectType.type !== c.type) problems.push(`${table}.${col} is ${c.type} but ${subjectType.table}'s is ${subjectType.type}: co-located tables need one type`);
    }
    if (t.colocateWith) {
      const other = placements[t.colocateWith];
      const otherType = other?.column ? catalog.tables.get(t.colocateWith)?.get(other.column)?.type : undefined;
      if (other?.placement !== 'lookup' || other.colocateWith) problems.push(`${table}: colocateWith ${t.colocateWith} must name a lookup table that starts its own group`);
      else if (otherType !== c.type) problems.push(`${table}.${col} is ${c.type} but ${t.colocateWith}.${other.column} is ${otherType}: co-located tables need one type`);
    }
    const indexes = catalog.uniques.filter((u) => u.table === table);
    if (!indexes.some((u) => u.primary)) problems.push(`${table}: a distributed table here has a primary key, holding ${col}; this one has none`);
    for (const u of indexes) {
      if (u.columns.includes(col)) continue;
      const what = `${u.primary ? 'primary key' : 'unique index'} ${u.name} (${u.columns.map((x) => x ?? '<expression>').join(', ')})`;
      if (t.refusedByCitus?.[u.name]) refused.push(u.name);
      else problems.push(`${table}: ${what} lacks the distribution column ${col}: Citus refuses it`);
    }
    for (const name of Object.keys(t.refusedByCitus ?? {})) {
      if (!refused.includes(name)) problems.push(`${table}: ${name} is listed in refusedByCitus but is no unique index lacking ${col}: take it off the list`);
    }
  }
  for (const fk of catalog.foreignKeys) {
    const from = placements[fk.table];
    const to = fk.refSchema === catalog.schema ? placements[fk.refTable] : undefined;
    const what = `${fk.table}.${fk.name} (${fk.columns.join(', ')}) → ${fk.refTable} (${fk.refColumns.join(', ')})`;
    if (!from) continue;
    if (fk.refSchema !== catalog.schema) problems.push(`${what}: references another schema (${fk.refSchema})`);
    else if (!to) continue;
    else if (distributed(from) && distributed(to)) {
      const paired = fk.columns.some((c, i) => c === from.column && fk.refColumns[i] === to.column);
      if (group(fk.table, from) !== group(fk.refTable, to)) problems.push(`${what}: between distributed tables that are not co-located`);
      else if (!paired) problems.push(`${what}: a foreign key between distributed tables must pair ${from.column} with ${to.column}`);
    } else if (to.placement === 'reference') continue;
    else if (from.placement === 'reference') problems.push(`${what}: a reference table cannot reference a ${to.placement} table`);
    else if (from.placement !== to.placement) problems.push(`${what}: a ${from.placement} table cannot reference a ${to.placement} table`);
  }
  return { problems, refused };
}

// ---- the schema as migrations leave it --------------------------------------------------------------

async function withClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The data migrations in order, and the one before 0009. */
async function beforeSharding(dialect: Dialect): Promise<string> {
  const names = Object.keys(await dataMigrationProvider(dialect).getMigrations()).sort();
  const i = names.indexOf('0009_shard_by_subject');
  assert.ok(i > 0, `0009_shard_by_subject among ${names.join(', ')}`);
  return names[i - 1]!;
}

/** Migrates the data database only up to `name` (the rest stays for `dbs.migrate()`). */
async function migrateDataTo(dbs: Databases, store: StoreHandle, name: string): Promise<void> {
  const schema = store.options.schema;
  const migrator = new Migrator({ db: dbs.data as Kysely<unknown>, provider: dataMigrationProvider(dbs.dialect), ...(schema ? { migrationTableSchema: schema } : {}) });
  const { error } = await migrator.migrateTo(name);
  if (error) throw error;
}

/** The tables 0009 re-keys, in the order DATA_TABLES lists them. */
const KEYED_BY_ID = ['events', 'consents', 'objections', 'legal_holds', 'recipient_notifications'] as const;

const pgOnly = async () => (await dialects()).find((d) => d.dialect === 'postgres')?.skip ?? 'FIDUCIA_TEST_DIALECTS leaves PostgreSQL out';

describe('sharding by person: the PostgreSQL catalog', { skip: await pgOnly() }, () => {
  it('places every table of the data and the keystore schemas, and Citus would refuse none of their keys but the one listed', async () => {
    const store = freshStore('postgres');
    const dbs = await openDatabases(store.options);
    try {
      await dbs.migrate();
      await withClient(async (client) => {
        const data = citusProblems(await readCatalog(client, store.options.schema!), DATA_TABLES, 'DATA_TABLES');
        assert.deepEqual(data.problems, [], data.problems.join('\n'));
        assert.deepEqual(data.refused, ['identities_one_user_id'], 'the unique indexes Citus would refuse');
        const keys = citusProblems(await readCatalog(client, store.options.keysSchema!), KEYSTORE_TABLES, 'KEYSTORE_TABLES');
        assert.deepEqual(keys.problems, [], keys.problems.join('\n'));
        assert.deepEqual(keys.refused, [], 'nothing refused in the keystore');
      });
    } finally {
      await dbs.close();
      await store.cleanup();
    }
  });

  it('fails the schema as it was before 0009: five subject tables keyed by id alone', async () => {
    const store = freshStore('postgres');
    const dbs = await openDatabases(store.options);
    try {
      await migrateDataTo(dbs, store, await beforeSharding('postgres'));
      const { problems } = await withClient(async (client) => citusProblems(await readCatalog(client, store.options.schema!), DATA_TABLES, 'DATA_TABLES'));
      assert.deepEqual(
        problems,
        KEYED_BY_ID.map((t) => `${t}: primary key ${t}_pkey (id) lacks the distribution column subject_id: Citus refuses it`),
        problems.join('\n'),
      );
    } finally {
      await dbs.close();
      await store.cleanup();
    }
  });

  it('reports an unplaced table, keys without the distribution column and foreign keys Citus would refuse', async () => {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    await withClient(async (client) => {
      try {
        await client.query(`create schema ${schema}; set search_path to ${schema};
          create table subjects (id text primary key);
          create table notes (subject_id text not null, id text not null, body text, primary key (subject_id, id), unique (id));
          create table replies (subject_id text not null, id text not null, note_id text not null, primary key (subject_id, id),
            foreign key (subject_id, note_id) references notes (subject_id, id));
          create table strays (subject_id text not null, id text not null, note_id text, primary key (subject_id, id));
          alter table strays add foreign key (note_id) references notes (id);
          create unique index notes_body on notes (lower(body));
          create table tags (subject_id text, name text);
          create unique index tags_name on tags (subject_id, lower(name));
          create table kinds (name text primary key, subject_id text);
          alter table kinds add foreign key (subject_id, name) references notes (subject_id, id);
          create table later (id text primary key);`);
        const placements: Placements = {
          subjects: { placement: 'subject', column: 'id', why: 'the person' },
          notes: { placement: 'subject', column: 'subject_id', why: 'test' },
          replies: { placement: 'subject', column: 'subject_id', why: 'test' },
          strays: { placement: 'subject', column: 'subject_id', why: 'test' },
          tags: { placement: 'subject', column: 'subject_id', why: 'test' },
          kinds: { placement: 'reference', why: 'test' },
          gone: { placement: 'coordinator', why: 'test' },
        };
        const { problems } = citusProblems(await readCatalog(client, schema), placements, 'TEST_TABLES');
        assert.deepEqual(
          problems,
          [
            `${schema}.later is not placed: classify it in TEST_TABLES in src/store/sharding.ts (subject, lookup, reference or coordinator) and say why`,
            'notes: unique index notes_body (<expression>) lacks the distribution column subject_id: Citus refuses it',
            'notes: unique index notes_id_key (id) lacks the distribution column subject_id: Citus refuses it',
            'tags.subject_id may be null: Citus refuses a row without a distribution value',
            'tags: a distributed table here has a primary key, holding subject_id; this one has none',
            'gone is placed in TEST_TABLES (src/store/sharding.ts) but ' + schema + ' has no such table',
            'kinds.kinds_subject_id_name_fkey (subject_id, name) → notes (subject_id, id): a reference table cannot reference a subject table',
            'strays.strays_note_id_fkey (note_id) → notes (id): a foreign key between distributed tables must pair subject_id with subject_id',
          ],
          problems.join('\n'),
        );
      } finally {
        await dropPgSchema(PG_URL, schema);
      }
    });
  });
});

// ---- the migration on a populated database ----------------------------------------------------------

/** Two people's rows in each table 0009 re-keys, as the schema before it takes them. */
async function populate(db: Kysely<unknown>): Promise<void> {
  const blob = Buffer.from([1, 2, 3]);
  for (const [n, subject] of ['subject-a', 'subject-b'].entries()) {
    const id = (k: number) => `0190${n}${k}00-0000-7000-8000-00000000000${k}`;
    await sql`insert into subjects (id, created_at, updated_at) values (${subject}, ${n}, ${n})`.execute(db);
    for (let k = 0; k < 3; k++) {
      await sql`insert into events (id, subject_id, source_id, message_id, type, category, purposes, categories, timestamp, received_at, payload_enc)
        values (${id(k)}, ${subject}, 'src', ${`m-${n}-${k}`}, 'track', 'user.behavior', '[]', '[]', ${k}, ${k}, ${blob})`.execute(db);
      await sql`insert into consents (id, subject_id, purpose, status, notice_version, method, receipt_id, at)
        values (${id(k)}, ${subject}, 'analytics', 'granted', 'v1', 'api', ${`r-${n}`}, ${k})`.execute(db);
    }
    await sql`insert into objections (id, subject_id, purpose, at) values (${id(0)}, ${subject}, 'marketing', 1)`.execute(db);
    await sql`insert into legal_holds (id, subject_id, reason, set_by, set_at) values (${id(0)}, ${subject}, 'litigation', 'dpo', 1)`.execute(db);
    await sql`insert into recipient_notifications (id, subject_id, recipient, purposes, action, fields, created_at)
      values (${id(0)}, ${subject}, 'crm', '[]', 'erasure', '[]', 1)`.execute(db);
  }
}

async function snapshot(db: Kysely<unknown>): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const table of KEYED_BY_ID) out[table] = (await sql`select * from ${sql.table(table)} order by id, subject_id`.execute(db)).rows;
  return out;
}

/** Key columns of each table's primary key, and the name of the key (PostgreSQL). */
async function primaryKeys(db: Kysely<unknown>): Promise<Record<string, string>> {
  const rows = await sql<{ table: string; key: string }>`
    select c.relname as table, i.relname || ' (' || (select string_agg(a.attname, ', ' order by k.n) from unnest(x.indkey::int2[]) with ordinality as k(attnum, n)
      join pg_attribute a on a.attrelid = x.indrelid and a.attnum = k.attnum) || ')' as key
    from pg_index x join pg_class c on c.oid = x.indrelid join pg_class i on i.oid = x.indexrelid
    where x.indisprimary and c.relnamespace = current_schema()::regnamespace`.execute(db);
  return Object.fromEntries(rows.rows.filter((r) => (KEYED_BY_ID as readonly string[]).includes(r.table)).map((r) => [r.table, r.key]));
}

await eachDialect('migration 0009 on a populated database', (dialect) => {
  let store: StoreHandle;
  let dbs: Databases;
  before(async () => {
    store = freshStore(dialect);
    dbs = await openDatabases(store.options);
    await migrateDataTo(dbs, store, await beforeSharding(dialect));
  });
  after(async () => {
    await dbs.close();
    await store.cleanup();
  });

  it('keeps every row and, on PostgreSQL, keys them by (subject_id, id), adopting a key index built beforehand', async () => {
    const db = dbs.data as Kysely<unknown>;
    await populate(db);
    const rows = await snapshot(db);
    assert.equal(rows['events']!.length, 6, 'seeded');
    let prebuilt: string | undefined;
    if (dialect === 'postgres') {
      // An index on the wrong columns under the key's name stops the migration, which leaves nothing half done.
      await sql`create unique index legal_holds_pk on legal_holds (id)`.execute(db);
      await assert.rejects(dbs.migrate(), /legal_holds_pk exists on \(id\); the primary key needs \(subject_id, id\)/);
      await sql`drop index legal_holds_pk`.execute(db);
      assert.equal((await primaryKeys(db))['events'], 'events_pkey (id)', 'rolled back');
      // What an operator would build CONCURRENTLY on a large table before upgrading.
      await sql`create unique index consents_pk on consents (subject_id, id)`.execute(db);
      prebuilt = (await sql<{ oid: string }>`select 'consents_pk'::regclass::oid::text as oid`.execute(db)).rows[0]!.oid;
    }
    await dbs.migrate();
    assert.deepEqual(await snapshot(db), rows, 'every row as it was');
    if (dialect === 'postgres') {
      assert.deepEqual(await primaryKeys(db), Object.fromEntries(KEYED_BY_ID.map((t) => [t, `${t}_pk (subject_id, id)`])));
      const adopted = await sql<{ oid: string }>`select conindid::text as oid from pg_constraint where conname = 'consents_pk' and contype = 'p'`.execute(db);
      assert.equal(adopted.rows[0]?.oid, prebuilt, 'the prebuilt index became the key');
      const eventsSubject = await sql<{ n: string }>`select to_regclass('events_subject')::text as n`.execute(db);
      assert.equal(eventsSubject.rows[0]?.n, null, "events' (subject_id, id) index went: the key is the same index");
    }
  });
});

it('docs/architecture.md lists the statements an operator runs, as src/store/sharding.ts gives them', () => {
  const doc = readFileSync(new URL('../docs/architecture.md', import.meta.url), 'utf8');
  for (const statement of [...citusStatements(DATA_TABLES), ...citusStatements(KEYSTORE_TABLES)]) {
    assert.ok(doc.includes(statement), `docs/architecture.md should list: ${statement}`);
  }
});
