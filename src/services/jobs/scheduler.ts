// The one scheduler of background work: each registered job runs every interval, once across all processes sharing the
// database (a lease per job in the `jobs` table), and any job can be run once by hand (the CLI, tests).
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { FiduciaError } from '../../domain/errors.ts';
import { didYouMean } from '../../domain/edit-distance.ts';
import { JobRepo, type JobRow } from '../../store/job-repo.ts';
import type { DataScope } from '../../store/scope.ts';
import type { Metrics } from '../metrics.ts';

/** What a job's run reports: counts only (rows deleted, keys destroyed, …), never a personal value. */
export type JobCounts = Record<string, number>;

export interface JobContext {
  /** Aborted when the scheduler closes or the lease is lost: a long job stops at its next safe point. */
  signal: AbortSignal;
  /** Progress for the CLI's bar: `done` of `total` units (total unknown: omit it). */
  progress(done: number, total?: number): void;
}

export interface JobDefinition {
  /** kebab-case, unique: the CLI and the API name the job by it. */
  name: string;
  description: string;
  /** Milliseconds between runs; ≤ 0: never scheduled by this process (it still runs by hand). */
  intervalMs: number;
  run(ctx: JobContext): Promise<JobCounts>;
}

export interface JobRunResult {
  name: string;
  /** `busy`: another process holds the job's lease, so this run did not happen. */
  outcome: 'ok' | 'failed' | 'busy';
  startedAt: number;
  finishedAt: number;
  durationMs: number;
  counts: JobCounts;
  /** An error code or class name: messages stay out (they can quote personal values). */
  error: string | null;
}

export interface JobView {
  name: string;
  description: string;
  intervalMs: number;
  nextRunAt: number | null;
  /** Whether some process holds the job's lease now (it is running there). */
  leased: boolean;
  lastRun: { startedAt: number; finishedAt: number; durationMs: number; outcome: string; counts: JobCounts; error: string | null } | null;
}

export interface SchedulerOptions {
  logger?: Logger | undefined;
  metrics?: Metrics | undefined;
  /** How long a claim holds without renewal (default one minute): a process that dies frees its jobs after this. */
  leaseMs?: number | undefined;
  /** Milliseconds between looks for due jobs (default: the shortest interval, at most 5 s). */
  tickMs?: number | undefined;
  /** This process's name in leases (default host, pid and a random suffix). */
  owner?: string | undefined;
  /** The clock of due times and leases (tests move it). */
  now?: (() => number) | undefined;
}

const NAME = /^[a-z][a-z0-9-]{0,62}$/;

export class JobScheduler {
  readonly owner: string;
  readonly #repo: JobRepo;
  readonly #jobs = new Map<string, JobDefinition>();
  readonly #running = new Map<string, Promise<JobRunResult>>();
  readonly #controllers = new Set<AbortController>();
  readonly #leaseMs: number;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | null = null;
  #claiming: Promise<Promise<JobRunResult>[]> | null = null;
  #closed = false;

  constructor(
    db: DataScope,
    private readonly opts: SchedulerOptions = {},
  ) {
    this.#repo = new JobRepo(db);
    this.#leaseMs = opts.leaseMs ?? 60_000;
    this.#now = opts.now ?? Date.now;
    this.owner = opts.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  }

