// The use rule (DESIGN §3): whether a field of a given category may be read for a purpose, for a subject, by a caller — and why not.
import { basisHolds, type BasisReason, type ConsentState } from './consent.ts';
import type { CompiledConfig } from './privacy-config.ts';
import { entryCovers, isPersonalCategory, isSpecialCategory } from './privacy-config.ts';
import type { Purpose } from './privacy-config-types.ts';
import { UNCLASSIFIED } from './privacy-config-types.ts';

/** Stable reason codes: they appear in `withheld` answers and in the audit log, so never rename one. */
export type DenyReason =
  | BasisReason
  | 'category_not_in_purpose'
  | 'special_category_needs_explicit_consent'
  | 'restricted'
  | 'erased'
  | 'caller_not_allowed'
  | 'unknown_purpose';

export const DENY_REASONS: readonly DenyReason[] = [
  'no_consent',
  'consent_withdrawn',
  'consent_denied',
  'notice_outdated',
  'objection',
  'category_not_in_purpose',
  'special_category_needs_explicit_consent',
  'restricted',
  'erased',
  'caller_not_allowed',
  'unknown_purpose',
];

export type PolicyDecision = { readonly allow: true } | { readonly allow: false; readonly reason: DenyReason };

/** The consent ledger's latest entry for a purpose; `explicit` is Art. 9(2)(a) explicit consent. */
export interface SubjectConsent extends ConsentState {
  explicit: boolean;
}

/** What the policy needs to know about a subject at the moment of the read. */
export interface SubjectState {
  /** Latest ledger entry per purpose key. */
  consents: ReadonlyMap<string, SubjectConsent>;
  /** Art. 18 restriction in force: nothing is processed beyond storage. */
  restricted: boolean;
  /** Erasure done or under way: nothing is readable. */
  erased: boolean;
  /** Purposes with an Art. 21 objection in force. */
  objections: ReadonlySet<string>;
}

/** `system` is Fiducia's own processing (segments, retention); it acts for every purpose and never reads one profile for a person. */
export type CallerRole = 'admin' | 'dpo' | 'analyst' | 'service' | 'system';

export interface PolicyCaller {
  role: CallerRole;
  /** Purposes a `service` token is bound to; ignored for other roles. */
  purposes: readonly string[];
}

export const ALLOW: PolicyDecision = Object.freeze({ allow: true });
const DENY: Readonly<Record<DenyReason, PolicyDecision>> = Object.freeze(
  Object.fromEntries(DENY_REASONS.map((r) => [r, Object.freeze({ allow: false, reason: r })])) as Record<DenyReason, PolicyDecision>,
);

export function deny(reason: DenyReason): PolicyDecision {
  return DENY[reason];
}

/** Whether a caller may act for a purpose on a single subject's data. Analysts see aggregates only. */
export function callerMayActFor(caller: PolicyCaller, purposeKey: string): boolean {
  switch (caller.role) {
    case 'admin':
    case 'dpo':
    case 'system':
      return true;
    case 'service':
      return caller.purposes.includes(purposeKey);
    case 'analyst':
      return false;
  }
}

/** One purpose with its coverage table built once: category key → covered. */
class PurposeRule {
  readonly #covered = new Map<string, boolean>();
  constructor(
    readonly purpose: Purpose,
    taxonomy: readonly string[],
  ) {
    for (const key of taxonomy) this.#covered.set(key, this.#computeCovers(key));
  }

  #computeCovers(category: string): boolean {
    if (category === UNCLASSIFIED) return false;
    // system.* is not personal data: any purpose may see it, provided the rest of the rule holds.
    if (!isPersonalCategory(category)) return true;
    return this.purpose.categories.some((entry) => entryCovers(entry, category));
  }

  /** Category prefixes this purpose may read (its entries, plus `system`, which is not personal data). */
  get prefixes(): readonly string[] {
    return [...this.purpose.categories, 'system'];
  }

  covers(category: string): boolean {
    // Categories outside the taxonomy (stored before a reclassification) are computed, not cached: unbounded input.
    return this.#covered.get(category) ?? this.#computeCovers(category);
  }
}

/**
 * The purpose-level part of a decision for one (purpose, subject, caller): computed once per read and then
 * applied to every field, so a profile of n fields costs one basis check and n table lookups.
 */
