// Events (time-ordered ids, encrypted payloads) and the messageId ledger that makes ingestion idempotent.
import type { Kysely } from 'kysely';
import type { DataDatabase, EventsTable } from './schema.ts';
import { kyselyOf, type Handle } from './internal/scope.ts';

export class EventRepo {
  private readonly db: Kysely<DataDatabase>;

  constructor(handle: Handle<DataDatabase>) {
    this.db = kyselyOf(handle);
  }

  /** Records message ids; returns the ones not seen before for this source (the others are replays). */
  async claimMessageIds(sourceId: string, messageIds: readonly string[], at: number): Promise<Set<string>> {
    const fresh = new Set<string>();
    for (let i = 0; i < messageIds.length; i += 300) {
      const part = messageIds.slice(i, i + 300);
      const rows = await this.db
        .insertInto('ingested_messages')
        .values(part.map((message_id) => ({ source_id: sourceId, message_id, received_at: at })))
        .onConflict((oc) => oc.doNothing())
        .returning('message_id')
        .execute();
      for (const r of rows) fresh.add(r.message_id);
    }
    return fresh;
  }

  async insertEvents(rows: readonly EventsTable[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 200) {
      await this.db.insertInto('events').values(rows.slice(i, i + 200)).execute();
    }
  }

  /** Some events of one subject, by id (missing ones are absent from the answer). */
  eventsByIds(subjectId: string, ids: readonly string[]): Promise<EventsTable[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.db.selectFrom('events').selectAll().where('subject_id', '=', subjectId).where('id', 'in', [...ids]).execute();
  }

  /** Events of several subjects by id (the subject ids let PostgreSQL use the (subject_id, id) key); at most 500 ids. */
  eventsOfSubjects(subjectIds: readonly string[], ids: readonly string[]): Promise<EventsTable[]> {
    if (ids.length === 0 || subjectIds.length === 0) return Promise.resolve([]);
    return this.db.selectFrom('events').selectAll().where('subject_id', 'in', [...subjectIds]).where('id', 'in', [...ids]).execute();
  }

  /** A page of a subject's events in id (time) order, after `afterId`. */
  eventsOf(subjectId: string, afterId: string | null, limit: number): Promise<EventsTable[]> {
    let q = this.db.selectFrom('events').selectAll().where('subject_id', '=', subjectId);
    if (afterId) q = q.where('id', '>', afterId);
    return q.orderBy('id').limit(limit).execute();
  }

  /**
   * Merge: events of `from`, rewritten for their new subject (same ids), leave `from` and are inserted there. Deleted
   * and inserted, never updated in place: under Citus the subject id is the distribution column, which no update may
   * change (docs/architecture.md, "Sharding by person").
   */
  async moveEvents(from: string, moved: readonly EventsTable[]): Promise<void> {
    for (let i = 0; i < moved.length; i += 300) {
      const ids = moved.slice(i, i + 300).map((e) => e.id);
      await this.db.deleteFrom('events').where('subject_id', '=', from).where('id', 'in', ids).execute();
    }
    await this.insertEvents(moved);
  }

  /** Deletes every event of a subject; how many there were. */
  async deleteOf(subjectId: string): Promise<number> {
    const r = await this.db.deleteFrom('events').where('subject_id', '=', subjectId).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** Retention: a page of a subject's events in id order after `afterId`, envelope only (no payload). */
  retentionPage(subjectId: string, afterId: string | null, limit: number): Promise<Pick<EventsTable, 'id' | 'type' | 'event_name' | 'purposes' | 'timestamp' | 'received_at'>[]> {
    let q = this.db.selectFrom('events').select(['id', 'type', 'event_name', 'purposes', 'timestamp', 'received_at']).where('subject_id', '=', subjectId);
    if (afterId) q = q.where('id', '>', afterId);
    return q.orderBy('id').limit(limit).execute();
  }

  /** Deletes some of a subject's events by key (subject_id, id); how many were deleted. */
  async deleteByIds(subjectId: string, ids: readonly string[]): Promise<number> {
    let n = 0;
    for (let i = 0; i < ids.length; i += 300) {
      const r = await this.db.deleteFrom('events').where('subject_id', '=', subjectId).where('id', 'in', ids.slice(i, i + 300)).executeTakeFirst();
      n += Number(r.numDeletedRows);
    }
    return n;
  }

  /** Whether a subject has any event at all. */
  async anyOf(subjectId: string): Promise<boolean> {
    return (await this.db.selectFrom('events').select('id').where('subject_id', '=', subjectId).limit(1).executeTakeFirst()) !== undefined;
  }

  async countOf(subjectId: string): Promise<number> {
    const r = await this.db
      .selectFrom('events')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('subject_id', '=', subjectId)
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }
}
