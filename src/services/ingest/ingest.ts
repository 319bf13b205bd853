// The ingestion writer: queues collection work and commits it in groups, answering each caller only after its commit.
import type { DataScope } from '../../store/scope.ts';
import { FiduciaError } from '../../domain/errors.ts';
import { Admission, DEFAULT_ADMISSION, type AdmissionSettings } from './admission.ts';
import { IngestFlush, type FlushDeps, type WriteOp, type WriteResult } from './ingest-flush.ts';

interface Pending {
  op: WriteOp;
  resolve: (r: WriteResult) => void;
  reject: (e: unknown) => void;
}

/** Ops per group commit; a group is whatever arrived while the previous commit ran, up to this. */
const MAX_GROUP_OPS = 64;
const RETRIES = 3;

export class ShuttingDownError extends FiduciaError {
  constructor() {
    super('FIDUCIA_UNAVAILABLE', 'Fiducia is shutting down');
    this.name = 'ShuttingDownError';
  }
}

/** Messages an op puts in the queue; a consent choice is small and never refused, so it counts none. */
const weight = (op: WriteOp): number => (op.kind === 'messages' ? op.messages.length : 0);

function isConflict(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  // PostgreSQL unique violation / serialization failure / deadlock; SQLite constraint: another writer got there first.
  return code === '23505' || code === '40001' || code === '40P01' || (typeof code === 'string' && code.startsWith('SQLITE_CONSTRAINT'));
}

export class IngestService {
  #queue: Pending[] = [];
  #draining: Promise<void> | null = null;
  #closed = false;
  /** Backpressure: refuses batches past a bound on queued work (admission.ts). */
  readonly admission: Admission;

  constructor(
    private readonly db: DataScope,
    private readonly deps: FlushDeps,
    admission: Partial<AdmissionSettings> = {},
  ) {
    this.admission = new Admission({ ...DEFAULT_ADMISSION, ...admission });
  }

  submit<T extends WriteResult>(op: WriteOp): Promise<T> {
    if (this.#closed) return Promise.reject(new ShuttingDownError());
    const n = weight(op);
    try {
      this.admission.enter(n);
    } catch (err) {
      this.deps.metrics.overloaded.inc(n);
      this.deps.metrics.overloadedRequests.inc();
      return Promise.reject(err);
    }
    return new Promise<T>((resolve, reject) => {
      const leave = () => this.admission.leave(n);
      this.#queue.push({
        op,
        resolve: (r) => {
          leave();
          resolve(r as T);
        },
        reject: (e) => {
          leave();
          reject(e);
        },
      });
      this.#kick();
    });
  }

  #kick(): void {
    this.#draining ??= this.#drain().finally(() => {
      this.#draining = null;
      // Work queued while the last drain was finishing (after its final empty check) needs a new one.
      if (this.#queue.length > 0) this.#kick();
    });
  }

  async #drain(): Promise<void> {
    // Let the requests that arrived in this tick join the first group.
    await new Promise((r) => setImmediate(r));
    // The drain rate is measured in wall-clock time from group to group, the other work of the event loop included.
    let previous = performance.now();
    while (this.#queue.length > 0) {
      const group = this.#queue.splice(0, MAX_GROUP_OPS);
      try {
        const results = await this.#commit(group.map((p) => p.op));
        const now = performance.now();
        this.admission.observe(group.reduce((sum, p) => sum + weight(p.op), 0), now - previous);
        previous = now;
        group.forEach((p, i) => p.resolve(results[i]!));
      } catch (err) {
        if (group.length === 1) {
          group[0]!.reject(err);
          continue;
        }
        // One bad op must not fail the others: commit them one by one.
        for (const p of group) {
          try {
            p.resolve((await this.#commit([p.op]))[0]!);
          } catch (e) {
            p.reject(e);
          }
        }
      }
    }
  }

  async #commit(ops: WriteOp[]): Promise<WriteResult[]> {
    const end = this.deps.metrics.flushSeconds.startTimer();
    try {
      for (let attempt = 1; ; attempt++) {
        let flush: IngestFlush | undefined;
        let rolledBack = false;
        try {
          const results = await this.db.transaction(async (trx) => {
            flush = new IngestFlush(trx, this.deps);
            try {
              return await flush.run(ops);
            } catch (err) {
              // Thrown inside the transaction: it rolls back. A failed COMMIT is not marked: it may have committed.
              rolledBack = true;
              throw err;
            }
          });
          for (const task of flush?.afterCommit ?? []) await task();
          this.deps.onCommitted?.();
          // Only what committed reaches the debugger: a rolled-back attempt's captures are thrown away with it.
          if (flush?.captured && flush.captured.size > 0) this.deps.onMessages?.(flush.captured);
          return results;
        } catch (err) {
          // A retry makes new subject ids, so the keys made for this attempt would belong to nobody.
          if (rolledBack && flush) await this.#discardKeys(flush.createdKeys);
          if (attempt >= RETRIES || !isConflict(err)) throw err;
        }
      }
    } finally {
      end();
    }
  }

  /** Best effort: a key left behind here (keystore down) is deleted later by the orphan sweep. */
  async #discardKeys(subjectIds: readonly string[]): Promise<void> {
    if (subjectIds.length === 0) return;
    try {
      await this.deps.ring.discard(subjectIds);
    } catch {
      // The group's own error is what the caller needs to see.
    }
  }

  /** Stops taking work and waits until everything queued is committed. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#draining) await this.#draining;
  }
}
