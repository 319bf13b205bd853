// One line of a source's live debugger: what became of one message, as field names and reason codes, never a value.
import type { DropReason, MessagePlan } from './collection.ts';
import type { MessageType, NormalizedMessage } from './segment-message.ts';

export type DebuggerOutcome = 'stored' | 'duplicate' | 'dropped';

/**
 * Why a whole message was dropped: `blocked_identity` (no usable userId or anonymousId), `suppressed` (it names an
 * identifier an erasure suppressed), `nothing_to_keep` (no field may be stored and no profile is known to attach it to).
 */
export type MessageDropReason = 'blocked_identity' | 'suppressed' | 'nothing_to_keep';

/** A field's drop: the collection rule's codes (src/domain/collection.ts) plus the write-key route's identity check. */
export type FieldDropReason = DropReason | 'unverified_identity';

/**
 * How the message's userId was asserted: `asserted` by a server source, `verified` by a browser source's `userHash`,
 * `unverified` (a browser source without a valid proof: dropped, the message landed on the anonymous visitor), `none`.
 */
export type UserIdState = 'none' | 'asserted' | 'verified' | 'unverified';

export interface DebuggerFieldDrop {
  field: string;
  reason: FieldDropReason;
}

/** What the debugger keeps of one message: no id of a person, no value; only whether ids were present. */
export interface DebuggerEntry {
  type: MessageType;
  /** `track`: the event name; `page`/`screen`: the page name (not personal data: it is stored in clear, DESIGN §2). */
  event: string | null;
  messageId: string;
  outcome: DebuggerOutcome;
  reason: MessageDropReason | null;
  identity: { userId: UserIdState; anonymousId: boolean };
  /** Paths of the fields stored (`properties.x`, `traits.x`, `context.y.z`). */
  stored: string[];
  dropped: DebuggerFieldDrop[];
  /** Names left out past the bound of each list (a message may carry hundreds of fields). */
  omitted: number;
}

/** Per list (stored, dropped): a message of 32 KB may name far more fields than anyone reads in a debugger. */
export const MAX_DEBUGGER_NAMES = 64;
/** Names come from the sender (an unknown property is named by whoever holds the write key): bounded too. */
export const MAX_DEBUGGER_NAME_LENGTH = 100;

/** A name cut to the bound, without leaving half of a surrogate pair behind. */
export function boundedName(name: string): string {
  if (name.length <= MAX_DEBUGGER_NAME_LENGTH) return name;
  let cut = name.slice(0, MAX_DEBUGGER_NAME_LENGTH - 1);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/** What the flush knew of one message when it decided; turned into an entry only if the debugger keeps it. */
export interface MessageCapture {
  message: NormalizedMessage;
  sourceKind: 'browser' | 'server';
  receivedAt: number;
  outcome: DebuggerOutcome;
  reason: MessageDropReason | null;
  /** The collection plan, when the message got that far. */
  plan: MessagePlan | null;
  /** The route dropped a browser source's userId for want of a valid `userHash`. */
  userIdUnverified: boolean;
}

function userIdState(c: MessageCapture): UserIdState {
  if (c.userIdUnverified) return 'unverified';
  if (c.message.userId === null) return 'none';
  // A browser source's userId reaches the flush only with a valid proof (the route drops the others).
  return c.sourceKind === 'server' ? 'asserted' : 'verified';
}

export function debuggerEntry(c: MessageCapture): DebuggerEntry {
  const stored: string[] = [];
  const dropped: DebuggerFieldDrop[] = [];
  let omitted = 0;
  const store = (field: string) => (stored.length < MAX_DEBUGGER_NAMES ? stored.push(boundedName(field)) : omitted++);
  const drop = (field: string, reason: FieldDropReason) => (dropped.length < MAX_DEBUGGER_NAMES ? dropped.push({ field: boundedName(field), reason }) : omitted++);
  if (c.userIdUnverified) drop('userId', 'unverified_identity');
  // A duplicate was not planned again: what it stored is what its first copy stored.
  if (c.plan && c.outcome === 'stored') {
    for (const t of c.plan.traits) store(`traits.${t.name}`);
    for (const field of Object.keys(c.plan.event?.payload.fields ?? {})) store(field);
  }
  for (const d of c.plan?.drops ?? []) drop(d.field, d.reason);
  const m = c.message;
  return {
    type: m.type,
    event: m.event === null ? null : boundedName(m.event),
    messageId: boundedName(m.messageId),
    outcome: c.outcome,
    reason: c.reason,
    identity: { userId: userIdState(c), anonymousId: m.anonymousId !== null },
    stored,
    dropped,
    omitted,
  };
}
