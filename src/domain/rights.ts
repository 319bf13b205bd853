// Data-subject rights requests (GDPR Arts. 12, 15–21): types, lifecycle, deadlines, verification limits. Pure.
import type { Purpose } from './privacy-config-types.ts';

export const RIGHTS_TYPES = ['access', 'portability', 'rectification', 'erasure', 'restriction', 'objection'] as const;
export type RightsType = (typeof RIGHTS_TYPES)[number];

export const RIGHTS_STATUSES = ['received', 'verified', 'in_progress', 'completed', 'rejected'] as const;
export type RightsStatus = (typeof RIGHTS_STATUSES)[number];

export type RightsChannel = 'staff' | 'self_service';

/** Stable reason codes of a rejection; they appear in answers and in the audit log. */
export const REJECTION_REASONS = [
  'verification_expired',
  'too_many_attempts',
  'manifestly_unfounded',
  'excessive',
  'identity_not_confirmed',
  'not_applicable',
  'other',
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

/** Art. 12(3): answer within one month; extendable once by up to two further months. */
export const MAX_EXTENSION_MONTHS = 2;

/** Self-service verification: codes live 15 minutes and allow 5 tries. */
export const VERIFICATION = Object.freeze({ codeTtlMs: 15 * 60_000, maxAttempts: 5, codeDigits: 6 });

/**
 * Self-service limits, per fixed window; each answers 429 with Retry-After. An address is limited per client network,
 * so a third party cannot use up its owner's requests, and in all (a mailbox cannot be flooded from many networks);
 * a refusal says so plainly, so the owner knows to try again rather than wait for a code that will not come.
 */
export const SELF_SERVICE_LIMITS = Object.freeze({
  intakePerIp: { max: 10, windowMs: 3600_000 },
  intakePerEmailAndNetwork: { max: 3, windowMs: 3600_000 },
  intakePerEmail: { max: 10, windowMs: 24 * 3600_000 },
  verifyPerIp: { max: 30, windowMs: 600_000 },
  downloadPerIp: { max: 30, windowMs: 600_000 },
});

/** Access and portability packages can be downloaded for 30 days, then their key is destroyed. */
export const PACKAGE_TTL_MS = 30 * 24 * 3600_000;

const NEXT: Readonly<Record<RightsStatus, readonly RightsStatus[]>> = {
  received: ['verified', 'rejected'],
  verified: ['in_progress', 'completed', 'rejected'],
  in_progress: ['in_progress', 'completed', 'rejected'],
  completed: [],
  rejected: [],
};

export type Decision<T = undefined> = { ok: true; value: T } | { ok: false; reason: string };

const ok = <T>(value: T): Decision<T> => ({ ok: true, value });
const no = (reason: string): Decision<never> => ({ ok: false, reason });

export function isRightsType(v: string): v is RightsType {
  return (RIGHTS_TYPES as readonly string[]).includes(v);
}

export function isFinal(status: RightsStatus): boolean {
  return status === 'completed' || status === 'rejected';
}

/** Whether a request may move from `from` to `to`. `in_progress → in_progress` records a waiting step (e.g. legal hold). */
export function canTransition(from: RightsStatus, to: RightsStatus): Decision {
  return NEXT[from].includes(to) ? ok(undefined) : no(`a ${from} request cannot become ${to}`);
}

/**
 * `at` plus `months` calendar months, in UTC, at the same time of day. When the target month is shorter
 * (31 January + 1 month) the period ends on its last day, as Regulation 1182/71 Art. 3(2)(c) counts months.
 */
export function addCalendarMonths(at: number, months: number): number {
  const d = new Date(at);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + months;
  const lastDay = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  const day = Math.min(d.getUTCDate(), lastDay);
  return Date.UTC(y, m, day, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds());
}

/** The first deadline: one calendar month after receipt. */
export function dueDate(receivedAt: number): number {
  return addCalendarMonths(receivedAt, 1);
}

export interface DeadlineState {
  status: RightsStatus;
  receivedAt: number;
  dueAt: number;
  extendedAt: number | null;
}

/**
 * Art. 12(3): the deadline may be extended once, by one or two months, with the reasons told to the person
 * within the first month — so an overdue or already-extended request cannot be extended.
 */
export function extendDeadline(req: DeadlineState, months: number, reason: string, now: number): Decision<number> {
  if (isFinal(req.status)) return no(`a ${req.status} request has no deadline to extend`);
  if (req.extendedAt !== null) return no('the deadline was already extended once');
  if (!Number.isInteger(months) || months < 1 || months > MAX_EXTENSION_MONTHS) return no(`an extension is 1 or ${MAX_EXTENSION_MONTHS} months`);
  if (reason.trim().length === 0) return no('an extension needs a reason');
  if (now > req.dueAt) return no('the deadline has already passed');
  return ok(addCalendarMonths(req.dueAt, months));
}

export function isOverdue(req: Pick<DeadlineState, 'status' | 'dueAt'>, now: number): boolean {
  return !isFinal(req.status) && now > req.dueAt;
}

export interface VerificationState {
  status: RightsStatus;
  attempts: number;
  codeExpiresAt: number | null;
}

export type VerificationOutcome =
  | { result: 'verified' }
  | { result: 'wrong_code'; attemptsLeft: number }
  | { result: 'locked' }
  | { result: 'expired' }
  | { result: 'not_pending' };

/** What one code submission does; `codeMatches` is computed by the caller in constant time. */
export function verifyAttempt(state: VerificationState, codeMatches: boolean, now: number): VerificationOutcome {
  if (state.status !== 'received') return { result: 'not_pending' };
  if (state.attempts >= VERIFICATION.maxAttempts) return { result: 'locked' };
  if (state.codeExpiresAt === null || now > state.codeExpiresAt) return { result: 'expired' };
  if (codeMatches) return { result: 'verified' };
  const left = VERIFICATION.maxAttempts - state.attempts - 1;
  return left <= 0 ? { result: 'locked' } : { result: 'wrong_code', attemptsLeft: left };
}

/**
 * Direct marketing, to which an Art. 21(2)–(3) objection is absolute: purposes that send the person offers or
 * share their data for advertising. The configuration has no flag for it, so it is recognised by key and by
 * the sale/share flag; a deployment with other marketing purposes names them in `extra`.
 */
export function isDirectMarketing(p: Pick<Purpose, 'key' | 'saleOrShare'>, extra: readonly string[] = []): boolean {
  return p.saleOrShare || p.key === 'marketing' || p.key === 'advertising' || extra.includes(p.key);
}

export type ObjectionOutcome =
  /** Processing for the purpose stops now, no balancing test (direct marketing). */
  | 'stopped_absolute'
  /** Legitimate interests or public task: stops unless the controller shows compelling grounds (Art. 21(1)). */
  | 'stopped'
  /** Consent-based: an objection works as a withdrawal. */
  | 'stopped_consent'
  /** Contract, legal obligation, vital interests: Art. 21 does not apply. */
  | 'not_objectable';

export function objectionOutcome(p: Pick<Purpose, 'key' | 'saleOrShare' | 'legalBasis'>, extraDirectMarketing: readonly string[] = []): ObjectionOutcome {
  if (isDirectMarketing(p, extraDirectMarketing)) return 'stopped_absolute';
  switch (p.legalBasis) {
    case 'legitimate_interests':
    case 'public_task':
      return 'stopped';
    case 'consent':
      return 'stopped_consent';
    default:
      return 'not_objectable';
  }
}

/**
 * Art. 20 covers data processed on consent or contract only; an item is portable when at least one of the
 * purposes it was collected under has one of those bases.
 */
export function isPortable(itemPurposes: readonly string[], purposeOf: (key: string) => Pick<Purpose, 'legalBasis'> | undefined): boolean {
  return itemPurposes.some((k) => {
    const b = purposeOf(k)?.legalBasis;
    return b === 'consent' || b === 'contract';
  });
}

/** The types that produce a downloadable package. */
export function producesPackage(type: RightsType): boolean {
  return type === 'access' || type === 'portability';
}
