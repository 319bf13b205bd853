// Personal data breaches (GDPR Arts. 33–34): what the register holds, its lifecycle, the 72-hour clock and the grounds for not telling the people concerned. Pure.
import type { Decision } from './rights.ts';

/** Which security property the breach broke (an incident can break several). */
export const BREACH_NATURES = ['confidentiality', 'integrity', 'availability'] as const;
export type BreachNature = (typeof BREACH_NATURES)[number];

/**
 * `open` → `notified_authority` → `subjects_notified` | `not_required` → `closed`; `open` → `not_required` when the
 * breach is unlikely to result in a risk (Art. 33(1)): it is documented (Art. 33(5)) but nobody is notified.
 */
export const BREACH_STATUSES = ['open', 'notified_authority', 'subjects_notified', 'not_required', 'closed'] as const;
export type BreachStatus = (typeof BREACH_STATUSES)[number];

/**
 * Whether the data concerned was encrypted, and whether its keys stayed safe. In Fiducia every personal field is
 * encrypted under a key of its subject's own, kept apart from the data and wrapped by the master key: a copy of the
 * data database alone is `keys_safe`; a copy that came with the keystore and the master key is `keys_compromised`.
 */
export const ENCRYPTION_STATES = ['keys_safe', 'keys_compromised', 'not_encrypted', 'unknown'] as const;
export type EncryptionState = (typeof ENCRYPTION_STATES)[number];

/**
 * Why nobody, or no data subject, is told: `no_risk` (Art. 33(1): the authority is not notified either), `no_high_risk`
 * (Art. 34(1)), `encrypted` (Art. 34(3)(a)), `subsequent_measures` (Art. 34(3)(b)), `public_communication`
 * (Art. 34(3)(c): individual notices would take disproportionate effort, a public communication replaces them).
 */
export const NOT_REQUIRED_REASONS = ['no_risk', 'no_high_risk', 'encrypted', 'subsequent_measures', 'public_communication'] as const;
export type NotRequiredReason = (typeof NOT_REQUIRED_REASONS)[number];

/** Art. 33(1): where feasible, the authority is notified within 72 hours of the controller becoming aware. */
export const NOTIFICATION_WINDOW_MS = 72 * 3600_000;

/** Clock skew allowed between the caller and the server for times given to the register. */
const SKEW_MS = 5 * 60_000;

/** Most subject ids one breach may name (attached in requests of at most `MAX_SUBJECTS_PER_CALL`). */
export const MAX_BREACH_SUBJECTS = 100_000;
export const MAX_SUBJECTS_PER_CALL = 1_000;

/** Free text the register keeps in each language it was written in; a document in a language it lacks says so. */
export type LocalizedText = { it?: string | undefined; en?: string | undefined };

export interface BreachContact {
  name: string;
  email: string;
  phone?: string | undefined;
}

/** The facts of a breach that documents are made from (Art. 33(3), 33(5)). */
export interface BreachFacts {
  nature: BreachNature[];
  description: LocalizedText;
  categories: string[];
  /** Approximate numbers; null: not known yet (Art. 33(4): given later, in phases). */
  approxSubjects: number | null;
  approxRecords: number | null;
  consequences: LocalizedText | null;
  measuresTaken: LocalizedText | null;
  measuresProposed: LocalizedText | null;
  /** What the people concerned can do to protect themselves (the subject notice). */
  adviceToSubjects: LocalizedText | null;
  encryption: EncryptionState;
  contact: BreachContact;
  awareAt: number;
  occurredAt: number | null;
}

export interface BreachClock {
  /** Awareness plus 72 hours. */
  deadline: number;
  /** Whether the authority is still to be notified (the clock runs). */
  running: boolean;
  /** Milliseconds to the deadline while running; negative once passed; null once stopped. */
  remainingMs: number | null;
  /** Running and past the deadline. */
  overdue: boolean;
  /** Once notified: whether that was after the deadline; null while not notified. */
  notifiedLate: boolean | null;
}

export function notificationDeadline(awareAt: number): number {
  return awareAt + NOTIFICATION_WINDOW_MS;
}

/** The 72-hour clock of Art. 33(1) as it stands at `now`. */
export function breachClock(status: BreachStatus, awareAt: number, authorityNotifiedAt: number | null, now: number): BreachClock {
  const deadline = notificationDeadline(awareAt);
  const running = status === 'open';
  return {
    deadline,
    running,
    remainingMs: running ? deadline - now : null,
    overdue: running && now > deadline,
    notifiedLate: authorityNotifiedAt === null ? null : authorityNotifiedAt > deadline,
  };
}

