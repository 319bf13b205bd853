// Rights requests, their history and packages, legal holds, the recipient outbox and the database-held rate-limit windows.
import type { Kysely } from 'kysely';
import { chunks } from './internal/batches.ts';
import { kyselyOf, locksRows, type Handle } from './internal/scope.ts';
import type {
  DataDatabase,
  LegalHoldsTable,
  RecipientNotificationsTable,
  RightsPackagesTable,
  RightsRequestHistoryTable,
  RightsRequestsTable,
} from './schema.ts';

export interface RequestQuery {
  status?: string | undefined;
  type?: string | undefined;
  /** Open requests whose deadline is before this time. */
  overdueAt?: number | undefined;
  limit: number;
  /** Requests received before this id (ids are time-ordered), for paging. */
  before?: string | undefined;
}

const OPEN = ['received', 'verified', 'in_progress'];

export class RightsRepo {
  private readonly db: Kysely<DataDatabase>;

  constructor(handle: Handle<DataDatabase>) {
    this.db = kyselyOf(handle);
  }

  async insert(row: RightsRequestsTable): Promise<void> {
    await this.db.insertInto('rights_requests').values(row).execute();
  }

  get(id: string): Promise<RightsRequestsTable | undefined> {
    return this.db.selectFrom('rights_requests').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Reads a request and, on PostgreSQL, locks it for the rest of the transaction. */
  lock(id: string): Promise<RightsRequestsTable | undefined> {
    const q = this.db.selectFrom('rights_requests').selectAll().where('id', '=', id);
    return (locksRows(this.db) ? q.forUpdate() : q).executeTakeFirst();
  }

  async update(id: string, patch: Partial<Omit<RightsRequestsTable, 'id'>>): Promise<void> {
    await this.db.updateTable('rights_requests').set(patch).where('id', '=', id).execute();
  }

  /** Counts one code attempt atomically (so it holds across instances) and returns the row as it now is. */
  countAttempt(id: string, now: number): Promise<RightsRequestsTable | undefined> {
    return this.db
      .updateTable('rights_requests')
      .set((eb) => ({ attempts: eb('attempts', '+', 1), updated_at: now }))
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  }

  list(q: RequestQuery): Promise<RightsRequestsTable[]> {
    let s = this.db.selectFrom('rights_requests').selectAll();
    if (q.status) s = s.where('status', '=', q.status);
    if (q.type) s = s.where('type', '=', q.type);
    if (q.overdueAt !== undefined) s = s.where('status', 'in', OPEN).where('due_at', '<', q.overdueAt);
    if (q.before) s = s.where('id', '<', q.before);
    return s.orderBy('id', 'desc').limit(q.limit).execute();
  }

  /** Open requests about a subject that wait for something (e.g. a legal hold to be released). */
  waitingFor(subjectId: string, waiting: string): Promise<RightsRequestsTable[]> {
    return this.db
      .selectFrom('rights_requests')
      .selectAll()
      .where('subject_id', '=', subjectId)
      .where('waiting', '=', waiting)
      .where('status', 'in', OPEN)
      .orderBy('id')
      .execute();
  }

  /** Self-service requests whose code expired without being confirmed. */
  unverifiedBefore(now: number, limit: number): Promise<RightsRequestsTable[]> {
    return this.db
      .selectFrom('rights_requests')
      .selectAll()
      .where('status', '=', 'received')
      .where('code_expires_at', '<', now)
      .orderBy('id')
      .limit(limit)
      .execute();
  }

  /** Closed requests that still hold an encrypted contact address or parameters. */
  closedWithPersonalParts(limit: number): Promise<Pick<RightsRequestsTable, 'id'>[]> {
    return this.db
      .selectFrom('rights_requests')
      .select('id')
      .where('status', 'in', ['completed', 'rejected'])
      .where((eb) => eb.or([eb('contact_enc', 'is not', null), eb('params_enc', 'is not', null)]))
      // A restriction in force keeps its contact address: the person is told before it is lifted (Art. 18(3)).
      .where((eb) => eb.not(eb.and([eb('type', '=', 'restriction'), eb('status', '=', 'completed'), eb('outcome', 'like', '%"restricted":true%')])))
      .where((eb) => eb.not(eb.exists(eb.selectFrom('rights_packages').select('request_id').whereRef('rights_packages.request_id', '=', 'rights_requests.id'))))
      .limit(limit)
      .execute();
  }

  /** Erasures committed whose keys are still to be destroyed (the process stopped in between). */
  async awaitingKeyDestruction(limit: number): Promise<string[]> {
    return (await this.db.selectFrom('rights_requests').select('id').where('status', '=', 'in_progress').where('waiting', '=', 'key_destruction').limit(limit).execute()).map((r) => r.id);
  }

  /** The status of each of these requests that exists. */
  statuses(ids: readonly string[]): Promise<Pick<RightsRequestsTable, 'id' | 'status'>[]> {
    return this.db.selectFrom('rights_requests').select(['id', 'status']).where('id', 'in', ids).execute();
  }

  async appendHistory(row: RightsRequestHistoryTable): Promise<void> {
    await this.db.insertInto('rights_request_history').values(row).execute();
  }

  history(requestId: string): Promise<RightsRequestHistoryTable[]> {
    return this.db.selectFrom('rights_request_history').selectAll().where('request_id', '=', requestId).orderBy('id').execute();
  }

  // ---- packages ----

  async putPackage(row: RightsPackagesTable): Promise<void> {
    await this.db
      .insertInto('rights_packages')
      .values(row)
      .onConflict((oc) =>
        oc.column('request_id').doUpdateSet((eb) => ({
          package_enc: eb.ref('excluded.package_enc'),
          size: eb.ref('excluded.size'),
          created_at: eb.ref('excluded.created_at'),
          expires_at: eb.ref('excluded.expires_at'),
        })),
      )
      .execute();
  }

  getPackage(requestId: string): Promise<RightsPackagesTable | undefined> {
    return this.db.selectFrom('rights_packages').selectAll().where('request_id', '=', requestId).executeTakeFirst();
  }

  packageInfo(requestId: string): Promise<Pick<RightsPackagesTable, 'kind' | 'size' | 'created_at' | 'expires_at'> | undefined> {
    return this.db.selectFrom('rights_packages').select(['kind', 'size', 'created_at', 'expires_at']).where('request_id', '=', requestId).executeTakeFirst();
  }

  async deletePackage(requestId: string): Promise<void> {
    await this.db.deleteFrom('rights_packages').where('request_id', '=', requestId).execute();
  }

  /** Deletes every stored package about a subject; how many there were. */
  deletePackagesOf(subjectId: string): Promise<number> {
    return this.deletePackagesOfSubjects([subjectId]);
  }

  /** Deletes every stored package about these subjects; how many there were. */
  async deletePackagesOfSubjects(subjectIds: readonly string[]): Promise<number> {
    let n = 0;
    for (const part of chunks(subjectIds)) n += Number((await this.db.deleteFrom('rights_packages').where('subject_id', 'in', part).executeTakeFirst()).numDeletedRows);
    return n;
  }

  async expiredPackages(now: number, limit: number): Promise<string[]> {
    const rows = await this.db.selectFrom('rights_packages').select('request_id').where('expires_at', '<', now).limit(limit).execute();
    return rows.map((r) => r.request_id);
  }

  // ---- legal holds ----

  activeHold(subjectId: string): Promise<LegalHoldsTable | undefined> {
    return this.db.selectFrom('legal_holds').selectAll().where('subject_id', '=', subjectId).where('released_at', 'is', null).executeTakeFirst();
  }

  /** Those of these subjects under a legal hold in force. */
  async subjectsWithActiveHold(subjectIds: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const part of chunks(subjectIds)) {
      const rows = await this.db.selectFrom('legal_holds').select('subject_id').distinct().where('subject_id', 'in', part).where('released_at', 'is', null).execute();
      for (const r of rows) out.add(r.subject_id);
    }
    return out;
  }

