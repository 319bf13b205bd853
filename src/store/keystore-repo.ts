// The keystore: KEK versions (salts and check values, never the KEK itself) and wrapped per-subject data keys.
import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type Kysely } from 'kysely';
import { BUSY_TIMEOUT_MS, dialectOf, type Dialect } from './database.ts';
import type { DataDatabase, DataKeysTable, KekVersionsTable, KeysDatabase } from './schema.ts';
import { kyselyOf, type Handle } from './internal/scope.ts';
import { InvariantError } from '../domain/errors.ts';

/**
 * Orders deletions against purges: a purge given a mark covers every deletion that returned that mark or a smaller
 * one. On PostgreSQL it is the id (xid8) of the deleting transaction; on SQLite a counter of this process.
 */
export type PurgeMark = bigint;

/** The keystore still holds, or may hold, bytes of deleted keys and could not be cleared now: try again later. */
export class KeystorePurgeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeystorePurgeError';
  }
}

export interface PurgeOptions {
  /** How long to keep trying (another process's read or transaction holding the old rows). */
  waitMs?: number;
}

const PURGE_WAIT_MS = 10_000;
/** A checkpoint's own wait for another process's lock: short, since SQLite waits synchronously, stalling the event loop. */
const CHECKPOINT_BUSY_MS = 100;

export class KeystoreRepo {
  readonly #dialect: Dialect | undefined;
  #deletions: PurgeMark = 0n;

  private readonly db: Kysely<KeysDatabase>;

  constructor(handle: Handle<KeysDatabase>) {
    this.db = kyselyOf(handle);
    this.#dialect = dialectOf(this.db);
  }

  kekVersions(): Promise<KekVersionsTable[]> {
    return this.db.selectFrom('kek_versions').selectAll().orderBy('version').execute();
  }

  async maxKekVersion(): Promise<number> {
    const r = await this.db.selectFrom('kek_versions').select((eb) => eb.fn.max('version').as('v')).executeTakeFirst();
    return Number(r?.v ?? 0);
  }

  async insertKekVersion(row: KekVersionsTable): Promise<void> {
    await this.db.insertInto('kek_versions').values(row).execute();
  }

  /** The newest data key of each subject. */
  async currentDataKeys(subjectIds: readonly string[]): Promise<DataKeysTable[]> {
    if (subjectIds.length === 0) return [];
    const rows: DataKeysTable[] = [];
    for (let i = 0; i < subjectIds.length; i += 500) {
      const chunk = subjectIds.slice(i, i + 500);
      rows.push(...(await this.db.selectFrom('data_keys').selectAll().where('subject_id', 'in', chunk).execute()));
    }
    const newest = new Map<string, DataKeysTable>();
    for (const r of rows) {
      const prev = newest.get(r.subject_id);
      if (!prev || prev.version < r.version) newest.set(r.subject_id, r);
    }
    return [...newest.values()];
  }

  dataKey(subjectId: string, version: number): Promise<DataKeysTable | undefined> {
    return this.db
      .selectFrom('data_keys')
      .selectAll()
      .where('subject_id', '=', subjectId)
      .where('version', '=', version)
      .executeTakeFirst();
  }

