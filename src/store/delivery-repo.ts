// The destinations' outbox (`deliveries`): rows written with what they refer to, claimed in due order under a lease,
// one at a time per destination and person so that each person's messages arrive in order. On PostgreSQL a claim locks
// the rows it takes with `FOR UPDATE SKIP LOCKED`, so processes sharing the database never send the same row at once.
import type { Kysely, Transaction } from 'kysely';
import type { DataDatabase, DeliveriesTable, DeliveryStatus } from './schema.ts';
import { kyselyOf, locksRows, type Handle } from './internal/scope.ts';

export type DeliveryRow = DeliveriesTable;
/** How a delivery ended this round. */
export interface EndedDelivery {
  id: string;
  status: Exclude<DeliveryStatus, 'pending'>;
  httpStatus: number | null;
  error: string | null;
}
/** What the deliveries listing shows: codes and counts, never the reference's content or the notice's identifiers. */
export type DeliveryListing = Pick<DeliveriesTable, 'id' | 'subject_id' | 'kind' | 'status' | 'attempts' | 'next_attempt_at' | 'last_status' | 'last_error' | 'created_at' | 'finished_at'>;

/** A new row, due at once: what it is about and for whom; nothing tried yet. */
export function pendingDelivery(row: Pick<DeliveriesTable, 'id' | 'destination_id' | 'subject_id' | 'kind' | 'ref' | 'secret_enc'>, at: number): DeliveriesTable {
  return { ...row, status: 'pending', attempts: 0, next_attempt_at: at, lease_owner: null, lease_until: null, last_status: null, last_error: null, created_at: at, finished_at: null };
}

export class DeliveryRepo {
  private readonly db: Kysely<DataDatabase>;
  private readonly rowLocks: boolean;

  constructor(handle: Handle<DataDatabase>) {
    this.db = kyselyOf(handle);
    this.rowLocks = locksRows(handle);
  }

  async insert(rows: readonly DeliveriesTable[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 500) await this.db.insertInto('deliveries').values(rows.slice(i, i + 500)).execute();
  }

