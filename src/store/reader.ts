// Committed-state reads for the hot request paths (token lookups, profile snapshots), apart from Kysely's connection.
//
// On SQLite Kysely drives one connection through an async queue: a small indexed select waits its turn behind every
// transaction in flight and pays for the queue's promises, which cost more than the select. The reader runs its selects
// synchronously through better-sqlite3 instead: on that same connection when no transaction is open there, otherwise on
// a query-only second connection (see `sqliteReader`). Either way it sees only committed data and never waits for a
// transaction in flight; a read that overlaps one (an erasure, say) answers from the state before it, as PostgreSQL
// does. On PostgreSQL the pool already gives each query its own connection, so the reader is the Kysely instance.
import type SQLite from 'better-sqlite3';
import type { CompiledQuery, Kysely } from 'kysely';

export interface Reader {
  /** Rows of a compiled select (compiled for this database's dialect), as of the last commit. */
  rows<R>(q: CompiledQuery<R>): Promise<R[]>;
  /**
   * SQLite only: several selects run synchronously, back to back, with statements prepared once per SQL text. No
   * transaction of this process can commit in between (nothing else runs meanwhile), so they see one state without
   * the cost of a read transaction around them (BEGIN and COMMIT cost as much as a small select). Another process on
   * the same file could (the CLI's segment rebuild writes memberships): the worst case is memberships a moment newer
   * than the rest.
   */
  readonly sqlite?: { read<T>(fn: (prepare: (text: string) => SQLite.Statement) => T): T };
  close(): void;
}

const STATEMENTS = 64;

type Prepare = (text: string) => SQLite.Statement;

/** Statements of one connection, prepared once per SQL text (the most recent 64). */
function statementsOf(db: SQLite.Database): Prepare {
  const statements = new Map<string, SQLite.Statement>();
  return (text) => {
    let stmt = statements.get(text);
    if (!stmt) {
      if (statements.size >= STATEMENTS) statements.delete(statements.keys().next().value!);
      stmt = db.prepare(text);
      statements.set(text, stmt);
    }
    return stmt;
  };
}

/**
 * Reads of committed state beside `main`, the connection Kysely writes through. When `main` has no transaction open
 * (between Kysely's statements nothing else runs on it, and these reads are synchronous), they run on `main` itself:
 * its page cache stays warm across its own commits. While a transaction is open there (a group commit waiting on
 * something), they go to a query-only connection of their own, which sees only what is committed. That connection's
 * cache is dropped whenever another connection commits, so it serves only the reads that would otherwise wait.
 */
export function sqliteReader(main: SQLite.Database, open: (file: string) => SQLite.Database): Reader {
  const onMain = statementsOf(main);
  let side: { db: SQLite.Database; prepare: Prepare } | undefined;
  const prepare = (): Prepare => {
    if (!main.inTransaction) return onMain;
    if (!side) {
      const db = open(main.name);
      db.pragma('query_only = 1');
      side = { db, prepare: statementsOf(db) };
    }
    return side.prepare;
  };
  return {
    sqlite: { read: <T>(fn: (p: Prepare) => T): T => fn(prepare()) },
    rows<R>(q: CompiledQuery<R>): Promise<R[]> {
      try {
        return Promise.resolve(prepare()(q.sql).raw(false).all(q.parameters as unknown[]) as R[]);
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
    },
    close: () => void side?.db.close(),
  };
}

/** PostgreSQL: the pool behind Kysely already reads in parallel. */
export function kyselyReader<DB>(db: Kysely<DB>): Reader {
  return {
    async rows<R>(q: CompiledQuery<R>): Promise<R[]> {
      return (await db.executeQuery(q)).rows;
    },
    close: () => undefined,
  };
}
