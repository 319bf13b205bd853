// Store-private: the Kysely instance behind a scope, and whether its database can lock rows. Only src/store/ imports
// this file (the boundary lint enforces it); everything else holds a `DataScope`/`KeyScope` and cannot run SQL with it.
import { PostgresAdapter, type Kysely } from 'kysely';
import type { RawData } from '../raw.ts';
import type { DataDatabase, KeysDatabase } from '../schema.ts';

interface Opened<DB> {
  db: Kysely<DB>;
  /**
   * The driver under the query builder, for the few hot paths that bypass it (src/store/raw.ts). A transaction's scope
   * keeps it: on SQLite it is the transaction's own (single) connection; PostgreSQL repositories use the pool only for
   * statements that are a transaction of their own.
   */
  raw: RawData | undefined;
}

const opened = new WeakMap<Scope<unknown>, Opened<unknown>>();

/**
 * A database, or one transaction on it, as services see it: something to hand to a repository or to run a unit of
 * work in. It carries no query builder and no dialect.
 */
export class Scope<DB> {
  /** Made by `scopeOf` only. */
  private constructor() {}

  /** Whether this scope is a transaction (a repository's writes commit with it). */
  get inTransaction(): boolean {
    return open(this).db.isTransaction;
  }

  /**
   * Runs `work` in one transaction: committed if it resolves, rolled back if it throws. Inside a transaction already,
   * `work` joins it (the outer unit of work commits or rolls back everything).
   */
  transaction<T>(work: (tx: Scope<DB>) => Promise<T>): Promise<T> {
    const o = open(this);
    if (o.db.isTransaction) return work(this);
    return o.db.transaction().execute((trx) => work(scopeOf(trx, o.raw)));
  }

  static make<DB>(db: Kysely<DB>, raw: RawData | undefined): Scope<DB> {
    const s = new Scope<DB>();
    opened.set(s as Scope<unknown>, { db, raw } as Opened<unknown>);
    return s;
  }
}

export type DataScope = Scope<DataDatabase>;
export type KeyScope = Scope<KeysDatabase>;

export function scopeOf<DB>(db: Kysely<DB>, raw: RawData | undefined): Scope<DB> {
  return Scope.make(db, raw);
}

function open<DB>(scope: Scope<DB>): Opened<DB> {
  const o = opened.get(scope as Scope<unknown>);
  if (!o) throw new TypeError('not a store scope');
  return o as Opened<DB>;
}

/** The query builder of a scope; repositories also accept a Kysely instance directly (tests, migrations). */
export function kyselyOf<DB>(handle: Scope<DB> | Kysely<DB>): Kysely<DB> {
  return handle instanceof Scope ? open(handle).db : handle;
}

/** The driver under a scope (undefined for a bare Kysely handle). */
export function rawOf<DB>(handle: Scope<DB> | Kysely<DB>): RawData | undefined {
  return handle instanceof Scope ? open(handle).raw : undefined;
}

/**
 * Whether `FOR UPDATE`/`FOR SHARE` exist: PostgreSQL, where several processes share the database. SQLite has one
 * writer at a time, so a write transaction already excludes the others.
 */
export function locksRows<DB>(handle: Scope<DB> | Kysely<DB>): boolean {
  return kyselyOf(handle).getExecutor().adapter instanceof PostgresAdapter;
}

/** A repository's handle: a scope, or (tests, migrations) a Kysely instance or transaction. */
export type Handle<DB> = Scope<DB> | Kysely<DB>;
