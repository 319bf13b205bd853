// Backpressure for the ingestion writer: past a bound on queued work, a batch is refused with 503 and Retry-After
// (which the Segment and RudderStack SDKs honour) instead of waiting in a queue that only grows. The bound is time:
// the messages already queued, at the rate the writer has been committing them, must be done within `maxQueueMs`.
import { FiduciaError } from '../../domain/errors.ts';

export interface AdmissionSettings {
  /** How long the queued messages may take to commit, at the measured rate, before new batches are refused. */
  maxQueueMs: number;
  /** Below this many queued messages nothing is refused, whatever the rate (a cold start has no rate yet). */
  minQueued: number;
}

export const DEFAULT_ADMISSION: AdmissionSettings = { maxQueueMs: 500, minQueued: 1000 };

/** Weight of the newest commit in the rate's moving average. */
const ALPHA = 0.2;
const MAX_RETRY_AFTER_S = 30;

export class IngestOverloadedError extends FiduciaError {
  constructor(readonly retryAfterSeconds: number) {
    super('FIDUCIA_UNAVAILABLE', `Fiducia is busy: retry after ${retryAfterSeconds} s`, { reason: 'overloaded', retryAfterSeconds });
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
   * Takes `n` messages into the queue, or refuses them. An empty queue takes any batch, so one batch larger than the
   * bound still goes through when the writer is idle.
   */
  enter(n: number): void {
    if (this.#queued > 0 && this.#queued + n > this.limit) throw new IngestOverloadedError(this.retryAfterSeconds());
    this.#queued += n;
  }

  /** `n` messages left the queue (committed or failed). */
  leave(n: number): void {
    this.#queued = Math.max(0, this.#queued - n);
  }

  /** One group commit of `messages` took `ms` of the writer's time. */
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
