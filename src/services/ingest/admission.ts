// Backpressure for the ingestion writer: past a bound on queued work, a batch is refused with 429 and Retry-After
// instead of waiting in a queue that only grows. 429, not 503: Segment's analytics-node waits out Retry-After only on a
// 429 (and then without spending one of its retries; a 503 gets its own backoff and counts towards the retries after
// which it drops the batch); RudderStack's Node SDK retries both, waiting at least Retry-After. The bound is time:
// the messages already queued, at the rate the writer has been committing them, must be done within `maxQueueMs`.
import { FiduciaError } from '../../domain/errors.ts';

export interface AdmissionSettings {
  /** How long the queued messages may take to commit, at the measured rate, before new batches are refused. */
  maxQueueMs: number;
  /** Below this many queued messages nothing is refused, whatever the rate (a cold start has no rate yet). */
  minQueued: number;
}

export const DEFAULT_ADMISSION: AdmissionSettings = { maxQueueMs: 100, minQueued: 1000 };

/** Weight of the newest commit in the rate's moving average. */
const ALPHA = 0.2;
const MAX_RETRY_AFTER_S = 30;

export class IngestOverloadedError extends FiduciaError {
  constructor(readonly retryAfterSeconds: number) {
    super('FIDUCIA_RATE_LIMITED', `Fiducia is busy: retry after ${retryAfterSeconds} s`, { reason: 'overloaded', retryAfterSeconds });
    this.name = 'IngestOverloadedError';
  }

  override headers(): Record<string, string> {
    return { 'retry-after': String(this.retryAfterSeconds) };
  }
}

export class Admission {
  #queued = 0;
  /** Messages committed per millisecond of writer time (moving average); 0 until the first commit. */
  #rate = 0;

  constructor(private readonly settings: AdmissionSettings = DEFAULT_ADMISSION) {}

  get queued(): number {
    return this.#queued;
  }

  /** The most messages that may wait: what the writer commits in `maxQueueMs`, never under `minQueued`. */
  get limit(): number {
    return Math.max(this.settings.minQueued, Math.floor(this.#rate * this.settings.maxQueueMs));
  }

  /**
   * The queue is at its bound already: any batch would be refused, so the route can say so before reading the body
   * (a refused batch then costs no parsing).
   */
  get saturated(): boolean {
    return this.#queued > 0 && this.#queued >= this.limit;
  }

  /**
   * Takes `n` messages into the queue, or refuses them. An empty queue takes any batch, so one batch larger than the
   * bound still goes through when the writer is idle; work that counts no message is always taken.
   */
  enter(n: number): void {
    // `n` 0 (a consent choice) is never refused.
    if (n > 0 && this.#queued > 0 && this.#queued + n > this.limit) throw this.refusal();
    this.#queued += n;
  }

  /** The refusal to answer now (the route's early check): 429 with the queue's Retry-After. */
  refusal(): IngestOverloadedError {
    return new IngestOverloadedError(this.retryAfterSeconds());
  }

  /** `n` messages left the queue (committed or failed). */
  leave(n: number): void {
    this.#queued = Math.max(0, this.#queued - n);
  }

  /**
   * `messages` left the writer `ms` after the previous group did (or after the writer became busy): the rate at which
   * the queue drains, with the event loop's other work (parsing the next requests) in it.
   */
  observe(messages: number, ms: number): void {
    if (messages <= 0 || !(ms > 0)) return;
    const rate = messages / ms;
    this.#rate = this.#rate === 0 ? rate : this.#rate + ALPHA * (rate - this.#rate);
  }

  /** When the queue as it stands should be done: whole seconds, at least 1. */
  retryAfterSeconds(): number {
    if (this.#rate === 0) return 1;
    return Math.min(MAX_RETRY_AFTER_S, Math.max(1, Math.ceil(this.#queued / this.#rate / 1000)));
  }
}
