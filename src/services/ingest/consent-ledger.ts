// The consent ledger of one group commit: each subject's consent state per purpose as the flush builds it, the
// Art. 21 objections in force, and the ledger rows the flush appends.
import type { DataScope } from '../../store/scope.ts';
import type { ValidNow } from '../../domain/collection.ts';
import { basisHolds, isUnchanged, nextStatus, type ConsentState, type ConsentStatus } from '../../domain/consent.ts';
import type { ConsentProof } from '../../domain/consent-proof.ts';
import { uuidv7 } from '../../domain/ids.ts';
import type { CompiledConfig } from '../../domain/privacy-config.ts';
import type { NormalizedMessage } from '../../domain/segment-message.ts';
import { ConsentRepo } from '../../store/consent-repo.ts';
import { ObjectionRepo } from '../../store/objection-repo.ts';
import type { ConsentsTable } from '../../store/schema.ts';
import type { Metrics } from '../metrics.ts';
import type { MessagesOp } from './write-op.ts';

/** Under which notice, method, receipt and proof a choice is recorded. */
export interface ChoiceContext {
  noticeVersion: string;
  method: string;
  source: string | null;
  receiptId: string;
  at: number;
  proof: ConsentProof;
  explicit?: boolean | undefined;
}

/** Where a merged-away subject's data now lives (the identity resolver answers). */
export interface SubjectRedirects {
  resolve(subject: string): string;
}

export interface LedgerDeps {
  cfg: CompiledConfig;
  metrics: Metrics;
}

type StateRow = Pick<ConsentsTable, 'purpose' | 'status' | 'notice_version' | 'method' | 'at'> & { explicit?: number };

/** The consent state of one transaction; created per flush, thrown away after. */
export class ConsentLedger {
  readonly #consents: ConsentRepo;
  /** subject → purpose → the entry in force, as loaded and recorded (merged subjects are folded into survivors). */
  readonly #states = new Map<string, Map<string, ConsentState>>();
  /** Recorded in this flush, in order; subjects are resolved when appended. */
  readonly #rows: ConsentsTable[] = [];
  /** Art. 21 objections in force, by subject as loaded (merged subjects are resolved when checked). */
  readonly #objections = new Map<string, Set<string>>();

  constructor(
    private readonly trx: DataScope,
    private readonly deps: LedgerDeps,
    private readonly subjects: SubjectRedirects,
  ) {
    this.#consents = new ConsentRepo(trx);
  }

  /** Loads the ledgers and objections of these (stored) subjects. */
  async load(subjects: readonly string[]): Promise<void> {
    for (const row of await this.#consents.ledgerOf(subjects)) this.#applyState(row.subject_id, row);
    for (const o of await new ObjectionRepo(this.trx).inForce(subjects)) {
      let s = this.#objections.get(o.subject_id);
      if (!s) this.#objections.set(o.subject_id, (s = new Set()));
      s.add(o.purpose);
    }
  }

  #applyState(subject: string, row: StateRow): void {
    let m = this.#states.get(subject);
    if (!m) this.#states.set(subject, (m = new Map()));
    m.set(row.purpose, {
      purpose: row.purpose,
      status: row.status as ConsentStatus,
      noticeVersion: row.notice_version,
      method: row.method,
      at: row.at,
      explicit: row.explicit === 1,
    });
  }

