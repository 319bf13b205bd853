// Opens the data database and the keystore (SQLite files or PostgreSQL schemas) and runs their migrations.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresAdapter, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import type { DataDatabase, KeysDatabase } from './schema.ts';
import type { Dialect } from './dialect.ts';
import { privateDir, privateFile, privateIfExists } from './file-modes.ts';
import { dataMigrationProvider, keyMigrationProvider } from './migrations/index.ts';
import { pgPool, SCHEMA_NAME, type RawData } from './raw.ts';
import { pgReader, sqliteReader, type Reader } from './reader.ts';
import { scopeOf, type DataScope, type KeyScope } from './internal/scope.ts';

export type { RawData, RawTarget } from './raw.ts';

export type { Dialect } from './dialect.ts';

export interface StoreOptions {
  /** Folder of `fiducia.db` and `keys.db` on SQLite. */
  dataDir: string;
  /** `postgres://…` switches both databases to PostgreSQL. */
  databaseUrl?: string | undefined;
  /** Keystore on another PostgreSQL database; default: schema `keysSchema` of `databaseUrl`. */
  keysDatabaseUrl?: string | undefined;
  /** PostgreSQL schema of the data (default `public`). */
  schema?: string | undefined;
  /** PostgreSQL schema of the keystore (default `fiducia_keys`). */
  keysSchema?: string | undefined;
  /**
   * Subjects whose decrypted trait values profile reads keep in memory for at most five minutes, and (SQLite) whose
   * rows they keep until the subject changes (`FIDUCIA_READ_CACHE_SUBJECTS`, default 10,000; 0 turns both off): see
   * src/services/profiles/plaintext-cache.ts and src/store/reader.ts.
   */
  readCacheSubjects?: number | undefined;
}

export interface Databases {
  /** The data database as services see it: a scope for repositories and units of work (src/store/scope.ts). */
  store: DataScope;
  /** The keystore, likewise. */
  keyStore: KeyScope;
  /** Which database, for messages and the record of processing: `sqlite` or `postgres`. Nothing branches on it outside src/store/. */
  dialect: Dialect;
  /** Where the data is, for the start message: `data in <folder>` (SQLite) or `schema <name>` (PostgreSQL). */
  location: string;
  /** Whether the database lives inside this process (SQLite: the one-command quick start), not on a server. */
  embedded: boolean;
  raw: RawData;
  /** The query builders under the scopes: for src/store/ and tests only (services never get them). */
  data: Kysely<DataDatabase>;
  /** Committed-state selects of the hot request paths (src/store/reader.ts). */
  reader: Reader;
  keys: Kysely<KeysDatabase>;
  migrate(): Promise<void>;
  /** Liveness of the storage: throws when the data or the key database does not answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}


/** How long a SQLite statement waits for another process's lock (it blocks the event loop meanwhile). */
export const BUSY_TIMEOUT_MS = 5000;

const SIDE_FILES = ['-wal', '-shm', '-journal'] as const;

/** The dialect under a Kysely instance or transaction: repositories whose statements differ per database ask it. */
export function dialectOf(db: Kysely<unknown> | Kysely<DataDatabase> | Kysely<KeysDatabase>): Dialect {
  return (db as Kysely<unknown>).getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

function openSqlite(file: string): SQLite.Database {
  // 0600 before SQLite opens it: SQLite gives the -wal, -shm and -journal files it creates the database file's mode.
  privateFile(file);
  for (const suffix of SIDE_FILES) privateIfExists(`${file}${suffix}`);
  const db = new SQLite(file);
  db.pragma('journal_mode = WAL');
  // Deleted rows are overwritten with zeros, in the page and in freed pages: a destroyed key or an erased person's
  // ciphertext does not linger in free space once the WAL is checkpointed (docs/architecture.md, "Keys").
  db.pragma('secure_delete = ON');
  // FULL: a commit is on disk before we acknowledge it (an acknowledged write is durable).
  db.pragma('synchronous = FULL');
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.pragma('cache_size = -65536');
  // Copy the WAL back every ~40 MB instead of SQLite's 4 MB: a page changed by many commits in between (the index pages
  // of busy tables) is written back once. Audit appends gain most, their subject index being the dominant cost (figures
  // in docs/performance.md, "Audit log").
  db.pragma('wal_autocheckpoint = 10000');
  cacheStatements(db);
  for (const suffix of SIDE_FILES) privateIfExists(`${file}${suffix}`);
  return db;
}

const STATEMENT_CACHE = 256;

/**
 * Kysely's SQLite driver prepares every statement it runs; preparing costs as much as running a small indexed
 * query. Statements are reusable (and re-prepare themselves after a schema change), so keep the recent ones.
 */
function cacheStatements(db: SQLite.Database): void {
  const cache = new Map<string, SQLite.Statement>();
  const prepare = db.prepare.bind(db);
  db.prepare = ((source: string) => {
    let stmt = cache.get(source);
    if (stmt) {
      // Most recently used last, so the oldest is first in line for eviction.
      cache.delete(source);
    } else {
      stmt = prepare(source);
      if (cache.size >= STATEMENT_CACHE) cache.delete(cache.keys().next().value!);
    }
    cache.set(source, stmt);
    return stmt;
  }) as SQLite.Database['prepare'];
}

async function ensureSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  } catch (err) {
    // Two instances starting at once may race on CREATE SCHEMA; the loser sees a unique violation.
    if ((err as { code?: string }).code !== '23505') throw err;
  } finally {
    await client.end();
  }
}