const NEXT: Readonly<Record<BreachStatus, readonly BreachStatus[]>> = {
  open: ['notified_authority', 'not_required'],
  notified_authority: ['subjects_notified', 'not_required', 'closed'],
  subjects_notified: ['subjects_notified', 'closed'],
  not_required: ['closed'],
  closed: [],
};

const ok = <T>(value: T): Decision<T> => ({ ok: true, value });
const no = (reason: string): Decision<never> => ({ ok: false, reason });

export function isBreachStatus(v: string): v is BreachStatus {
  return (BREACH_STATUSES as readonly string[]).includes(v);
}

export function mayMoveTo(from: BreachStatus, to: BreachStatus): boolean {
  return NEXT[from].includes(to);
}

/**
 * A status change asked for by hand. `not_required` names its ground: before the authority was notified only
 * `no_risk` (Art. 33(1)); after, one of Art. 34's. The authority's notification has its own step (`authorityNotice`).
 */
export function decideStatus(from: BreachStatus, to: BreachStatus, reason: NotRequiredReason | undefined): Decision<BreachStatus> {
  if (to === 'notified_authority') return no('record the notification to the authority with its own step (authority-notification)');
  if (!mayMoveTo(from, to)) return no(`a breach that is ${from} cannot become ${to}`);
  if (to === 'not_required') {
    if (!reason) return no('say why nobody is to be notified (reason)');
    if (from === 'open' && reason !== 'no_risk') return no('before the authority is notified, the only ground is no_risk (Art. 33(1)); notify the authority first');
    if (from !== 'open' && reason === 'no_risk') return no('the authority was notified: choose a ground of Art. 34 (no_high_risk, encrypted, subsequent_measures, public_communication)');
  } else if (reason !== undefined) return no('a reason applies to not_required only');
  return ok(to);
}

/**
 * Recording the notification to the authority at `at`: allowed while open (the first) and after (a further phase,
 * Art. 33(4)); the first one after the deadline must give the reasons for the delay (Art. 33(1)).
 */
export function authorityNotice(
  status: BreachStatus,
  awareAt: number,
  at: number,
  now: number,
  delayReason: string | undefined,
  storedDelayReason: string | null,
): Decision<{ phase: 'initial' | 'further'; late: boolean }> {
  if (status === 'closed') return no('the breach is closed');
  if (status === 'not_required') return no('the breach was recorded as needing no notification');
  if (at < awareAt) return no('the notification cannot precede becoming aware of the breach');
  if (at > now + SKEW_MS) return no('the notification time cannot be in the future');
  const phase = status === 'open' ? 'initial' : 'further';
  const late = at > notificationDeadline(awareAt);
  if (phase === 'initial' && late && !delayReason && !storedDelayReason) return no('delay_reason_required');
  return ok({ phase, late });
}

/**
 * Whether the notice to the people concerned may go out: once the authority is notified, again for people named later,
 * and after a decision that it was not required if the authority, told of the breach, requires it after all (Art. 34(4)).
 */
export function maySendNotice(status: BreachStatus, authorityNotifiedAt: number | null): Decision<undefined> {
  if (status === 'notified_authority' || status === 'subjects_notified') return ok(undefined);
  if (status === 'not_required' && authorityNotifiedAt !== null) return ok(undefined);
  return no(`the notice goes out once the authority is notified (the breach is ${status})`);
}

/** Sending the notice moves the breach to `subjects_notified` from these. */
export function noticeMovesOn(status: BreachStatus): boolean {
  return status === 'notified_authority' || status === 'not_required';
}

/**
 * What encryption means for telling the people concerned. Fiducia's per-subject keys make the personal fields
 * unintelligible to whoever holds the data without the keystore and the master key (Art. 34(3)(a)); the
 * pseudonymous envelope (subject ids, event names and times, categories, consent states) is not encrypted.
 */
export function encryptionExemption(state: EncryptionState): 'may_apply' | 'does_not_apply' | 'to_assess' {
  if (state === 'keys_safe') return 'may_apply';
  if (state === 'unknown') return 'to_assess';
  return 'does_not_apply';
}

/** The items of Art. 33(3) not known yet: they follow in phases (Art. 33(4)). */
export function missingItems(f: BreachFacts): string[] {
  const out: string[] = [];
  if (f.approxSubjects === null) out.push('approxSubjects');
  if (f.approxRecords === null) out.push('approxRecords');
  if (f.categories.length === 0) out.push('categories');
  if (!f.consequences) out.push('consequences');
  if (!f.measuresTaken && !f.measuresProposed) out.push('measures');
  return out;
}

/** A time given to the register: a real instant, not in the future beyond clock skew. */
export function checkTime(at: number, now: number, what: string): Decision<number> {
  if (!Number.isFinite(at)) return no(`${what} is not a valid time`);
  if (at > now + SKEW_MS) return no(`${what} cannot be in the future`);
  return ok(at);
}
