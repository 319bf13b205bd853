// The drivers under Kysely, for the few bulk paths where Kysely's per-row objects cost more than the work, and the
// connections a worker thread opens for itself. Kept light (the drivers are imported only when a connection is opened):
// a worker thread loads this module, not Kysely.
import type SQLite from 'better-sqlite3';
import type pg from 'pg';

export type RawData = { dialect: 'sqlite'; db: SQLite.Database } | { dialect: 'postgres'; pool: pg.Pool; url: string; schema: string };

/** How another thread opens its own connection to the data database (a plain object: it crosses to workers). */
export type RawTarget = { dialect: 'sqlite'; file: string } | { dialect: 'postgres'; url: string; schema: string };

export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function rawTarget(raw: RawData): RawTarget {
  return raw.dialect === 'sqlite' ? { dialect: 'sqlite', file: raw.db.name } : { dialect: 'postgres', url: raw.url, schema: raw.schema };
}

/** A PostgreSQL pool on one schema, reading int8 (bigint) columns as numbers (epoch milliseconds, indices). */
export function pgPool(driver: typeof pg, url: string, schema: string, max = 8): pg.Pool {
  if (!SCHEMA_NAME.test(schema)) throw new Error(`invalid PostgreSQL schema name "${schema}"`);
  return new driver.Pool({
    connectionString: url,
    max,
    options: `-c search_path=${schema}`,
    // int8 (bigint) columns hold epoch milliseconds: well inside Number's exact range.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === 20 ? (v: string) => Number(v) : driver.types.getTypeParser(oid, format)) as typeof driver.types.getTypeParser,
    },
  });
}

/** A read-only connection of its own, for a worker thread. */
export async function openRaw(target: RawTarget): Promise<RawData & { close(): Promise<void> }> {
  if (target.dialect === 'sqlite') {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(target.file, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    return { dialect: 'sqlite', db, close: async () => void db.close() };
  }
  const { default: driver } = await import('pg');
  const pool = pgPool(driver, target.url, target.schema, 2);
  return { dialect: 'postgres', pool, url: target.url, schema: target.schema, close: () => pool.end() };
}