async function pgHasMigrations(url: string, schema: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query("select 1 from information_schema.tables where table_schema = $1 and table_name = 'kysely_migration'", [schema]);
    return (r.rowCount ?? 0) > 0;
  } finally {
    await client.end();
  }
}

/**
 * What is missing for these options to name an existing store (SQLite files, or migrated PostgreSQL schemas), or null
 * when both databases are there. Creates nothing: the maintenance commands ask before `openDatabases` would create them.
 */
export async function missingStore(opts: StoreOptions): Promise<string | null> {
  if (opts.databaseUrl) {
    const schema = opts.schema ?? 'public';
    const keysSchema = opts.keysSchema ?? 'fiducia_keys';
    const missing = [];
    if (!(await pgHasMigrations(opts.databaseUrl, schema))) missing.push(`schema ${schema}`);
    if (!(await pgHasMigrations(opts.keysDatabaseUrl ?? opts.databaseUrl, keysSchema))) missing.push(`keystore schema ${keysSchema}`);
    return missing.length ? `no Fiducia data in PostgreSQL (${missing.join(', ')}: no tables of Fiducia's)` : null;
  }
  const missing = ['fiducia.db', 'keys.db'].filter((f) => !existsSync(join(opts.dataDir, f)));
  return missing.length ? `no Fiducia data in ${opts.dataDir} (${missing.join(' and ')} not found)` : null;
}

export async function openDatabases(opts: StoreOptions): Promise<Databases> {
  if (opts.databaseUrl) {
    const schema = opts.schema ?? 'public';
    const keysSchema = opts.keysSchema ?? 'fiducia_keys';
    const keysUrl = opts.keysDatabaseUrl ?? opts.databaseUrl;
    if (keysUrl === opts.databaseUrl && keysSchema === schema) {
      throw new Error('the keystore must live apart from the data: use another schema or database');
    }
    await ensureSchema(opts.databaseUrl, schema);
    await ensureSchema(keysUrl, keysSchema);
    const pool = pgPool(pg, opts.databaseUrl, schema);
    const data = new Kysely<DataDatabase>({ dialect: new PostgresDialect({ pool }) });
    const keys = new Kysely<KeysDatabase>({ dialect: new PostgresDialect({ pool: pgPool(pg, keysUrl, keysSchema) }) });
    return build({ dialect: 'postgres', pool, url: opts.databaseUrl, schema }, data, pgReader(pool), keys, schema, keysSchema, `schema ${schema}`);
  }
  privateDir(opts.dataDir);
  const file = openSqlite(join(opts.dataDir, 'fiducia.db'));
  const data = new Kysely<DataDatabase>({ dialect: new SqliteDialect({ database: file }) });
  const keys = new Kysely<KeysDatabase>({
    dialect: new SqliteDialect({ database: openSqlite(join(opts.dataDir, 'keys.db')) }),
  });
  return build({ dialect: 'sqlite', db: file }, data, sqliteReader(file, openSqlite, opts.readCacheSubjects ?? 10_000), keys, undefined, undefined, `data in ${opts.dataDir}`);
}

function build(
  raw: RawData,
  data: Kysely<DataDatabase>,
  reader: Reader,
  keys: Kysely<KeysDatabase>,
  schema: string | undefined,
  keysSchema: string | undefined,
  location: string,
): Databases {
  const dialect = raw.dialect;
  return {
    store: scopeOf(data, raw),
    keyStore: scopeOf(keys, undefined),
    dialect,
    location,
    embedded: dialect === 'sqlite',
    raw,
    data,
    reader,
    keys,
    async migrate() {
      for (const [db, provider, tableSchema] of [
        [keys as Kysely<unknown>, keyMigrationProvider(dialect), keysSchema],
        [data as Kysely<unknown>, dataMigrationProvider(dialect), schema],
      ] as const) {
        const migrator = new Migrator({
          db,
          provider,
          ...(tableSchema ? { migrationTableSchema: tableSchema } : {}),
        });
        let { error, results } = await migrator.migrateToLatest();
        // Kysely's introspection reads every schema of the database; another process dropping an unrelated
        // schema at that instant fails it with 3F000 (invalid_schema_name). Nothing was applied: try again.
        for (let attempt = 1; error && (error as { code?: string }).code === '3F000' && attempt < 5; attempt++) {
          await new Promise((r) => setTimeout(r, 50 * attempt));
          ({ error, results } = await migrator.migrateToLatest());
        }
        if (error) {
          const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
          throw new Error(`migration ${failed} failed: ${String(error)}`);
        }
      }
      reader.migrated();
    },
    async ping() {
      await sql`select 1`.execute(data);
      await sql`select 1`.execute(keys);
    },
    async close() {
      reader.close();
      await data.destroy();
      await keys.destroy();
    },
  };
}

/** Drops a PostgreSQL schema and everything in it (tests only). */
export async function dropPgSchema(url: string, schema: string): Promise<void> {
  if (!SCHEMA_NAME.test(schema)) throw new Error(`invalid schema name "${schema}"`);
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }) });
  try {
    await sql`DROP SCHEMA IF EXISTS ${sql.id(schema)} CASCADE`.execute(db);
  } finally {
    await db.destroy();
  }
}
