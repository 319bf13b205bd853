// Committed-state reads for the hot request paths (token lookups, profile snapshots), apart from Kysely's connection.
//
// On SQLite Kysely drives one connection through an async queue: a small indexed select waits its turn behind every
// transaction in flight and pays for the queue's promises, which cost more than the select. The reader runs its selects
// synchronously through better-sqlite3 instead: on that same connection when no transaction is open there, otherwise on
// a query-only second connection (see `sqliteReader`). Either way it sees only committed data and never waits for a
// transaction in flight; a read that overlaps one (an erasure, say) answers from the state before it, as PostgreSQL
// does. On PostgreSQL the pool already gives each query its own connection; the reader runs them there as named
// prepared statements (see `pgReader`).
import { createHash } from 'node:crypto';
import type SQLite from 'better-sqlite3';
import type pg from 'pg';
import type { CompiledQuery } from 'kysely';
import { dropOldest } from '../domain/drop-oldest.ts';

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
  readonly sqlite?: {
    read<T>(fn: (prepare: (text: string) => SQLite.Statement) => T): T;
    /** What earlier reads found, while nothing has changed it since (see `KeptRows`). */
    readonly kept: KeptRows;
  };
  /** Called once the schema is migrated (SQLite: installs what `KeptRows` needs to hear about changes). */
  migrated(): void;
  close(): void;
}

/**
 * SQLite: rows read about a subject, an identity or a token, kept until they change. Temporary triggers on the writer
 * connection call back into this process for every row written to the tables they come from (see `WATCHED`), so the
 * entry goes the moment the write happens, inside its transaction. Rows are kept only when they were read on the writer
 * connection with no transaction open (no write of this process pending that could commit after them), and everything
 * is dropped when another connection or process has committed (`PRAGMA data_version`), since its writes fire no
 * trigger here. Only what was found is kept: a miss is asked again.
 *
 * Keys: a subject id for the subject's row and its rows in other tables, `identityKey(kind, blindIndex)` for the
 * subject an identity points to, `tokenKey(hash)` for a token's row.
 */
export interface KeptRows {
  get(key: string, shape: string): unknown;
  /** Keeps `rows` if they are known to be current (see above); otherwise does nothing. */
  set(key: string, shape: string, rows: unknown): void;
}

export const identityKey = (kind: string, blindIndex: Buffer): string => `identity:${kind}:${blindIndex.toString('hex').toUpperCase()}`;
export const tokenKey = (hash: string): string => `token:${hash}`;

/**
 * The tables whose rows `KeptRows` keeps, and the key a written row drops (an SQL expression over the row, `r`),
 * matching the keys above (`hex` is upper case).
 */
const WATCHED: readonly (readonly [string, (r: string) => string])[] = [
  ['traits', (r) => `${r}.subject_id`],
  ['consents', (r) => `${r}.subject_id`],
  ['objections', (r) => `${r}.subject_id`],
  ['segment_members', (r) => `${r}.subject_id`],
  ['segment_states', (r) => `${r}.subject_id`],
  ['subjects', (r) => `${r}.id`],
  ['identities', (r) => `'identity:' || ${r}.kind || ':' || hex(${r}.blind_index)`],
  ['tokens', (r) => `'token:' || ${r}.token_hash`],
];

const STATEMENTS = 64;

type Prepare = (text: string) => SQLite.Statement;

