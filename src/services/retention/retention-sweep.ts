// The retention sweep (DESIGN §3 "Keep"): deletes events and traits no purpose keeps any longer (period over, basis
// withdrawn, purpose removed), optionally counting deleted events into anonymous aggregates first, and crypto-shreds
// subjects left with nothing worth keeping: a page of subjects per transaction (retention-step.ts). One audit entry per
// sweep, counts only. See docs/retention.md.
import type { Logger } from 'pino';
import type { CompiledConfig } from '../../domain/privacy-config.ts';
import type { RetentionRules } from '../../domain/retention.ts';
import { isTransientConflict } from '../../store/conflicts.ts';
import { ErasureRepo } from '../../store/erasure-repo.ts';
import { ProfileRepo } from '../../store/profile-repo.ts';
import type { DataScope } from '../../store/scope.ts';
import type { AuditPort } from '../audit/audit-port.ts';
import type { KeyRing } from '../keys/keyring.ts';
import { emptyReport, EVENT_ROWS, sweepStep, TRAIT_ROWS, type Resume, type StepContext, type StepOutcome } from './retention-step.ts';

export interface RetentionDeps {
  db: DataScope;
  ring: KeyRing;
  cfg: CompiledConfig;
  audit: AuditPort;
  /** Segment state and memberships: rebuilt from the events left, forgotten with an erased subject. */
  segments?: { rebuildSubjects(db: DataScope, ids: readonly string[]): Promise<void>; forget(db: DataScope, ids: readonly string[]): Promise<void> } | undefined;
  /** Decrypted trait values this process keeps for reads: a subject whose traits were deleted is dropped from it. */
  plaintext?: { forget(subjectId: string): void } | undefined;
  logger: Logger;
  /** The clock the periods are measured against (tests move it forward); default `Date.now`. */
  now?: (() => number) | undefined;
  /** Rows one transaction reads per table (tests make them small); default EVENT_ROWS and TRAIT_ROWS. */
  rowBounds?: { events: number; traits: number } | undefined;
}

export interface RetentionReport {
  subjectsChecked: number;
  /** Subjects left alone: under a legal hold or an Art. 18 restriction. */
  subjectsHeld: number;
  eventsDeleted: number;
  traitsDeleted: number;
  /** Deleted rows (events and traits) by why: period over, basis lost, purpose no longer configured. */
  expired: number;
  basisLost: number;
  purposeRemoved: number;
  /** Events counted into the anonymous aggregates before deletion (0 when the configuration keeps none). */
  eventsAggregated: number;
  /** Subjects left with nothing worth keeping, crypto-shredded (rows deleted, data key destroyed). */
  subjectsErased: number;
  /** 1 when the sweep stopped early (shutdown, lost lease); the next run carries on. */
  interrupted: number;
}

export interface SweepOptions {
  signal?: AbortSignal | undefined;
  progress?: ((done: number) => void) | undefined;
}

const SUBJECT_PAGE = 200;
/**
 * Bounds of every loop: subject pages per sweep, transactions of its own per subject (each up to EVENT_ROWS events
 * and TRAIT_ROWS traits), attempts of a transaction PostgreSQL aborted to break a deadlock. A larger store takes
 * several sweeps.
 */
const MAX_SUBJECT_PAGES = 50_000;
const MAX_ROW_PAGES = 10_000;
const MAX_ATTEMPTS = 3;
const SYSTEM = 'system';

export function retentionRules(cfg: CompiledConfig): RetentionRules {
  return { purposes: new Map(cfg.config.purposes.map((p) => [p.key, p])), noticeVersionValid: (v) => cfg.noticeVersionValid(v) };
}

function addCounts(report: RetentionReport, counts: RetentionReport): void {
  for (const k of Object.keys(report) as (keyof RetentionReport)[]) report[k] += counts[k];
}

export class RetentionSweep {
  readonly #rules: RetentionRules;
  readonly #aggregates: boolean;
  readonly #now: () => number;

  constructor(private readonly deps: RetentionDeps) {
    this.#rules = retentionRules(deps.cfg);
    this.#aggregates = deps.cfg.config.retention?.aggregates ?? false;
    this.#now = deps.now ?? Date.now;
  }

