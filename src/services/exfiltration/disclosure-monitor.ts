// Sliding windows of the distinct subjects each principal (an API token, later a console user) read or exported,
// shared by every process through the database; reaching a window's threshold calls `onCrossing` once per window.
//
// Each read costs a keyed hash and a few set insertions in memory (no database round trip). Every `flushMs` the
// principals read since are merged into their stored buckets (one transaction per principal) and their windows rebuilt
// from every process's buckets; a read that takes a local window to its threshold does that at once, so the crossing
// is decided on the shared count before the read is answered. Bounds: see docs/exfiltration.md ("Bounds").
import { DistinctSketch } from '../../domain/distinct-sketch.ts';
import type { DetectionSettings, DetectionWindow } from '../../domain/privacy-config-detection.ts';
import { DisclosureRepo, bucketId, type BucketKey } from '../../store/disclosure-repo.ts';
import type { DataScope } from '../../store/scope.ts';

/** Buckets per window: the window measured is between its length and 7/6 of it (never shorter, so never late). */
export const BUCKETS_PER_WINDOW = 6;
const EMPTY = new DistinctSketch().toBuffer();
/** Token ids are UUIDs; console users will be `user:<id>`. Other actors (`system`, `source:…`) are not principals. */
const PRINCIPAL = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|user:[\x21-\x7e]{1,64})$/;

export function isPrincipal(actor: string): boolean {
  return actor.length <= 69 && PRINCIPAL.test(actor);
}

export interface Crossing {
  principal: string;
  windowSeconds: number;
  threshold: number;
  /** Distinct subjects in the window (exact below 4,096 per bucket union, else within about 1.6 %). */
  subjects: number;
  exact: boolean;
}

export interface MonitorDeps {
  db: DataScope;
  settings: DetectionSettings;
  /** A 48-bit keyed hash of a subject id: sketches hold these, so a stored sketch names nobody without the key. */
  keyOf(subjectId: string): number;
  onCrossing(c: Crossing): Promise<void>;
  onError(err: unknown): void;
  now?: (() => number) | undefined;
  /** How often the windows of the principals read since are merged and re-read (default 1 s). */
  flushMs?: number | undefined;
  /** Principals kept in memory (default 1,000); past it the least recently active clean one is dropped. */
  maxPrincipals?: number | undefined;
}

interface Window {
  spec: DetectionWindow;
  windowMs: number;
  bucketMs: number;
  /** Every process's buckets in the window as last read, plus this process's reads since. */
  union: DistinctSketch;
  /** This process's reads not yet merged into the stored buckets, by bucket start. */
  pending: Map<number, DistinctSketch>;
  /** No new alert for this window before then (one alert per window length). */
  quietUntil: number;
}

interface Principal {
  windows: Window[];
  dirty: boolean;
  urgent: boolean;
  /**
   * No read triggers a run before then: after a run that found no crossing (the local view was stale), the next waits
   * for the timer, so a principal near its threshold costs one run per `flushMs`, not one per read.
   */
  urgentAfter: number;
  lastSeen: number;
  running: Promise<void> | null;
}

/** Idle principals are forgotten after this long (their stored buckets remain). */
const IDLE_MS = 10 * 60_000;
/** Subject ids taken from one call: a segment page is at most 1,000. */
const MAX_SUBJECTS_PER_CALL = 1000;

export class DisclosureMonitor {
  readonly #principals = new Map<string, Principal>();
  readonly #now: () => number;
  readonly #flushMs: number;
  readonly #maxPrincipals: number;
  readonly #maxWindowMs: number;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | null = null;
  #lastPrune = 0;

