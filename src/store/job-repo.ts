// Background jobs' leases and last runs (the `jobs` table): which process runs a job now, when it is next due, how its
// last run went. On PostgreSQL a claim locks the due rows with `FOR UPDATE SKIP LOCKED`, so processes sharing the
// database never claim the same job at once; on SQLite one writer already excludes the others.
import type { Kysely, Transaction } from 'kysely';
import type { DataDatabase, JobsTable } from './schema.ts';
import { kyselyOf, locksRows, type Handle } from './internal/scope.ts';

export type JobRow = JobsTable;

/** What a finished run leaves in the row; counts are numbers only, the error a code. */
export interface JobRunRecord {
  startedAt: number;
  finishedAt: number;
  outcome: 'ok' | 'failed';
  counts: Record<string, number>;
  error: string | null;
}

export class JobRepo {
  private readonly db: Kysely<DataDatabase>;
  /** Whether due rows are locked with `FOR UPDATE SKIP LOCKED` (PostgreSQL); SQLite's single writer already excludes. */
  private readonly rowLocks: boolean;

  constructor(handle: Handle<DataDatabase>) {
    this.db = kyselyOf(handle);
    this.rowLocks = locksRows(handle);
  }

  /**
   * Makes sure a job has its row. `firstDueAt` (null: this process does not schedule it) becomes its next due time if
   * there is none yet or if it is earlier: a shorter interval configured since takes effect at once.
   */
  async register(name: string, firstDueAt: number | null): Promise<void> {
    await this.db.insertInto('jobs').values({ name, next_run_at: firstDueAt }).onConflict((oc) => oc.column('name').doNothing()).execute();
    if (firstDueAt === null) return;
    await this.db
      .updateTable('jobs')
      .set({ next_run_at: firstDueAt })
      .where('name', '=', name)
      .where((eb) => eb.or([eb('next_run_at', 'is', null), eb('next_run_at', '>', firstDueAt)]))
      .execute();
  }

  /**
   * Claims every job of `intervals` that is due at `now` and not leased: leases it to `owner` until `now + leaseMs` and
   * moves its next due time one interval on, in one short transaction. Returns the names claimed.
   */
  claimDue(intervals: ReadonlyMap<string, number>, owner: string, now: number, leaseMs: number): Promise<string[]> {
    const names = [...intervals.keys()];
    if (names.length === 0) return Promise.resolve([]);
    return this.#transaction(async (trx) => {
      let query = trx
        .selectFrom('jobs')
        .select('name')
        .where('name', 'in', names)
        .where('next_run_at', '<=', now)
        .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]))
        .orderBy('name');
      // Rows another process is claiming are skipped, not waited for: it is running them.
      if (this.rowLocks) query = query.forUpdate().skipLocked();
      const due = await query.execute();
      for (const { name } of due) {
        await trx
          .updateTable('jobs')
          .set({ lease_owner: owner, lease_until: now + leaseMs, next_run_at: now + (intervals.get(name) ?? 0) })
          .where('name', '=', name)
          .execute();
      }
      return due.map((r) => r.name);
    });
  }

  /** Claims one job now whether due or not (a run by hand); false when another owner's lease holds it. */
  claim(name: string, owner: string, now: number, leaseMs: number): Promise<boolean> {
    return this.#transaction(async (trx) => {
      let query = trx
        .selectFrom('jobs')
        .select('name')
        .where('name', '=', name)
        .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]));
      if (this.rowLocks) query = query.forUpdate().skipLocked();
      if (!(await query.executeTakeFirst())) return false;
      await trx.updateTable('jobs').set({ lease_owner: owner, lease_until: now + leaseMs }).where('name', '=', name).execute();
      return true;
    });
  }

  /** Extends a lease `owner` still holds; false when it was lost (it expired and another process took the job). */
  async renew(name: string, owner: string, until: number): Promise<boolean> {
    const r = await this.db.updateTable('jobs').set({ lease_until: until }).where('name', '=', name).where('lease_owner', '=', owner).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Records a run and releases the lease; false (nothing written) when `owner` no longer holds it. */
  async finish(name: string, owner: string, run: JobRunRecord): Promise<boolean> {
    const r = await this.db
      .updateTable('jobs')
      .set({
        lease_owner: null,
        lease_until: null,
        last_started_at: run.startedAt,
        last_finished_at: run.finishedAt,
        last_duration_ms: run.finishedAt - run.startedAt,
        last_outcome: run.outcome,
        last_counts: JSON.stringify(run.counts),
        last_error: run.error,
      })
      .where('name', '=', name)
      .where('lease_owner', '=', owner)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Leases a job to `owner` until `until` unconditionally (tests: a process that died holding it). */
  async forceLease(name: string, owner: string, until: number): Promise<void> {
    await this.db.updateTable('jobs').set({ lease_owner: owner, lease_until: until }).where('name', '=', name).execute();
  }

  list(): Promise<JobRow[]> {
    return this.db.selectFrom('jobs').selectAll().orderBy('name').execute();
  }

  #transaction<T>(work: (trx: Kysely<DataDatabase>) => Promise<T>): Promise<T> {
    return this.db.isTransaction ? work(this.db) : this.db.transaction().execute((trx: Transaction<DataDatabase>) => work(trx));
  }
}