  /** One transaction for all rows: one commit (one fsync on SQLite), not one per chunk. */
  async insertDataKeys(rows: readonly DataKeysTable[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      for (let i = 0; i < rows.length; i += 200) {
        await trx.insertInto('data_keys').values(rows.slice(i, i + 200)).execute();
      }
    });
  }

  /** How many keys are not yet wrapped by `kekVersion` (a rotation's total, for its progress). */
  async countStaleDataKeys(kekVersion: number): Promise<number> {
    const r = await this.db.selectFrom('data_keys').select((eb) => eb.fn.countAll<number>().as('n')).where('kek_version', '<>', kekVersion).executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  /** A page of keys not yet wrapped by `kekVersion`, for rotation. */
  staleDataKeys(kekVersion: number, limit: number): Promise<DataKeysTable[]> {
    return this.db
      .selectFrom('data_keys')
      .selectAll()
      .where('kek_version', '<>', kekVersion)
      .orderBy('subject_id')
      .orderBy('version')
      .limit(limit)
      .execute();
  }

  async rewrap(rows: readonly Pick<DataKeysTable, 'subject_id' | 'version' | 'kek_version' | 'wrapped'>[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      for (const r of rows) {
        await trx
          .updateTable('data_keys')
          .set({ kek_version: r.kek_version, wrapped: r.wrapped })
          .where('subject_id', '=', r.subject_id)
          .where('version', '=', r.version)
          .execute();
      }
    });
  }

  async countByKekVersion(): Promise<Map<number, number>> {
    const rows = await this.db
      .selectFrom('data_keys')
      .select(['kek_version', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('kek_version')
      .execute();
    return new Map(rows.map((r) => [Number(r.kek_version), Number(r.n)]));
  }

  /** Deletes the subject's keys; pass `mark` to `purgeDeleted` to make sure no copy of them is left behind. */
  async deleteSubjectKeys(subjectId: string): Promise<{ deleted: number; mark: PurgeMark }> {
    if (this.#dialect === 'postgres') {
      // One statement: the deleting transaction's id comes back with the count (it is given one even if nothing was
      // deleted, so that a repeated destruction still marks a point after the first one).
      const r = await sql<{ deleted: number; xid: string }>`
        WITH d AS (DELETE FROM data_keys WHERE subject_id = ${subjectId} RETURNING 1)
        SELECT count(*)::int AS deleted, pg_current_xact_id()::text AS xid FROM d`.execute(this.db);
      const row = r.rows[0]!;
      return { deleted: Number(row.deleted), mark: BigInt(row.xid) };
    }
    const res = await this.db.deleteFrom('data_keys').where('subject_id', '=', subjectId).executeTakeFirst();
    return { deleted: Number(res.numDeletedRows), mark: ++this.#deletions };
  }

  /**
   * Deletes every key of these ids in one statement (keys made for a group commit that rolled back); like
   * `deleteSubjectKeys`, the mark lets `purgeDeleted` clear the old bytes.
   */
  async deleteKeysOf(ids: readonly string[]): Promise<{ deleted: number; mark: PurgeMark }> {
    if (ids.length === 0) return { deleted: 0, mark: await this.mark() };
    if (this.#dialect === 'postgres') {
      const r = await sql<{ deleted: number; xid: string }>`
        WITH d AS (DELETE FROM data_keys WHERE subject_id = ANY(${[...ids]}::text[]) RETURNING 1)
        SELECT count(*)::int AS deleted, pg_current_xact_id()::text AS xid FROM d`.execute(this.db);
      const row = r.rows[0]!;
      return { deleted: Number(row.deleted), mark: BigInt(row.xid) };
    }
    let deleted = 0;
    await this.db.transaction().execute(async (trx) => {
      for (let i = 0; i < ids.length; i += 500) {
        const res = await trx.deleteFrom('data_keys').where('subject_id', 'in', ids.slice(i, i + 500)).executeTakeFirst();
        deleted += Number(res.numDeletedRows);
      }
    });
    return { deleted, mark: ++this.#deletions };
  }

  /** Up to `limit` (id, creation time) of keys created after `from` (by time, then id) and no later than `upTo`. */
  async keysCreatedBetween(from: { at: number; id: string }, upTo: number, limit: number): Promise<{ subject_id: string; created_at: number }[]> {
    const rows = await this.db
      .selectFrom('data_keys')
      .select(['subject_id', 'created_at'])
      .where((eb) => eb.or([eb('created_at', '>', from.at), eb.and([eb('created_at', '=', from.at), eb('subject_id', '>', from.id)])]))
      .where('created_at', '<=', upTo)
      .orderBy('created_at')
      .orderBy('subject_id')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ subject_id: r.subject_id, created_at: Number(r.created_at) }));
  }

  /** Where the sweep `name` stopped (epoch ms; 0 before its first run). */
  async checkedUntil(name: string): Promise<number> {
    const r = await this.db.selectFrom('key_sweeps').select('checked_until').where('name', '=', name).executeTakeFirst();
    return Number(r?.checked_until ?? 0);
  }

  /** Moves the sweep's mark forward, never back (two instances may sweep at once). */
  async setCheckedUntil(name: string, at: number): Promise<void> {
    await this.db
      .insertInto('key_sweeps')
      .values({ name, checked_until: at })
      .onConflict((oc) =>
        oc.column('name').doUpdateSet({ checked_until: at }).where('key_sweeps.checked_until', '<', at),
      )
      .execute();
  }

  /** A mark after every change made so far (a rotation's rewraps, say). */
  async mark(): Promise<PurgeMark> {
    if (this.#dialect !== 'postgres') return ++this.#deletions;
    const r = await sql<{ xid: string }>`SELECT pg_current_xact_id()::text AS xid`.execute(this.db);
    return BigInt(r.rows[0]!.xid);
  }

  /**
   * Makes sure the keystore's files (SQLite) or pages (PostgreSQL) hold no row deleted or replaced up to `mark`, or
   * throws `KeystorePurgeError`. What this covers and what it cannot: docs/architecture.md, "What an erasure can promise".
   *
   * SQLite (`secure_delete` on): a TRUNCATE checkpoint writes the pages, with the deleted cells zeroed, into the file
   * and empties the WAL, whose older frames held the rows as they were. It cannot finish while another connection
   * reads an older snapshot; it is retried, briefly.
   *
   * PostgreSQL: a deleted row stays in its page, dead, until VACUUM removes it, and VACUUM keeps it while any
   * transaction could still see it. So this waits until no session of the database holds a snapshot or a
   * transaction from before `mark` (nor a prepared transaction or a replication slot), then vacuums the table.
   * Must not be called inside a transaction of the same database that began before `mark`: it would wait for itself.
   */
  async purgeDeleted(mark: PurgeMark, opts: PurgeOptions = {}): Promise<void> {
    const deadline = Date.now() + (opts.waitMs ?? PURGE_WAIT_MS);
    if (this.#dialect === 'sqlite') return this.#checkpoint(deadline);
    if (this.#dialect !== 'postgres') throw new InvariantError('KeystoreRepo needs a keystore opened by openDatabases');
    for (let pause = 20; ; pause = Math.min(pause * 2, 500)) {
      if ((await this.#holders(mark)) === 0) break;
      if (Date.now() + pause > deadline) throw new KeystorePurgeError('a transaction that may still see destroyed keys is open: the keystore cannot be vacuumed yet');
      await sleep(pause);
    }
    // Outside any transaction block (VACUUM refuses one): Kysely sends a lone statement on a pool connection.
    await sql`VACUUM ${sql.table('data_keys')}`.execute(this.db);
  }

  /** Sessions, prepared transactions and slots that keep VACUUM from removing rows deleted by transaction `mark`. */
  async #holders(mark: PurgeMark): Promise<number> {
    // xid8 → xid for pg_stat_activity's 32-bit ids; age() compares them across wraparound (older = larger age).
    const m = sql`age(xid(${mark.toString()}::xid8))`;
    const r = await sql<{ n: number }>`
      SELECT (
        (SELECT count(*) FROM pg_stat_activity
          WHERE pid <> pg_backend_pid() AND (datname = current_database() OR datname IS NULL)
            AND (age(backend_xmin) >= ${m} OR age(backend_xid) >= ${m}))
        + (SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database() AND age(transaction) >= ${m})
        + (SELECT count(*) FROM pg_replication_slots WHERE age(xmin) >= ${m})
        + (CASE WHEN ${m} < coalesce(nullif(current_setting('vacuum_defer_cleanup_age', true), '')::int, 0) THEN 1 ELSE 0 END)
      )::int AS n`.execute(this.db);
    return r.rows[0]!.n;
  }

  async #checkpoint(deadline: number): Promise<void> {
    for (let pause = 20; ; pause = Math.min(pause * 2, 500)) {
      // One connection for the three statements, so no other keystore statement runs with the short timeout.
      const busy = await this.db.connection().execute(async (conn) => {
        await sql`PRAGMA busy_timeout = ${sql.lit(CHECKPOINT_BUSY_MS)}`.execute(conn);
        try {
          const r = await sql<{ busy: number }>`PRAGMA wal_checkpoint(TRUNCATE)`.execute(conn);
          return r.rows[0]?.busy !== 0;
        } catch (err) {
          if ((err as { code?: string }).code === 'SQLITE_BUSY') return true;
          throw err;
        } finally {
          await sql`PRAGMA busy_timeout = ${sql.lit(BUSY_TIMEOUT_MS)}`.execute(conn);
        }
      });
      if (!busy) return;
      if (Date.now() + pause > deadline) throw new KeystorePurgeError('another connection is reading keys.db: its WAL cannot be emptied yet');
      await sleep(pause);
    }
  }
}

/**
 * When the oldest transaction still open on the data database began (epoch ms by the database's clock), or null when
 * there is none or it cannot be known (SQLite: a transaction of another process is invisible; this process's own are
 * serialized with the caller's statements on the one connection). A key made for a data transaction is younger than
 * the transaction, so keys older than this cannot belong to one still in flight.
 */
export async function oldestOpenDataTransaction(handle: Handle<DataDatabase>): Promise<number | null> {
  const data = kyselyOf(handle);
  if (dialectOf(data) !== 'postgres') return null;
  const r = await sql<{ at: number | null }>`
    SELECT (extract(epoch FROM min(xact_start)) * 1000)::bigint AS at FROM pg_stat_activity
    WHERE pid <> pg_backend_pid() AND datname = current_database() AND xact_start IS NOT NULL`.execute(data);
  const at = r.rows[0]?.at;
  return at === null || at === undefined ? null : Number(at);
}