  async insertHold(row: LegalHoldsTable): Promise<void> {
    await this.db.insertInto('legal_holds').values(row).execute();
  }

  async releaseHolds(subjectId: string, by: string, at: number): Promise<number> {
    const r = await this.db
      .updateTable('legal_holds')
      .set({ released_by: by, released_at: at })
      .where('subject_id', '=', subjectId)
      .where('released_at', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  // ---- recipient outbox ----

  async insertNotifications(rows: readonly RecipientNotificationsTable[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 200) await this.db.insertInto('recipient_notifications').values(rows.slice(i, i + 200)).execute();
  }

  pendingNotifications(limit: number): Promise<RecipientNotificationsTable[]> {
    return this.db.selectFrom('recipient_notifications').selectAll().where('delivered_at', 'is', null).orderBy('id').limit(limit).execute();
  }

  // ---- rate limits ----

  /**
   * One hit in a fixed window per bucket, counted in the database so that the limit holds across instances.
   * Returns the hits in the current window, this one included.
   */
  async hit(bucket: string, windowMs: number, now: number): Promise<number> {
    const stale = now - windowMs;
    const row = await this.db
      .insertInto('rate_limit_windows')
      .values({ bucket, window_start: now, hits: 1 })
      .onConflict((oc) =>
        oc.column('bucket').doUpdateSet((eb) => ({
          // Both expressions read the row as it was before this update (SQL semantics on both databases).
          hits: eb.case().when('rate_limit_windows.window_start', '<=', stale).then(1).else(eb('rate_limit_windows.hits', '+', 1)).end(),
          window_start: eb.case().when('rate_limit_windows.window_start', '<=', stale).then(now).else(eb.ref('rate_limit_windows.window_start')).end(),
        })),
      )
      .returning('hits')
      .executeTakeFirstOrThrow();
    return Number(row.hits);
  }

  async pruneRateLimits(before: number): Promise<void> {
    await this.db.deleteFrom('rate_limit_windows').where('window_start', '<', before).execute();
  }
}