  register(...jobs: JobDefinition[]): this {
    for (const job of jobs) {
      if (!NAME.test(job.name)) throw new TypeError(`invalid job name "${job.name}"`);
      if (this.#jobs.has(job.name)) throw new TypeError(`job "${job.name}" is registered twice`);
      this.#jobs.set(job.name, job);
    }
    return this;
  }

  names(): string[] {
    return [...this.#jobs.keys()];
  }

  get(name: string): JobDefinition | undefined {
    return this.#jobs.get(name);
  }

  /** Writes each job's row (first due one interval from now) and starts the timer when some job is scheduled. */
  async start(): Promise<this> {
    const now = this.#now();
    for (const job of this.#jobs.values()) await this.#repo.register(job.name, job.intervalMs > 0 ? now + job.intervalMs : null);
    const intervals = [...this.#jobs.values()].map((j) => j.intervalMs).filter((ms) => ms > 0);
    if (intervals.length > 0) {
      const tickMs = this.opts.tickMs ?? Math.min(5_000, ...intervals);
      this.#timer = setInterval(() => void this.tick(), tickMs);
      this.#timer.unref();
    }
    return this;
  }

  /**
   * Claims the jobs due now that no process runs and starts them; resolves when those runs have finished. Only the
   * claim is serialized: a long run does not hold up the next tick's claim of other jobs.
   */
  async tick(): Promise<JobRunResult[]> {
    if (this.#closed) return [];
    this.#claiming ??= this.#claimDue().finally(() => {
      this.#claiming = null;
    });
    const started = await this.#claiming;
    return Promise.all(started);
  }

  /**
   * Runs one job now, due or not (the CLI, tests). Joins this process's run in progress; `busy` when another process
   * holds the lease. An unknown name is a FIDUCIA_NOT_FOUND error with a "did you mean".
   */
  runOnce(name: string, onProgress?: (done: number, total?: number) => void): Promise<JobRunResult> {
    const job = this.#jobs.get(name);
    if (!job) return Promise.reject(new FiduciaError('FIDUCIA_NOT_FOUND', `no job "${name}"${didYouMean(name, this.names())}`, { jobs: this.names() }));
    const running = this.#running.get(name);
    if (running) return running;
    return this.#track(name, async () => {
      const now = this.#now();
      await this.#repo.register(name, null);
      if (!(await this.#repo.claim(name, this.owner, now, this.#leaseMs))) {
        this.opts.metrics?.jobRuns.inc({ job: name, outcome: 'busy' });
        return { name, outcome: 'busy', startedAt: now, finishedAt: now, durationMs: 0, counts: {}, error: null };
      }
      return this.#execute(job, onProgress);
    });
  }

  /** Every registered job with its shared state (last run, next due time, lease). */
  async list(): Promise<JobView[]> {
    const rows = new Map((await this.#repo.list()).map((r) => [r.name, r]));
    const now = this.#now();
    return [...this.#jobs.values()].map((job) => view(job, rows.get(job.name), now));
  }

  /** Stops the timer, signals running jobs to stop at a safe point, and waits for them. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    for (const c of this.#controllers) c.abort(new Error('the scheduler is closing'));
    await this.#claiming;
    await Promise.allSettled([...this.#running.values()]);
  }

  async #claimDue(): Promise<Promise<JobRunResult>[]> {
    const intervals = new Map<string, number>();
    for (const job of this.#jobs.values()) if (job.intervalMs > 0 && !this.#running.has(job.name)) intervals.set(job.name, job.intervalMs);
    let claimed: string[];
    try {
      claimed = await this.#repo.claimDue(intervals, this.owner, this.#now(), this.#leaseMs);
    } catch (err) {
      this.opts.logger?.error({ err: errorCode(err) }, 'claiming due jobs failed');
      return [];
    }
    return claimed.map((name) => this.#track(name, () => this.#execute(this.#jobs.get(name)!)));
  }

  #track(name: string, work: () => Promise<JobRunResult>): Promise<JobRunResult> {
    const p: Promise<JobRunResult> = work().finally(() => {
      if (this.#running.get(name) === p) this.#running.delete(name);
    });
    this.#running.set(name, p);
    return p;
  }

  /** Runs a job whose lease this process holds, renewing the lease meanwhile, and records the outcome. */
  async #execute(job: JobDefinition, onProgress?: (done: number, total?: number) => void): Promise<JobRunResult> {
    const controller = new AbortController();
    this.#controllers.add(controller);
    const renewal = setInterval(() => {
      this.#repo.renew(job.name, this.owner, this.#now() + this.#leaseMs).then(
        (held) => {
          if (!held) controller.abort(new Error('the job lease was lost'));
        },
        (err: unknown) => this.opts.logger?.warn({ job: job.name, err: errorCode(err) }, 'renewing a job lease failed'),
      );
    }, Math.max(10, Math.floor(this.#leaseMs / 3)));
    renewal.unref();
    const startedAt = this.#now();
    let counts: JobCounts = {};
    let error: string | null = null;
    try {
      counts = onlyCounts(await job.run({ signal: controller.signal, progress: onProgress ?? (() => undefined) }));
    } catch (err) {
      error = errorCode(err);
      this.opts.logger?.error({ job: job.name, err: error }, 'job failed');
    } finally {
      clearInterval(renewal);
      this.#controllers.delete(controller);
    }
    const finishedAt = Math.max(startedAt, this.#now());
    const result: JobRunResult = { name: job.name, outcome: error === null ? 'ok' : 'failed', startedAt, finishedAt, durationMs: finishedAt - startedAt, counts, error };
    await this.#record(result);
    return result;
  }

  async #record(r: JobRunResult): Promise<void> {
    const m = this.opts.metrics;
    if (m) {
      m.jobRuns.inc({ job: r.name, outcome: r.outcome });
      m.jobLastRun.set({ job: r.name }, r.finishedAt / 1000);
      m.jobLastDuration.set({ job: r.name }, r.durationMs / 1000);
      for (const [count, value] of Object.entries(r.counts)) m.jobLastCount.set({ job: r.name, count }, value);
    }
    const outcome = r.outcome === 'ok' ? 'ok' : 'failed';
    try {
      const held = await this.#repo.finish(r.name, this.owner, { startedAt: r.startedAt, finishedAt: r.finishedAt, outcome, counts: r.counts, error: r.error });
      if (!held) this.opts.logger?.warn({ job: r.name }, 'job finished after its lease expired: its run is not recorded');
    } catch (err) {
      this.opts.logger?.error({ job: r.name, err: errorCode(err) }, 'recording a job run failed');
    }
  }
}

/** Finite numbers only (booleans as 0/1): whatever else a job returns stays out of the table and the metrics. */
function onlyCounts(raw: unknown): JobCounts {
  const out: JobCounts = {};
  if (raw === null || typeof raw !== 'object') return out;
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
    else if (typeof v === 'boolean') out[k] = v ? 1 : 0;
  }
  return out;
}

/** A code or class name: error messages of mail and database drivers can quote addresses and values. */
function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.length <= 64) return code;
  return err instanceof Error ? err.name : 'error';
}

function view(job: JobDefinition, row: JobRow | undefined, now: number): JobView {
  const ran = row?.last_started_at != null && row.last_finished_at != null;
  return {
    name: job.name,
    description: job.description,
    intervalMs: Math.max(0, job.intervalMs),
    nextRunAt: row?.next_run_at ?? null,
    leased: row?.lease_until != null && row.lease_until > now,
    lastRun: ran
      ? {
          startedAt: row.last_started_at!,
          finishedAt: row.last_finished_at!,
          durationMs: row.last_duration_ms ?? row.last_finished_at! - row.last_started_at!,
          outcome: row.last_outcome ?? 'ok',
          counts: onlyCounts(JSON.parse(row.last_counts ?? '{}')),
          error: row.last_error,
        }
      : null,
  };
}