export class PurposeView {
  constructor(
    readonly purposeKey: string,
    /** Set when nothing at all may be returned (caller, erasure, restriction, unknown purpose). */
    readonly blocked: PolicyDecision | null,
    /** Decision for ordinary categories the purpose covers (objection or basis). */
    readonly basis: PolicyDecision,
    /** Decision for special categories the purpose covers (additionally needs explicit consent). */
    readonly special: PolicyDecision,
    private readonly rule: PurposeRule | undefined,
  ) {}

  /**
   * Whether P could read this category for some subject in some state (it is one of P's categories). A field it
   * could not is none of P's business, so a purpose-bound answer counts it without naming it.
   */
  couldAllow(category: string): boolean {
    return this.rule?.covers(category) ?? false;
  }

  decide(category: string): PolicyDecision {
    if (this.blocked) return this.blocked;
    if (!this.rule!.covers(category)) return DENY.category_not_in_purpose;
    return isSpecialCategory(category) ? this.special : this.basis;
  }
}

/** The use policy compiled from a configuration: purpose coverage tables and notice validity, built once. */
export class PolicyEngine {
  readonly #rules = new Map<string, PurposeRule>();
  readonly #prefixes = new Map<string, readonly string[]>();
  readonly #noticeValid: (version: string) => boolean;

  constructor(readonly cfg: CompiledConfig) {
    const taxonomy = [...cfg.config.categories.map((c) => c.key), UNCLASSIFIED];
    for (const p of cfg.config.purposes) {
      const rule = new PurposeRule(p, taxonomy);
      this.#rules.set(p.key, rule);
      this.#prefixes.set(p.key, Object.freeze(rule.prefixes));
    }
    this.#noticeValid = (v) => cfg.noticeVersionValid(v);
  }

  hasPurpose(key: string): boolean {
    return this.#rules.has(key);
  }

  /** Category prefixes a purpose may ever read (empty for an unknown purpose): lets storage skip the rest. */
  prefixesOf(key: string): readonly string[] {
    return this.#prefixes.get(key) ?? [];
  }

  /** The purpose-level verdict for a subject and caller; `decide(category)` on it gives each field's decision. */
  view(purposeKey: string, subject: SubjectState, caller: PolicyCaller): PurposeView {
    const rule = this.#rules.get(purposeKey);
    if (!rule) return new PurposeView(purposeKey, DENY.unknown_purpose, DENY.unknown_purpose, DENY.unknown_purpose, undefined);
    let blocked: PolicyDecision | null = null;
    if (!callerMayActFor(caller, purposeKey)) blocked = DENY.caller_not_allowed;
    else if (subject.erased) blocked = DENY.erased;
    else if (subject.restricted) blocked = DENY.restricted;
    if (blocked) return new PurposeView(purposeKey, blocked, blocked, blocked, rule);
    const consent = subject.consents.get(purposeKey);
    let basis: PolicyDecision;
    if (subject.objections.has(purposeKey)) basis = DENY.objection;
    else {
      const b = basisHolds(rule.purpose, consent, this.#noticeValid);
      basis = b.holds ? ALLOW : DENY[b.reason];
    }
    // Art. 9(2)(a): special categories need explicit consent on top of a holding basis.
    const special = !basis.allow ? basis : consent?.status === 'granted' && consent.explicit ? ALLOW : DENY.special_category_needs_explicit_consent;
    return new PurposeView(purposeKey, null, basis, special, rule);
  }

  /** One field's decision: `(purpose, category, subject state, caller) → {allow, reason}`. Pure. */
  decide(purposeKey: string, category: string, subject: SubjectState, caller: PolicyCaller): PolicyDecision {
    const rule = this.#rules.get(purposeKey);
    if (!rule) return DENY.unknown_purpose;
    if (!callerMayActFor(caller, purposeKey)) return DENY.caller_not_allowed;
    if (subject.erased) return DENY.erased;
    if (subject.restricted) return DENY.restricted;
    if (!rule.covers(category)) return DENY.category_not_in_purpose;
    if (subject.objections.has(purposeKey)) return DENY.objection;
    const consent = subject.consents.get(purposeKey);
    const b = basisHolds(rule.purpose, consent, this.#noticeValid);
    if (!b.holds) return DENY[b.reason];
    if (isSpecialCategory(category) && !(consent?.status === 'granted' && consent.explicit)) {
      return DENY.special_category_needs_explicit_consent;
    }
    return ALLOW;
  }
}

/** A subject nobody knows anything about: no consent, no restriction, no objection. */
export const EMPTY_SUBJECT: SubjectState = Object.freeze({
  consents: new Map<string, SubjectConsent>(),
  restricted: false,
  erased: false,
  objections: new Set<string>(),
});
