// Exfiltration windows: per principal, window length and time bucket, a distinct-count sketch shared by every process.
import type { Kysely } from 'kysely';
import type { DataDatabase, DisclosureWindowsTable } from './schema.ts';
import { kyselyOf, locksRows, type Handle } from './internal/scope.ts';

export interface BucketKey {
  principal: string;
  windowSeconds: number;
  bucketStart: number;
}

/** The row of a principal's last alert for a window. */
const ALERT_BUCKET = -1;

export class DisclosureRepo {
  private readonly db: Kysely<DataDatabase>;
  private readonly rowLocks: boolean;

  constructor(handle: Handle<DataDatabase>) {
    this.db = kyselyOf(handle);
    this.rowLocks = locksRows(handle);
  }

  /**
   * The stored sketches of `keys`, locked for the rest of the transaction where the database can (an empty placeholder
   * is inserted first for a missing one, so two processes merging into the same bucket queue on its row). Keys are
   * taken in one order, so two transactions never wait on each other in a cycle.
   */
  async lockBuckets(keys: readonly BucketKey[], empty: Uint8Array, at: number): Promise<Map<string, Uint8Array>> {
    const sorted = [...keys].sort((a, b) => (a.principal < b.principal ? -1 : a.principal > b.principal ? 1 : a.windowSeconds - b.windowSeconds || a.bucketStart - b.bucketStart));
    const out = new Map<string, Uint8Array>();
    for (const k of sorted) {
      await this.db
        .insertInto('disclosure_windows')
        .values({ principal: k.principal, window_seconds: k.windowSeconds, bucket_start: k.bucketStart, sketch: empty, updated_at: at })
        .onConflict((oc) => oc.columns(['principal', 'window_seconds', 'bucket_start']).doNothing())
        .execute();
      const q = this.db
        .selectFrom('disclosure_windows')
        .select('sketch')
        .where('principal', '=', k.principal)
        .where('window_seconds', '=', k.windowSeconds)
        .where('bucket_start', '=', k.bucketStart);
      const row = await (this.rowLocks ? q.forUpdate() : q).executeTakeFirstOrThrow();
      out.set(bucketId(k), row.sketch);
    }
    return out;
  }

  async writeBucket(k: BucketKey, sketch: Uint8Array, at: number): Promise<void> {
    await this.db
      .updateTable('disclosure_windows')
      .set({ sketch, updated_at: at })
      .where('principal', '=', k.principal)
      .where('window_seconds', '=', k.windowSeconds)
      .where('bucket_start', '=', k.bucketStart)
      .execute();
  }

  /** A principal's buckets starting at or after `from` (every window's; at most a few dozen rows). */
  bucketsSince(principal: string, from: number): Promise<Pick<DisclosureWindowsTable, 'window_seconds' | 'bucket_start' | 'sketch'>[]> {
    return this.db
      .selectFrom('disclosure_windows')
      .select(['window_seconds', 'bucket_start', 'sketch'])
      .where('principal', '=', principal)
      .where('bucket_start', '>=', from)
      .execute();
  }

  /**
   * Claims the alert of a principal's window: true unless another process (or an earlier crossing) alerted for it after
   * `since`. One conditional statement, so processes crossing together raise one alert.
   */
  async claimAlert(principal: string, windowSeconds: number, since: number, at: number): Promise<boolean> {
    const inserted = await this.db
      .insertInto('disclosure_windows')
      .values({ principal, window_seconds: windowSeconds, bucket_start: ALERT_BUCKET, sketch: new Uint8Array(0), updated_at: at })
      .onConflict((oc) => oc.columns(['principal', 'window_seconds', 'bucket_start']).doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0) return true;
    const r = await this.db
      .updateTable('disclosure_windows')
      .set({ updated_at: at })
      .where('principal', '=', principal)
      .where('window_seconds', '=', windowSeconds)
      .where('bucket_start', '=', ALERT_BUCKET)
      .where('updated_at', '<=', since)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Deletes buckets that started before `before` and alert marks older than `alertsBefore`; returns how many. */
  async prune(before: number, alertsBefore: number): Promise<number> {
    const a = await this.db.deleteFrom('disclosure_windows').where('bucket_start', '>=', 0).where('bucket_start', '<', before).executeTakeFirst();
    const b = await this.db.deleteFrom('disclosure_windows').where('bucket_start', '=', ALERT_BUCKET).where('updated_at', '<', alertsBefore).executeTakeFirst();
    return Number(a.numDeletedRows) + Number(b.numDeletedRows);
  }
}

export const bucketId = (k: BucketKey): string => `${k.principal}\u0000${k.windowSeconds}\u0000${k.bucketStart}`;
