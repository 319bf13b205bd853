// Consent semantics: the state a ledger implies, and whether a purpose's legal basis holds for a subject now.
import type { Purpose } from './privacy-config-types.ts';

export type ConsentStatus = 'granted' | 'denied' | 'withdrawn';
export const CONSENT_METHODS = ['banner', 'preference_center', 'api', 'event_context', 'gpc', 'tcf', 'in_context'] as const;
export type ConsentMethod = (typeof CONSENT_METHODS)[number];

export interface ConsentState {
  purpose: string;
  status: ConsentStatus;
  noticeVersion: string;
  method: string;
  at: number;
  /** A grant that was explicit consent (Art. 9(2)(a)), which special categories need. */
  explicit?: boolean | undefined;
}

/** The status a new choice records: saying no after a yes is a withdrawal, otherwise a denial. */
export function nextStatus(previous: ConsentState | undefined, granted: boolean): ConsentStatus {
  if (granted) return 'granted';
  return previous?.status === 'granted' ? 'withdrawn' : 'denied';
}

/** True when recording `granted` now would change nothing (same answer, same notice version). */
export function isUnchanged(previous: ConsentState | undefined, granted: boolean, noticeVersion: string): boolean {
  if (!previous) return false;
  if (granted) return previous.status === 'granted' && previous.noticeVersion === noticeVersion;
  return previous.status !== 'granted';
}

export type BasisReason = 'no_consent' | 'consent_withdrawn' | 'consent_denied' | 'notice_outdated' | 'objection';

export type BasisDecision = { holds: true } | { holds: false; reason: BasisReason };

/**
 * Whether `purpose`'s legal basis holds given the subject's latest ledger entry for it.
 * Consent needs a grant under a notice version without a later material change; legitimate interests
 * hold unless the subject objected (a denial or withdrawal on the ledger); the other bases need nothing.
 */
export function basisHolds(
  purpose: Purpose,
  state: ConsentState | undefined,
  noticeVersionValid: (version: string) => boolean,
): BasisDecision {
  switch (purpose.legalBasis) {
    case 'consent':
      if (!state) return { holds: false, reason: 'no_consent' };
      if (state.status === 'withdrawn') return { holds: false, reason: 'consent_withdrawn' };
      if (state.status === 'denied') return { holds: false, reason: 'consent_denied' };
      if (!noticeVersionValid(state.noticeVersion)) return { holds: false, reason: 'notice_outdated' };
      return { holds: true };
    case 'legitimate_interests':
      return state && state.status !== 'granted' ? { holds: false, reason: 'objection' } : { holds: true };
    default:
      return { holds: true };
  }
}

/** The latest entry per purpose from ledger rows in any order. */
export function latestStates(rows: Iterable<ConsentState & { id: string }>): Map<string, ConsentState> {
  const out = new Map<string, ConsentState & { id: string }>();
  for (const r of rows) {
    const prev = out.get(r.purpose);
    if (!prev || prev.id < r.id) out.set(r.purpose, r);
  }
  return out;
}
