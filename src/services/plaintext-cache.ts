// Recently decrypted trait values, so that reading the same profile again does not pay one AES-GCM decryption per field.
//
// An entry is found only by the subject, the field and the exact ciphertext it was decrypted from: a new value (a
// write, a rectification, a key change) is a new ciphertext and misses. Callers look up the subject's key first, so
// once the subject's keys are destroyed (erasure) nothing here is reachable any more; `forget` drops it at once where
// the erasure runs, and age and size bound the rest. Values are frozen: every reader shares them.

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

  /** `maxSubjects` 0 turns the cache off. */
  constructor(
    private readonly maxSubjects: number,
    private readonly ttlMs = 5 * 60_000,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isSafeInteger(maxSubjects) || maxSubjects < 0) throw new RangeError(`the read cache size must be a whole number ≥ 0 (FIDUCIA_READ_CACHE_SUBJECTS), not ${maxSubjects}`);
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
    if (this.maxSubjects <= 0) return;
    let entry = this.#subjects.get(subjectId);
    if (!entry) {
      if (this.#subjects.size >= this.maxSubjects) {
        // Drop the oldest tenth (Map iterates in insertion order).
        let n = Math.max(1, Math.floor(this.maxSubjects / 10));
        for (const k of this.#subjects.keys()) {
          this.#subjects.delete(k);
          if (--n <= 0) break;
        }
      }
      entry = { at: this.now(), fields: new Map() };
      this.#subjects.set(subjectId, entry);
    }
    // A copy: the row's buffer may be a view into memory the driver reuses.
    entry.fields.set(field, { blob: Buffer.from(blob), value: deepFreeze(value) });
  }

  forget(subjectId: string): void {
    this.#subjects.delete(subjectId);
  }

  get size(): number {
    return this.#subjects.size;
  }
}
