// The retention sweep (DESIGN §3 "Keep"): deletes events and traits no purpose keeps any longer (period over, basis
// withdrawn, purpose removed), optionally counting deleted events into anonymous aggregates first, and crypto-shreds
// subjects left with nothing worth keeping. One audit entry per sweep, counts only. See docs/retention.md.
import type { Logger } from 'pino';
import type { ConsentStatus } from '../../domain/consent.ts';
import type { SubjectConsent, SubjectState } from '../../domain/policy.ts';
import type { CompiledConfig } from '../../domain/privacy-config.ts';
import { aggregateDay, rowKept, subjectWorthKeeping, type DropReason, type RetentionRules } from '../../domain/retention.ts';
import { ErasureRepo } from '../../store/erasure-repo.ts';
import { EventRepo } from '../../store/event-repo.ts';
import { ProfileRepo } from '../../store/profile-repo.ts';
import { RetentionRepo } from '../../store/retention-repo.ts';
import { RightsRepo } from '../../store/rights-repo.ts';
import type { RetentionAggregatesTable } from '../../store/schema.ts';
import type { DataScope } from '../../store/scope.ts';
import { SubjectStateRepo, type StoredSubjectState } from '../../store/subject-state-repo.ts';
import type { AuditPort } from '../audit/audit-port.ts';
import type { KeyRing } from '../keys/keyring.ts';

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
const ROW_PAGE = 500;
/** Bounds of every loop: subjects (pages of 200) per sweep, row pages per subject; a larger store takes several sweeps. */
const MAX_SUBJECT_PAGES = 50_000;
const MAX_ROW_PAGES = 10_000;
const SYSTEM = 'system';

function emptyReport(): RetentionReport {
  return { subjectsChecked: 0, subjectsHeld: 0, eventsDeleted: 0, traitsDeleted: 0, expired: 0, basisLost: 0, purposeRemoved: 0, eventsAggregated: 0, subjectsErased: 0, interrupted: 0 };
}

export function retentionRules(cfg: CompiledConfig): RetentionRules {
  return { purposes: new Map(cfg.config.purposes.map((p) => [p.key, p])), noticeVersionValid: (v) => cfg.noticeVersionValid(v) };
}

function toSubjectState(s: StoredSubjectState): SubjectState {
  const consents = new Map<string, SubjectConsent>();
  for (const c of s.consents) consents.set(c.purpose, { purpose: c.purpose, status: c.status as ConsentStatus, noticeVersion: c.noticeVersion, method: c.method, at: c.at, explicit: c.explicit });
  return { consents, restricted: s.restrictedAt !== null, erased: s.erasedAt !== null, objections: new Set(s.objections) };
}

function countDrop(report: RetentionReport, reason: DropReason): void {
  if (reason === 'expired') report.expired++;
  else if (reason === 'basis_lost') report.basisLost++;
  else report.purposeRemoved++;
}

