// Recently decrypted trait values, so that reading the same profile again does not pay one AES-GCM decryption per field.
//
// An entry is found only by the subject, the field and the exact ciphertext it was decrypted from: a new value (a
// write, a rectification, a key change) is a new ciphertext and misses. Callers look up the subject's key first, so
// once the subject's keys are destroyed (erasure) nothing here is reachable any more. `forget` drops a subject where the
// erasure runs and refuses it for the entries' lifetime (a read still in flight must not put it back); `sweep` drops
// entries past their age, on a timer too, so a subject no one reads again (erased by another process, say) does not
// stay in memory; size bounds the rest. Values are frozen: every reader shares them.
import { dropOldest } from '../../domain/drop-oldest.ts';

interface Entry {
  at: number;
  fields: Map<string, { blob: Buffer; value: unknown }>;
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

export class PlaintextCache {
  readonly #subjects = new Map<string, Entry>();
  /** Subjects forgotten (erased) within the entries' lifetime, and when. */
  readonly #forgotten = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;

  /** `maxSubjects` 0 turns the cache off. */
  constructor(
    private readonly maxSubjects: number,
    private readonly ttlMs = 5 * 60_000,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isSafeInteger(maxSubjects) || maxSubjects < 0) throw new RangeError(`the read cache size must be a whole number ≥ 0 (FIDUCIA_READ_CACHE_SUBJECTS), not ${maxSubjects}`);
  }

  /** Sweeps every `ms` (a tenth of the lifetime by default) until `close`; the timer does not keep the process alive. */
  start(ms = Math.max(1000, this.ttlMs / 10)): this {
    this.#timer ??= setInterval(() => this.sweep(), ms).unref();
    return this;
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#subjects.clear();
  }

  /** Drops entries and refusals past their age (entries are in the order they were made, so the old ones come first). */
  sweep(): void {
    const limit = this.now() - this.ttlMs;
    for (const [id, entry] of this.#subjects) {
      if (entry.at >= limit) break;
      this.#subjects.delete(id);
    }
    for (const [id, at] of this.#forgotten) {
      if (at >= limit) break;
      this.#forgotten.delete(id);
    }
  }

  /** The value decrypted earlier from exactly `blob`, or undefined. */
  get(subjectId: string, field: string, blob: Buffer): { value: unknown } | undefined {
    const entry = this.#subjects.get(subjectId);
    if (!entry) return undefined;
    if (this.now() - entry.at > this.ttlMs) {
      this.#subjects.delete(subjectId);
      return undefined;
    }
    const hit = entry.fields.get(field);
    return hit && hit.blob.equals(blob) ? hit : undefined;
  }

  set(subjectId: string, field: string, blob: Buffer, value: unknown): void {
    if (this.maxSubjects <= 0 || this.#forgotten.has(subjectId)) return;
    let entry = this.#subjects.get(subjectId);
    if (!entry) {
      this.sweep();
      if (this.#subjects.size >= this.maxSubjects) {
        dropOldest(this.#subjects, this.maxSubjects / 10);
      }
      entry = { at: this.now(), fields: new Map() };
      this.#subjects.set(subjectId, entry);
    }
    // A copy: the row's buffer may be a view into memory the driver reuses.
    entry.fields.set(field, { blob: Buffer.from(blob), value: deepFreeze(value) });
  }

  /** Drops the subject and keeps it out for the entries' lifetime (its keys are being destroyed). */
  forget(subjectId: string): void {
    this.#subjects.delete(subjectId);
    this.#forgotten.delete(subjectId); // re-inserted last: the map stays in time order
    this.#forgotten.set(subjectId, this.now());
  }

  /** Whether anything of the subject is kept. */
  holds(subjectId: string): boolean {
    return this.#subjects.has(subjectId);
  }

  get size(): number {
    return this.#subjects.size;
  }
}
