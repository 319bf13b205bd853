// The keep rule (DESIGN §3 "Keep"): whether a stored event or trait may still be kept, and whether a subject left with
// no data is worth keeping at all. Pure: the retention sweep (src/services/retention/) applies it to stored rows.
import { basisHolds } from './consent.ts';
import type { SubjectState } from './policy.ts';
import type { Purpose } from './privacy-config-types.ts';

export const DAY_MS = 86_400_000;

/** Why a row is no longer kept: every purpose it was collected under gave one of these. */
export type DropReason = 'expired' | 'basis_lost' | 'purpose_removed';

export type KeepDecision = { readonly keep: true; readonly purpose: string } | { readonly keep: false; readonly reason: DropReason };

export interface RetentionRules {
  /** Purposes of the configuration in force, by key. */
  purposes: ReadonlyMap<string, Purpose>;
  noticeVersionValid(version: string): boolean;
}

/**
 * Whether one purpose still justifies keeping data collected under it at `collectedAt`: the purpose is still
 * configured, its retention period has not run out, and its basis has not been taken away by the subject (consent
 * withdrawn or denied, objection). A consent given under a notice version that a material change later outdated still
 * covers what it was collected for until the period ends: it stops new use, not storage (docs/retention.md).
 */
export function purposeKeeps(purposeKey: string, collectedAt: number, subject: SubjectState, now: number, rules: RetentionRules): KeepDecision {
  const purpose = rules.purposes.get(purposeKey);
  if (!purpose) return { keep: false, reason: 'purpose_removed' };
  if (collectedAt + purpose.retentionDays * DAY_MS <= now) return { keep: false, reason: 'expired' };
  if (subject.objections.has(purposeKey)) return { keep: false, reason: 'basis_lost' };
  const b = basisHolds(purpose, subject.consents.get(purposeKey), rules.noticeVersionValid);
  if (!b.holds && b.reason !== 'notice_outdated') return { keep: false, reason: 'basis_lost' };
  return { keep: true, purpose: purposeKey };
}

/**
 * A row is kept while some purpose it was collected under keeps it. A row collected under no purpose (only `system.*`
 * fields) has nothing personal about it beyond its link to the subject: it goes with the longest-lived reason,
 * `expired`, once every configured purpose's period since its collection has run out. The reason returned for a
 * dropped row is the first purpose's (for counting; any of them would do).
 */
export function rowKept(purposes: readonly string[], collectedAt: number, subject: SubjectState, now: number, rules: RetentionRules): KeepDecision {
  if (purposes.length === 0) {
    const longest = Math.max(0, ...[...rules.purposes.values()].map((p) => p.retentionDays));
    return collectedAt + longest * DAY_MS > now ? { keep: true, purpose: '' } : { keep: false, reason: 'expired' };
  }
  let first: KeepDecision | undefined;
  for (const key of purposes) {
    const d = purposeKeeps(key, collectedAt, subject, now, rules);
    if (d.keep) return d;
    first ??= d;
  }
  return first!;
}

/** What is known of a subject whose events and traits are all gone. */
export interface LeftoverSubject {
  /** Whether any identity link was asserted (a server source, a verified hash, a rights request): an account holder. */
  assertedIdentity: boolean;
  state: SubjectState;
}

/**
 * A subject left with no events and no traits is erased (crypto-shredded) unless something about it is worth keeping:
 * an asserted identity (a customer account, whose consent choices must follow the person), or a consent grant still
 * current whose purpose's period since the grant has not run out (a visitor who said yes and has not come back yet:
 * erasing the link would lose their choice). Restricted or erased subjects are never swept.
 */
export function subjectWorthKeeping(s: LeftoverSubject, now: number, rules: RetentionRules): boolean {
  if (s.state.restricted || s.state.erased) return true;
  if (s.assertedIdentity) return true;
  for (const c of s.state.consents.values()) {
    if (c.status !== 'granted') continue;
    const d = purposeKeeps(c.purpose, c.at, s.state, now, rules);
    if (d.keep) return true;
  }
  return false;
}

/** The UTC day (`YYYY-MM-DD`) an anonymous aggregate counts an event under. */
export function aggregateDay(timestamp: number): string {
  return new Date(timestamp).toISOString().slice(0, 10);
}