  /** Whether each purpose's legal basis holds for this subject now (null: a subject not yet known). */
  validNow(subject: string | null): ValidNow {
    const states = subject ? this.#states.get(this.subjects.resolve(subject)) : undefined;
    const resolved = subject ? this.subjects.resolve(subject) : null;
    // An objection (Art. 21) ends collection for that purpose too, not only its use.
    const objected = (key: string) => {
      for (const [s, purposes] of this.#objections) if (purposes.has(key) && this.subjects.resolve(s) === resolved) return true;
      return false;
    };
    return (key, special) => {
      const p = this.deps.cfg.purpose(key);
      // Art. 9(2)(a): special categories are collected only under explicit consent.
      if (special && states?.get(key)?.explicit !== true) return false;
      return p !== undefined && basisHolds(p, states?.get(key), (v) => this.deps.cfg.noticeVersionValid(v)).holds && (this.#objections.size === 0 || !objected(key));
    };
  }

  /** Records a choice unless it repeats the entry in force (`force`: always); returns the new status, or null. */
  record(subject: string, purpose: string, granted: boolean, op: ChoiceContext, force: boolean): ConsentStatus | null {
    const prev = this.#states.get(subject)?.get(purpose);
    if (!force && isUnchanged(prev, granted, op.noticeVersion)) return null;
    const status = nextStatus(prev, granted);
    const row: ConsentsTable = {
      id: uuidv7(op.at),
      subject_id: subject,
      purpose,
      status,
      notice_version: op.noticeVersion,
      method: op.method,
      source_id: op.source,
      receipt_id: op.receiptId,
      at: op.at,
      ua_hash: op.proof.uaHash,
      ip_truncated: op.proof.ipTruncated,
      explicit: granted && op.explicit === true ? 1 : 0,
    };
    this.#rows.push(row);
    this.#applyState(subject, row);
    this.deps.metrics.consents.inc({ status, method: op.method });
    return status;
  }

  /** Segment's `context.consent.categoryPreferences`, mapped to purposes; a denial wins over a grant. */
  contextChoices(m: NormalizedMessage, gpc: boolean): Map<string, boolean> | null {
    const consent = m.context.consent;
    if (!consent || typeof consent !== 'object' || Array.isArray(consent)) return null;
    const prefs = consent.categoryPreferences;
    if (!prefs || typeof prefs !== 'object' || Array.isArray(prefs)) return null;
    const out = new Map<string, boolean>();
    for (const [id, value] of Object.entries(prefs)) {
      if (typeof value !== 'boolean') continue;
      for (const purpose of this.deps.cfg.purposesForSegmentCategory(id)) {
        const p = this.deps.cfg.purpose(purpose);
        if (p?.legalBasis !== 'consent' || (gpc && p.saleOrShare)) continue; // under GPC the objection decides sale/share
        out.set(purpose, (out.get(purpose) ?? true) && value);
      }
    }
    return out.size > 0 ? out : null;
  }

  /** GPC: sale/share purposes denied with method `gpc`, once: skipped while the latest entry already is that objection. */
  objectGpc(subject: string, op: MessagesOp): void {
    const states = this.#states.get(subject);
    const receiptId = uuidv7(op.receivedAt);
    for (const p of this.deps.cfg.consentPurposes()) {
      if (!p.saleOrShare) continue;
      const prev = states?.get(p.key);
      if (prev && prev.status !== 'granted' && prev.method === 'gpc') continue;
      this.record(subject, p.key, false, { noticeVersion: this.deps.cfg.config.notice.current, method: 'gpc', source: op.source.id, receiptId, at: op.receivedAt, proof: op.proof }, true);
    }
  }

  /** The merged ledger: per purpose, the most recent entry of either side. */
  merge(survivor: string, loser: string): void {
    const ls = this.#states.get(loser);
    if (!ls) return;
    for (const st of ls.values()) {
      const cur = this.#states.get(survivor)?.get(st.purpose);
      if (!cur || cur.at <= st.at) this.#applyState(survivor, { purpose: st.purpose, status: st.status, notice_version: st.noticeVersion, method: st.method, at: st.at, explicit: st.explicit ? 1 : 0 });
    }
  }

  /** The status in force per purpose of this (resolved) subject. */
  statuses(subject: string): Record<string, ConsentStatus> {
    const consents: Record<string, ConsentStatus> = {};
    for (const [k, st] of this.#states.get(subject) ?? []) consents[k] = st.status;
    return consents;
  }

  /** The rows recorded in this flush, in order, with their subjects as recorded (not yet resolved). */
  get rows(): readonly ConsentsTable[] {
    return this.#rows;
  }

  /** Appends the recorded rows, each under its surviving subject. */
  async write(): Promise<void> {
    await this.#consents.append(this.#rows.map((r) => ({ ...r, subject_id: this.subjects.resolve(r.subject_id) })));
  }
}