/**
 * Statements of one connection, prepared once per SQL text (the most recent 64). Apart from the cache database.ts puts
 * on `prepare` (which Kysely's statements go through): reads here switch their statements to array or single-column
 * rows, and a statement shared with Kysely would then answer Kysely in that mode.
 */
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
export function sqliteReader(main: SQLite.Database, open: (file: string) => SQLite.Database, keepSubjects: number): Reader {
  if (!Number.isSafeInteger(keepSubjects) || keepSubjects < 0) throw new RangeError(`the read cache size must be a whole number ≥ 0 (FIDUCIA_READ_CACHE_SUBJECTS), not ${keepSubjects}`);
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

  const kept = new KeptRowsCache(main, onMain, keepSubjects);

  return {
    sqlite: {
      read<T>(fn: (p: Prepare) => T): T {
        return kept.whileReading(() => fn(prepare()));
      },
      kept,
    },
    rows<R>(q: CompiledQuery<R>): Promise<R[]> {
      try {
        return Promise.resolve(prepare()(q.sql).raw(false).all(q.parameters as unknown[]) as R[]);
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
    },
    migrated: () => kept.watch(),
    close: () => void side?.db.close(),
  };
}

/** `KeptRows` on SQLite (see there): the rows by key and shape, dropped by temporary triggers on `main`. */
class KeptRowsCache implements KeptRows {
  readonly #kept = new Map<string, Map<string, unknown>>();
  /** Room for `keepSubjects` subjects, each beside the identity it is read by (tokens are few). */
  readonly #keepEntries: number;
  #watching = false;
  #seenVersion: unknown;
  /** Set while a `read` runs, once it has checked `data_version` (nothing can commit until it returns). */
  #checked = false;

  constructor(
    private readonly main: SQLite.Database,
    private readonly onMain: Prepare,
    private readonly keepSubjects: number,
  ) {
    this.#keepEntries = 2 * keepSubjects;
    main.function('fiducia_rows_changed', (key: unknown) => {
      this.#kept.delete(String(key));
      return null;
    });
  }

  get(key: string, shape: string): unknown {
    return this.#current() ? this.#kept.get(key)?.get(shape) : undefined;
  }

  set(key: string, shape: string, rows: unknown): void {
    if (this.keepSubjects <= 0 || !this.#current()) return;
    let entry = this.#kept.get(key);
    if (!entry) {
      if (this.#kept.size >= this.#keepEntries) {
        dropOldest(this.#kept, this.#keepEntries / 10);
      }
      entry = new Map();
      this.#kept.set(key, entry);
    }
    entry.set(shape, rows);
  }

  /** Runs `body` (synchronous: nothing commits meanwhile) with one `data_version` check for everything it reads. */
  whileReading<T>(body: () => T): T {
    const outer = this.#checked;
    this.#checked = this.#current();
    try {
      return body();
    } finally {
      this.#checked = outer;
    }
  }

  /** Installs the triggers that drop what a write changes; nothing is kept before. */
  watch(): void {
    if (this.#watching || this.keepSubjects <= 0) return;
    const triggers: string[] = [];
    for (const [table, key] of WATCHED) {
      triggers.push(
        `create temp trigger if not exists fiducia_${table}_i after insert on main.${table} begin select fiducia_rows_changed(${key('new')}); end`,
        `create temp trigger if not exists fiducia_${table}_u after update on main.${table} begin select fiducia_rows_changed(${key('old')}); select fiducia_rows_changed(${key('new')}); end`,
        `create temp trigger if not exists fiducia_${table}_d after delete on main.${table} begin select fiducia_rows_changed(${key('old')}); end`,
      );
    }
    this.main.exec(triggers.join(';\n'));
    // So that a row deleted by a REPLACE conflict also fires its delete trigger (SQLite skips it otherwise).
    this.main.pragma('recursive_triggers = on');
    this.#seenVersion = this.onMain('pragma data_version').pluck(true).get();
    this.#watching = true;
  }

  /**
   * Whether what is kept may be used: drops everything once another connection has committed (its writes fired no
   * trigger here). Never while `main` has a transaction open: there `data_version` is frozen at the transaction's
   * snapshot, so another process's commit would go unseen (and asking it would start that snapshot early, which can
   * make the transaction's first write fail); the selects go to the side connection then, uncached.
   */
  #current(): boolean {
    if (this.main.inTransaction) return false;
    if (this.#checked) return true;
    if (!this.#watching) return false;
    const version = this.onMain('pragma data_version').pluck(true).get();
    if (version !== this.#seenVersion) {
      this.#kept.clear();
      this.#seenVersion = version;
    }
    return true;
  }
}

/**
 * PostgreSQL: the pool behind Kysely already reads in parallel, but Kysely sends every query unnamed, so the server
 * parses and plans it on each call; for the hot reads (a token, a profile snapshot of five unions) that planning cost
 * more than running them. Here each SQL text becomes a named prepared statement on each pooled connection (the name is
 * a hash of the text). Once a prepared plan no longer fits its table (a migration changed the columns meanwhile:
 * `cached plan must not change result type`), that text is sent unnamed from then on.
 */
export function pgReader(pool: pg.Pool): Reader {
  const names = new Map<string, string>();
  const nameOf = (text: string): string => {
    let name = names.get(text);
    if (!name) {
      if (names.size >= STATEMENTS) names.delete(names.keys().next().value!);
      name = `fiducia_read_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
      names.set(text, name);
    }
    return name;
  };
  const stale = new Set<string>();
  return {
    async rows<R>(q: CompiledQuery<R>): Promise<R[]> {
      const values = q.parameters as unknown[];
      if (stale.has(q.sql)) return (await pool.query<R & pg.QueryResultRow>(q.sql, values)).rows;
      try {
        return (await pool.query<R & pg.QueryResultRow>({ name: nameOf(q.sql), text: q.sql, values })).rows;
      } catch (err) {
        if ((err as { code?: unknown }).code !== '0A000') throw err;
        stale.add(q.sql);
        return (await pool.query<R & pg.QueryResultRow>(q.sql, values)).rows;
      }
    },
    migrated: () => undefined,
    close: () => undefined,
  };
}
