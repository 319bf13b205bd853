// Group commit for audit entries of reads: entries of concurrent requests share one append (one transaction, one fsync).
import type { DataScope } from '../../store/scope.ts';
import type { AuditEntryInput, AuditPort } from './audit-port.ts';

interface Waiting {
  entry: AuditEntryInput;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Entries per append; a group is whatever arrived while the previous append ran, up to this. */
const MAX_GROUP = 512;

/**
 * Each caller's promise settles only after its entry is committed, so a read is answered only once it is on
 * record; if the append fails, every read of the group fails with it rather than going unaudited.
 */
export class AuditBatcher {
  #queue: Waiting[] = [];
  #draining: Promise<void> | null = null;

  constructor(
    private readonly audit: AuditPort,
    private readonly db: DataScope,
  ) {}

  append(entry: AuditEntryInput): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ entry, resolve, reject });
      void this.#kick();
    });
  }

  #kick(): Promise<void> {
    this.#draining ??= this.#drain().finally(() => {
      this.#draining = null;
      // Entries queued after the last empty check of the drain need a new one.
      if (this.#queue.length > 0) void this.#kick();
    });
    return this.#draining;
  }

  async #drain(): Promise<void> {
    // Let the requests of this tick join the first group.
    await new Promise((r) => setImmediate(r));
    while (this.#queue.length > 0) {
      const group = this.#queue.splice(0, MAX_GROUP);
      try {
        await this.audit.append(this.db, group.map((w) => w.entry));
        for (const w of group) w.resolve();
      } catch (err) {
        for (const w of group) w.reject(err);
      }
    }
  }

  /** Waits until every queued entry is committed (or failed). */
  async flush(): Promise<void> {
    while (this.#draining) await this.#draining;
  }
}