const parsePurposes = (json: string): string[] => {
  const v = JSON.parse(json) as unknown;
  return Array.isArray(v) ? v.filter((p): p is string => typeof p === 'string') : [];
};

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
    const now = this.#now();
    const report = emptyReport();
    const erased: string[] = [];
    let after: string | null = null;
    let failed = true;
    try {
      for (let page = 0; page < MAX_SUBJECT_PAGES; page++) {
        const ids = await new ProfileRepo(this.deps.db).liveSubjectsPage(after, SUBJECT_PAGE);
        for (const id of ids) {
          if (opts.signal?.aborted) {
            report.interrupted = 1;
            failed = false;
            return report;
          }
          await this.#sweepSubject(id, now, report, erased);
          report.subjectsChecked++;
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

  async #sweepSubject(subjectId: string, now: number, report: RetentionReport, erased: string[]): Promise<void> {
    const state = await this.#state(this.deps.db, subjectId);
    if (state === 'gone') return;
    if (state === 'held') {
      report.subjectsHeld++;
      return;
    }
    const deletedEvents = await this.#sweepEvents(subjectId, now, report);
    const deletedTraits = await this.#sweepTraits(subjectId, now, report);
    if (deletedTraits > 0) this.deps.plaintext?.forget(subjectId);
    const keys = await this.#eraseIfEmpty(subjectId, now);
    if (keys) {
      erased.push(...keys);
      report.subjectsErased++;
      return;
    }
    if (deletedEvents > 0 && this.deps.segments) {
      const segments = this.deps.segments;
      await this.deps.db.transaction((trx) => segments.rebuildSubjects(trx, [subjectId]));
    }
  }

  /** The subject's state, read under its lock: `gone` (erased or merged meanwhile), `held` (legal hold, restriction). */
  async #state(db: DataScope, subjectId: string): Promise<SubjectState | 'gone' | 'held'> {
    const [row] = await new ProfileRepo(db).lockSubjects([subjectId], 'update');
    if (!row || row.merged_into !== null || row.erased_at !== null) return 'gone';
    const stored = await new SubjectStateRepo(db).stateOf(subjectId);
    if (!stored) return 'gone';
    const state = toSubjectState(stored);
    if (state.restricted || (await new RightsRepo(db).activeHold(subjectId))) return 'held';
    return state;
  }

  /** Deletes the subject's events no purpose keeps, a page per transaction (state re-read under the lock each time). */
  async #sweepEvents(subjectId: string, now: number, report: RetentionReport): Promise<number> {
    let deleted = 0;
    let after: string | null = null;
    await this.#inPages(subjectId, async (trx, state) => {
      const events = new EventRepo(trx);
      const rows = await events.retentionPage(subjectId, after, ROW_PAGE);
      const doomed: string[] = [];
      const counts = new Map<string, RetentionAggregatesTable>();
      for (const r of rows) {
        const purposes = parsePurposes(r.purposes);
        const d = rowKept(purposes, Number(r.received_at), state, now, this.#rules);
        if (d.keep) continue;
        doomed.push(r.id);
        countDrop(report, d.reason);
        if (this.#aggregates) this.#count(counts, r, purposes);
      }
      if (counts.size > 0) await new RetentionRepo(trx).add([...counts.values()]);
      if (this.#aggregates) report.eventsAggregated += doomed.length;
      const n = await events.deleteByIds(subjectId, doomed);
      deleted += n;
      report.eventsDeleted += n;
      after = rows.length > 0 ? rows[rows.length - 1]!.id : after;
      return rows.length < ROW_PAGE;
    });
    return deleted;
  }

  /**
   * Runs `page` once per transaction, with the subject's state re-read under its lock each time, until a page says it
   * was the last, the subject is gone or held, or MAX_ROW_PAGES pages have run.
   */
  async #inPages(subjectId: string, page: (trx: DataScope, state: SubjectState) => Promise<boolean>): Promise<void> {
    for (let n = 0; n < MAX_ROW_PAGES; n++) {
      const done = await this.deps.db.transaction(async (trx) => {
        const state = await this.#state(trx, subjectId);
        return typeof state === 'string' ? true : page(trx, state);
      });
      if (done) return;
    }
  }

  #count(counts: Map<string, RetentionAggregatesTable>, r: { type: string; event_name: string | null; timestamp: number }, purposes: readonly string[]): void {
    const day = aggregateDay(Number(r.timestamp));
    for (const purpose of purposes.length > 0 ? purposes : ['']) {
      const row = { day, purpose, type: r.type, event_name: r.event_name ?? '', count: 0 };
      const key = `${row.day}\u0000${row.purpose}\u0000${row.type}\u0000${row.event_name}`;
      const existing = counts.get(key) ?? row;
      existing.count++;
      counts.set(key, existing);
    }
  }

  async #sweepTraits(subjectId: string, now: number, report: RetentionReport): Promise<number> {
    let deleted = 0;
    let after: string | null = null;
    await this.#inPages(subjectId, async (trx, state) => {
      const profiles = new ProfileRepo(trx);
      const rows = await profiles.traitRetentionPage(subjectId, after, ROW_PAGE);
      const doomed: string[] = [];
      for (const r of rows) {
        const d = rowKept(parsePurposes(r.purposes), Number(r.updated_at), state, now, this.#rules);
        if (d.keep) continue;
        doomed.push(r.name);
        countDrop(report, d.reason);
      }
      const n = await profiles.deleteTraitsNamed(subjectId, doomed);
      deleted += n;
      report.traitsDeleted += n;
      after = rows.length > 0 ? rows[rows.length - 1]!.name : after;
      return rows.length < ROW_PAGE;
    });
    return deleted;
  }

  /**
   * A subject with no events and no traits left, and nothing worth keeping (src/domain/retention.ts), is erased the
   * way an erasure request erases: rows deleted, segment data forgotten, data keys destroyed (crypto-shredding). Not
   * suppressed: the person may come back. Returns the destroyed key ids, or null when the subject stays.
   */
  async #eraseIfEmpty(subjectId: string, now: number): Promise<string[] | null> {
    const keys = await this.deps.db.transaction(async (trx) => {
      const state = await this.#state(trx, subjectId);
      if (typeof state === 'string') return null;
      const profiles = new ProfileRepo(trx);
      if ((await new EventRepo(trx).anyOf(subjectId)) || (await profiles.anyTraitOf(subjectId))) return null;
      if (subjectWorthKeeping({ assertedIdentity: await profiles.hasAssertedIdentity(subjectId), state }, now, this.#rules)) return null;
      const erasure = new ErasureRepo(trx);
      const merged = await erasure.mergedInto(subjectId);
      const packages = await erasure.packageRequests(subjectId);
      if (packages.length > 0) return null; // an access package in flight: its request decides (rights sweep)
      await erasure.deleteSubjectRows(subjectId, merged, now);
      await this.deps.segments?.forget(trx, [subjectId, ...merged]);
      const ids = [subjectId, ...merged];
      // Destroyed before the commit, as an erasure request does: should the commit fail, what is left is unreadable.
      for (const id of ids) await this.deps.ring.destroy(id);
      return ids;
    });
    return keys;
  }
}
