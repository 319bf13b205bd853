// The PostgreSQL schema can be sharded by person (Citus): every table is placed, and no key Citus would refuse is left.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Migrator, sql, type Kysely } from 'kysely';
import pg from 'pg';
import { dropPgSchema, openDatabases, type Databases, type Dialect } from '../src/store/database.ts';
import { dataMigrationProvider } from '../src/store/migrations/index.ts';
import { DATA_TABLES, KEYSTORE_TABLES, citusStatements } from '../src/store/sharding.ts';
import { citusProblems, readCatalog, type Placements } from './helpers/citus-catalog.ts';
import { PG_URL, dialects, eachDialect, freshStore, type StoreHandle } from './helpers/harness.ts';

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
        assert.deepEqual(data.refused, [], 'no unique index Citus would refuse');
        const keys = citusProblems(await readCatalog(client, store.options.keysSchema!), KEYSTORE_TABLES, 'KEYSTORE_TABLES');
        assert.deepEqual(keys.problems, [], keys.problems.join('\n'));
        assert.deepEqual(keys.refused, [], 'nothing refused in the keystore');
      });
    } finally {
      await dbs.close();
      await store.cleanup();
    }
  });

  it('fails the schema as it was before 0009: five subject tables keyed by id alone, and one userId per subject kept by an index on identities', async () => {
    const store = freshStore('postgres');
    const dbs = await openDatabases(store.options);
    try {
      await migrateDataTo(dbs, store, await beforeSharding('postgres'));
      const { problems } = await withClient(async (client) => citusProblems(await readCatalog(client, store.options.schema!), DATA_TABLES, 'DATA_TABLES'));
      assert.deepEqual(
        problems,
        [
          ...KEYED_BY_ID.map((t) => `${t}: primary key ${t}_pkey (id) lacks the distribution column subject_id: Citus refuses it`),
          'identities: unique index identities_one_user_id (subject_id) lacks the distribution column blind_index: Citus refuses it',
          // Tables of later migrations are not there yet.
          ...['subject_user_ids', 'retention_aggregates', 'deliveries', 'breaches', 'breach_history', 'breach_subjects', 'disclosure_windows', 'debugger_events', 'console_users', 'console_sessions', 'visitor_keys', 'daily_counts', 'jobs'].map((t) => `${t} is placed in DATA_TABLES (src/store/sharding.ts) but ${store.options.schema!} has no such table`),
        ],
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
      const adopted = await sql<{ oid: string }>`select conindid::text as oid from pg_constraint where conname = 'consents_pk' and contype = 'p' and connamespace = current_schema()::regnamespace`.execute(db);
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