  /** One sweep over every live subject; its counts go to the audit log (also when it stops early). */
  async run(opts: SweepOptions = {}): Promise<RetentionReport> {
    const ctx: StepContext = {
      rules: this.#rules,
      aggregates: this.#aggregates,
      ring: this.deps.ring,
      segments: this.deps.segments,
      now: this.#now(),
      rows: this.deps.rowBounds ?? { events: EVENT_ROWS, traits: TRAIT_ROWS },
    };
    const report = emptyReport();
    const erased: string[] = [];
    let after: string | null = null;
    let failed = true;
    try {
      for (let page = 0; page < MAX_SUBJECT_PAGES; page++) {
        const ids = await new ProfileRepo(this.deps.db).liveSubjectsPage(after, SUBJECT_PAGE);
        if (!(await this.#sweepPage(ctx, ids, report, erased, opts.signal))) {
          report.interrupted = 1;
          failed = false;
          return report;
        }
        opts.progress?.(report.subjectsChecked);
        if (ids.length < SUBJECT_PAGE) break;
        after = ids[ids.length - 1]!;
      }
      failed = false;
    } finally {
      // Also when a step failed: what was deleted up to there is on record.
      await this.#finish(report, erased, failed);
    }
    return report;
  }

  async #finish(report: RetentionReport, erased: readonly string[], failed: boolean): Promise<void> {
    if (erased.length > 0) {
      // The erased subjects' keys leave the keystore's files and pages too (as after an erasure request).
      try {
        await this.deps.ring.purge(erased);
        await new ErasureRepo(this.deps.db).truncateWal();
      } catch (err) {
        this.deps.logger.warn({ err: err instanceof Error ? err.name : 'error' }, 'retention: the keystore could not be purged now; the rights sweep will');
      }
    }
    const { interrupted, ...counts } = report;
    await this.deps.audit.append(this.deps.db, [{ actor: SYSTEM, action: 'retention.sweep', subjectId: null, counts, outcome: failed ? 'failed' : 'ok', details: { interrupted: interrupted === 1, aggregates: this.#aggregates } }]);
  }

  /**
   * One page of subjects (in id order): one transaction for as many of them as their rows allow (all of them, unless
   * one has more than a transaction's rows), then that one alone until it is finished, then the rest the same way.
   * False when the signal stopped it between two transactions.
   */
  async #sweepPage(ctx: StepContext, ids: readonly string[], report: RetentionReport, erased: string[], signal: AbortSignal | undefined): Promise<boolean> {
    let from = 0;
    while (from < ids.length) {
      if (signal?.aborted) return false;
      const rest = ids.slice(from);
      const out = await this.#step(ctx, rest, null, report, erased);
      from += out.counts.subjectsChecked;
      if (out.resume) {
        if (!(await this.#sweepAlone(ctx, out.resume, report, erased, signal))) return false;
        from++;
      }
    }
    return true;
  }

  /** A subject with more rows than one transaction reads: its further rows, a transaction at a time, up to MAX_ROW_PAGES. */
  async #sweepAlone(ctx: StepContext, first: Resume, report: RetentionReport, erased: string[], signal: AbortSignal | undefined): Promise<boolean> {
    let resume: Resume | null = first;
    for (let n = 1; resume; n++) {
      if (signal?.aborted) return false;
      // Past the bound its remaining rows wait for the next sweep; what was deleted is still followed up (segments).
      if (n >= MAX_ROW_PAGES) resume = { ...resume, events: 'done', traits: 'done' };
      resume = (await this.#step(ctx, [resume.subjectId], resume, report, erased)).resume;
    }
    return true;
  }

  /** One transaction (run again if PostgreSQL aborted it to break a deadlock); its counts join the report once committed. */
  async #step(ctx: StepContext, subjects: readonly string[], resume: Resume | null, report: RetentionReport, erased: string[]): Promise<StepOutcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        const out = await this.deps.db.transaction((trx) => sweepStep(trx, ctx, subjects, resume));
        addCounts(report, out.counts);
        erased.push(...out.destroyed);
        for (const id of out.traitsLost) this.deps.plaintext?.forget(id);
        return out;
      } catch (err) {
        if (attempt >= MAX_ATTEMPTS || !isTransientConflict(err)) throw err;
        this.deps.logger.info({ attempt }, 'retention: a transaction lost a lock race and runs again');
      }
    }
  }
}