  constructor(private readonly deps: MonitorDeps) {
    this.#now = deps.now ?? Date.now;
    this.#flushMs = deps.flushMs ?? 1000;
    this.#maxPrincipals = deps.maxPrincipals ?? 1000;
    if (!Number.isSafeInteger(this.#flushMs) || this.#flushMs < 10) throw new RangeError('flushMs must be a whole number of milliseconds ≥ 10');
    if (!Number.isSafeInteger(this.#maxPrincipals) || this.#maxPrincipals < 1) throw new RangeError('maxPrincipals must be a whole number ≥ 1');
    this.#maxWindowMs = Math.max(...deps.settings.windows.map((w) => w.seconds * 1000));
  }

  start(): this {
    this.#timer ??= setInterval(() => void this.tick(), this.#flushMs);
    this.#timer.unref();
    return this;
  }

  /**
   * Records that `principal` was shown these subjects. Returns a promise only when a window reached its threshold here:
   * awaiting it decides the crossing on the shared count (and suspends) before the read is answered.
   */
  disclosed(principal: string, subjectIds: readonly string[]): Promise<void> | undefined {
    if (subjectIds.length === 0 || !isPrincipal(principal)) return undefined;
    const now = this.#now();
    const p = this.#principal(principal, now);
    const n = Math.min(subjectIds.length, MAX_SUBJECTS_PER_CALL);
    for (let i = 0; i < n; i++) {
      const key = this.deps.keyOf(subjectIds[i]!);
      for (const w of p.windows) {
        const start = now - (now % w.bucketMs);
        let bucket = w.pending.get(start);
        if (!bucket) w.pending.set(start, (bucket = new DistinctSketch()));
        bucket.add(key);
        if (w.union.add(key) && now >= w.quietUntil && w.union.estimate() >= w.spec.subjects) p.urgent = true;
      }
    }
    p.dirty = true;
    if (!p.urgent || now < p.urgentAfter) return undefined;
    p.urgent = false;
    p.urgentAfter = now + this.#flushMs;
    return this.#run(principal, p);
  }

  /** Merges and evaluates every principal read since the last tick, and prunes old buckets now and then. */
  tick(): Promise<void> {
    this.#ticking ??= (async () => {
      const now = this.#now();
      for (const [id, p] of [...this.#principals]) {
        if (p.dirty) await this.#run(id, p).catch((err: unknown) => this.deps.onError(err));
        else if (now - p.lastSeen > IDLE_MS && !p.running) this.#principals.delete(id);
      }
      if (now - this.#lastPrune >= 60_000) {
        this.#lastPrune = now;
        const oldest = now - this.#maxWindowMs - 2 * Math.ceil(this.#maxWindowMs / BUCKETS_PER_WINDOW);
        await new DisclosureRepo(this.deps.db).prune(oldest, now - this.#maxWindowMs).catch((err: unknown) => this.deps.onError(err));
      }
    })().finally(() => {
      this.#ticking = null;
    });
    return this.#ticking;
  }

  /** Merges what is pending and waits for the runs in progress (tests, shutdown). */
  async flush(): Promise<void> {
    await this.#ticking;
    await this.tick();
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }

  #principal(id: string, now: number): Principal {
    let p = this.#principals.get(id);
    if (p) {
      // Most recently active last: the front of the map is what the bound drops first.
      this.#principals.delete(id);
    } else {
      if (this.#principals.size >= this.#maxPrincipals) this.#dropOne();
      p = {
        windows: this.deps.settings.windows.map((spec) => ({
          spec,
          windowMs: spec.seconds * 1000,
          bucketMs: Math.ceil((spec.seconds * 1000) / BUCKETS_PER_WINDOW),
          union: new DistinctSketch(),
          pending: new Map(),
          quietUntil: 0,
        })),
        dirty: false,
        urgent: false,
        urgentAfter: 0,
        lastSeen: now,
        running: null,
      };
    }
    p.lastSeen = now;
    this.#principals.set(id, p);
    return p;
  }

  /**
   * Drops the least recently active principal with nothing pending; if every one has reads pending, the oldest one's
   * are merged first in the background (its state is stored, so nothing is lost but this process's view of it).
   */
  #dropOne(): void {
    for (const [id, p] of this.#principals) {
      if (!p.dirty && !p.running) {
        this.#principals.delete(id);
        return;
      }
    }
    const [id, p] = this.#principals.entries().next().value!;
    this.#principals.delete(id);
    void this.#run(id, p).catch((err: unknown) => this.deps.onError(err));
  }

  /** One run at a time per principal; a run asked for while one is in progress follows it. */
  #run(id: string, p: Principal): Promise<void> {
    const next = (p.running ?? Promise.resolve()).then(() => this.#evaluate(id, p));
    const settled = next.finally(() => {
      if (p.running === settled) p.running = null;
    });
    p.running = settled;
    return next;
  }

  async #evaluate(id: string, p: Principal): Promise<void> {
    if (!p.dirty) return;
    p.dirty = false;
    // Taken now: reads made while this runs go to fresh pending sketches, merged by the next run.
    const taken = p.windows.map((w) => {
      const pending = w.pending;
      w.pending = new Map();
      return pending;
    });
    const now = this.#now();
    try {
      await this.#merge(id, p, taken, now);
    } catch (err) {
      // Put back, to be merged by the next tick; buckets that have left their window by now are dropped, so a long
      // outage keeps at most a window's worth of buckets per window.
      p.windows.forEach((w, i) => {
        for (const [start, s] of taken[i]!) {
          if (start < now - w.windowMs - 2 * w.bucketMs) continue;
          const mine = w.pending.get(start);
          if (mine) s.merge(mine);
          w.pending.set(start, s);
        }
      });
      p.dirty = true;
      throw err;
    }
    await this.#rebuild(id, p, now);
    for (const w of p.windows) {
      const subjects = w.union.estimate();
      if (subjects < w.spec.subjects || now < w.quietUntil) continue;
      // Quiet for the whole span a window measures (its length and one bucket): by then the reads that crossed it have
      // left it, so a token reinstated after an alert is not suspended again for the same reads.
      const span = w.windowMs + w.bucketMs;
      w.quietUntil = now + span;
      // Another process that crossed the same window in the same stretch has alerted already.
      if (!(await new DisclosureRepo(this.deps.db).claimAlert(id, w.spec.seconds, now - span, now))) continue;
      await this.deps.onCrossing({ principal: id, windowSeconds: w.spec.seconds, threshold: w.spec.subjects, subjects, exact: w.union.exact });
    }
  }

  /** Adds this process's pending reads to the stored buckets, in one transaction with the rows locked. */
  async #merge(id: string, p: Principal, taken: readonly Map<number, DistinctSketch>[], now: number): Promise<void> {
    const keys: { key: BucketKey; sketch: DistinctSketch }[] = [];
    p.windows.forEach((w, i) => {
      for (const [start, sketch] of taken[i]!) keys.push({ key: { principal: id, windowSeconds: w.spec.seconds, bucketStart: start }, sketch });
    });
    if (keys.length === 0) return;
    await this.deps.db.transaction(async (trx) => {
      const repo = new DisclosureRepo(trx);
      const stored = await repo.lockBuckets(keys.map((k) => k.key), EMPTY, now);
      for (const { key, sketch } of keys) {
        const merged = DistinctSketch.fromBuffer(stored.get(bucketId(key)) ?? EMPTY);
        merged.merge(sketch);
        await repo.writeBucket(key, merged.toBuffer(), now);
      }
    });
  }

  /** Each window's union from every process's buckets now in it, plus the reads pending here. */
  async #rebuild(id: string, p: Principal, now: number): Promise<void> {
    const maxBucket = Math.max(...p.windows.map((w) => w.bucketMs));
    const rows = await new DisclosureRepo(this.deps.db).bucketsSince(id, now - this.#maxWindowMs - maxBucket);
    for (const w of p.windows) {
      const from = now - (now % w.bucketMs) - BUCKETS_PER_WINDOW * w.bucketMs;
      const union = new DistinctSketch();
      for (const r of rows) {
        if (r.window_seconds !== w.spec.seconds || Number(r.bucket_start) < from) continue;
        try {
          union.merge(DistinctSketch.fromBuffer(r.sketch));
        } catch (err) {
          // A damaged row counts as empty rather than stopping detection for everyone; it is reported.
          this.deps.onError(err);
        }
      }
      for (const s of w.pending.values()) union.merge(s);
      w.union = union;
    }
  }
}