  /**
   * Leases up to `limit` due rows to `owner` until `now + leaseMs` and counts an attempt on each. Only the head of each
   * (destination, person) queue is due: a row waits while an earlier one of its queue is still pending (leased,
   * backing off, or due), so a receiver that was down gets each person's messages in order once it is back. `dueBy`
   * (default `now`) leaves out rows due later than it.
   */
  claim(owner: string, now: number, leaseMs: number, limit: number, dueBy = now): Promise<DeliveryRow[]> {
    return this.#transaction(async (trx) => {
      let query = trx
        .selectFrom('deliveries as d')
        .selectAll('d')
        .where('d.status', '=', 'pending')
        .where('d.next_attempt_at', '<=', Math.min(now, dueBy))
        .where((eb) => eb.or([eb('d.lease_until', 'is', null), eb('d.lease_until', '<=', now)]))
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('deliveries as e')
                .select('e.id')
                .whereRef('e.destination_id', '=', 'd.destination_id')
                .whereRef('e.subject_id', '=', 'd.subject_id')
                .where('e.status', '=', 'pending')
                .whereRef('e.id', '<', 'd.id'),
            ),
          ),
        )
        .orderBy('d.next_attempt_at')
        .orderBy('d.id')
        .limit(limit);
      // Rows another process is claiming are skipped, not waited for: it is sending them.
      if (this.rowLocks) query = query.forUpdate().skipLocked();
      const rows = await query.execute();
      if (rows.length === 0) return [];
      const ids = rows.map((r) => r.id);
      for (let i = 0; i < ids.length; i += 500) {
        await trx
          .updateTable('deliveries')
          .set((eb) => ({ lease_owner: owner, lease_until: now + leaseMs, attempts: eb('attempts', '+', 1) }))
          .where('id', 'in', ids.slice(i, i + 500))
          .execute();
      }
      return rows.map((r) => ({ ...r, attempts: Number(r.attempts) + 1, lease_owner: owner, lease_until: now + leaseMs }));
    });
  }

  /**
   * Ends rows: delivered, skipped (with the policy's reason) or dead (with the last failure); leases are released. A
   * delivered or skipped row's encrypted part goes (its key is destroyed too); a dead letter keeps it for a replay.
   * Rows with the same outcome are ended by one statement.
   */
  async finishMany(rows: readonly EndedDelivery[], at: number): Promise<void> {
    const groups = new Map<string, { outcome: EndedDelivery; ids: string[] }>();
    for (const r of rows) {
      const key = `${r.status}\u0000${r.httpStatus ?? ''}\u0000${r.error ?? ''}`;
      const g = groups.get(key) ?? { outcome: r, ids: [] };
      g.ids.push(r.id);
      groups.set(key, g);
    }
    for (const { outcome, ids } of groups.values()) {
      const ended = { status: outcome.status, finished_at: at, lease_owner: null, lease_until: null, last_status: outcome.httpStatus, last_error: outcome.error };
      for (let i = 0; i < ids.length; i += 500) {
        await this.db
          .updateTable('deliveries')
          .set(outcome.status === 'dead' ? ended : { ...ended, secret_enc: null })
          .where('id', 'in', ids.slice(i, i + 500))
          .execute();
      }
    }
  }

  /** Puts a row back in its queue, due again at `dueAt`, recording why this attempt failed. */
  async retryAt(id: string, dueAt: number, outcome: { httpStatus: number | null; error: string }): Promise<void> {
    await this.db
      .updateTable('deliveries')
      .set({ next_attempt_at: dueAt, lease_owner: null, lease_until: null, last_status: outcome.httpStatus, last_error: outcome.error })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .execute();
  }

  /** Dead rows of a destination (all, or those named) go back in their queues, due now, with their attempts reset. */
  async replay(destinationId: string, now: number, ids?: readonly string[]): Promise<number> {
    let q = this.db
      .updateTable('deliveries')
      .set({ status: 'pending', attempts: 0, next_attempt_at: now, finished_at: null, lease_owner: null, lease_until: null })
      .where('destination_id', '=', destinationId)
      .where('status', '=', 'dead');
    if (ids) {
      if (ids.length === 0) return 0;
      q = q.where('id', 'in', [...ids]);
    }
    const r = await q.executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  /** Destinations that were sent something of these people: the recipients Art. 19 notices go to. */
  async reachedDestinations(subjectIds: readonly string[]): Promise<{ destination_id: string; subject_id: string }[]> {
    if (subjectIds.length === 0) return [];
    return this.db
      .selectFrom('deliveries')
      .select(['destination_id', 'subject_id'])
      .distinct()
      .where('subject_id', 'in', [...subjectIds])
      .where('status', '=', 'delivered')
      .where('kind', '<>', 'notice')
      .execute();
  }

  /** A page of a destination's deliveries, newest first, before `beforeId`. */
  list(destinationId: string, q: { status?: DeliveryStatus | undefined; beforeId?: string | undefined; limit: number }): Promise<DeliveryListing[]> {
    let query = this.db
      .selectFrom('deliveries')
      .select(['id', 'subject_id', 'kind', 'status', 'attempts', 'next_attempt_at', 'last_status', 'last_error', 'created_at', 'finished_at'])
      .where('destination_id', '=', destinationId);
    if (q.status) query = query.where('status', '=', q.status);
    if (q.beforeId) query = query.where('id', '<', q.beforeId);
    return query.orderBy('id', 'desc').limit(q.limit).execute();
  }

  /** Rows per destination and status. */
  async counts(): Promise<{ destination_id: string; status: DeliveryStatus; n: number }[]> {
    const rows = await this.db
      .selectFrom('deliveries')
      .select(['destination_id', 'status', (eb) => eb.fn.countAll<string | number>().as('n')])
      .groupBy(['destination_id', 'status'])
      .execute();
    return rows.map((r) => ({ destination_id: r.destination_id, status: r.status, n: Number(r.n) }));
  }

  /** The oldest due time among pending rows (the worker sleeps until then), or null. */
  async nextDueAt(): Promise<number | null> {
    const r = await this.db.selectFrom('deliveries').select((eb) => eb.fn.min('next_attempt_at').as('at')).where('status', '=', 'pending').executeTakeFirst();
    return r?.at === null || r?.at === undefined ? null : Number(r.at);
  }

  #transaction<T>(work: (trx: Kysely<DataDatabase>) => Promise<T>): Promise<T> {
    return this.db.isTransaction ? work(this.db) : this.db.transaction().execute((trx: Transaction<DataDatabase>) => work(trx));
  }
}
