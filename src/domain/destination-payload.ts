// What one destination may receive of one person now, and the two wire formats: a Standard Webhooks JSON message and a
// Segment HTTP Tracking API message. Pure: the delivery worker loads the stored rows and the person's state, this module
// decides field by field (the same use rule as a purpose-bound read, for each of the destination's purposes) and shapes.
import type { PolicyEngine, PolicyDecision, PurposeView, SubjectState } from './policy.ts';
import { entryCovers, isPersonalCategory } from './privacy-config.ts';
import type { Destination } from './privacy-config-types.ts';
import { UNCLASSIFIED } from './privacy-config-types.ts';
import type { Json, JsonObject } from './segment-message.ts';

/** The categories of the identifiers Fiducia links a person by, when a destination asks for them. */
export const USER_ID_CATEGORY = 'user.account.id';
export const ANONYMOUS_ID_CATEGORY = 'user.device.id';

/** Fiducia's own processing on the person's behalf: it acts for every purpose (see PolicyCaller). */
const SYSTEM = { role: 'system' as const, purposes: [] as string[] };

/** The use rule for one destination and one person at send time: a field goes if any of its purposes may use it. */
export class DestinationView {
  readonly #views: PurposeView[];
  readonly #narrowing: readonly string[] | undefined;

  constructor(policy: PolicyEngine, destination: Pick<Destination, 'purposes' | 'categories'>, subject: SubjectState) {
    this.#views = destination.purposes.map((p) => policy.view(p, subject, SYSTEM));
    this.#narrowing = destination.categories;
  }

  /** Whether the destination may receive a field of this category now; otherwise the first purpose's reason. */
  decide(category: string): PolicyDecision {
    let refusal: PolicyDecision | undefined;
    if (!this.#narrowed(category)) return { allow: false, reason: 'category_not_in_purpose' };
    for (const v of this.#views) {
      const d = v.decide(category);
      if (d.allow) return d;
      refusal ??= d;
    }
    return refusal ?? { allow: false, reason: 'unknown_purpose' };
  }

  allows(category: string): boolean {
    return this.decide(category).allow;
  }

  /** The destination's purposes under which this category may go now (for the receiver and the audit log). */
  purposesFor(category: string): string[] {
    return this.#narrowed(category) ? this.#views.filter((v) => v.decide(category).allow).map((v) => v.purposeKey) : [];
  }

  /** Whether the destination could ever receive this category (any person, any state): decides what is queued. */
  static couldReceive(policy: PolicyEngine, destination: Pick<Destination, 'purposes' | 'categories'>, category: string): boolean {
    if (destination.categories && isPersonalCategory(category) && !destination.categories.some((e) => entryCovers(e, category))) return false;
    return destination.purposes.some((p) => policy.view(p, EMPTY_STATE, SYSTEM).couldAllow(category));
  }

  #narrowed(category: string): boolean {
    // The narrowing lists personal categories; what is not personal data (`system.*`) is not narrowed.
    return !this.#narrowing || !isPersonalCategory(category) || this.#narrowing.some((e) => entryCovers(e, category));
  }
}

const EMPTY_STATE: SubjectState = { consents: new Map(), restricted: false, erased: false, objections: new Set() };

/** A stored event's payload as collection wrote it (src/domain/collection.ts): kept fields and each one's category. */
export interface StoredEventPayload {
  properties?: JsonObject;
  context?: JsonObject;
  fields?: Record<string, string>;
  groupId?: string;
}

export interface FilteredEvent {
  properties: JsonObject;
  context: JsonObject;
  /** Paths sent (`properties.x`, `context.y.z`): names only, for the audit log. */
  sent: string[];
  /** Fields held back by the policy, counted. */
  withheld: number;
}

/** Keeps the fields of a stored event that the view allows (objects in `context` member by member, as collected). */
export function filterEvent(payload: StoredEventPayload, view: Pick<DestinationView, 'allows'>): FilteredEvent {
  const categories = payload.fields ?? {};
  const category = (path: string): string => (Object.hasOwn(categories, path) ? categories[path]! : UNCLASSIFIED);
  const sent: string[] = [];
  let withheld = 0;
  const keep = (path: string): boolean => {
    if (view.allows(category(path))) {
      sent.push(path);
      return true;
    }
    withheld++;
    return false;
  };
  const properties: JsonObject = {};
  for (const [name, value] of Object.entries(payload.properties ?? {})) if (keep(`properties.${name}`)) properties[name] = value;
  const context: JsonObject = {};
  for (const [key, value] of Object.entries(payload.context ?? {})) {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const kept: JsonObject = {};
      for (const [sub, v] of Object.entries(value)) if (keep(`context.${key}.${sub}`)) kept[sub] = v;
      if (Object.keys(kept).length > 0) context[key] = kept;
    } else if (keep(`context.${key}`)) context[key] = value;
  }
  return { properties, context, sent, withheld };
}

/** The identifiers a destination may receive (each only if its category is allowed) beside Fiducia's pseudonymous id. */
export interface SentIdentity {
  subjectId: string;
  userId?: string | undefined;
  anonymousId?: string | undefined;
}

/** One message for a destination, before the wire format: an event, an identify, or an Art. 19 notice. */
export type OutgoingMessage =
  | {
      kind: 'event';
      id: string;
      type: 'track' | 'page' | 'screen' | 'group';
      name: string | null;
      groupId?: string | undefined;
      timestamp: number;
      identity: SentIdentity;
      properties: JsonObject;
      context: JsonObject;
      purposes: string[];
    }
  | { kind: 'identify'; id: string; timestamp: number; identity: SentIdentity; traits: JsonObject; purposes: string[] }
  | {
      kind: 'notice';
      id: string;
      timestamp: number;
      action: NoticeAction;
      subjectId: string;
      /** The identifiers the person had when the notice was made (they are erased by now, for an erasure). */
      userIds: string[];
      anonymousIds: string[];
      /** Field names concerned (rectification), never values; empty: the whole profile. */
      fields: string[];
      purposes: string[];
      requestId: string | null;
    };

export type NoticeAction = 'rectification' | 'erasure' | 'restriction' | 'restriction_lifted' | 'objection';

const iso = (ms: number): string => new Date(ms).toISOString();

/** The Standard Webhooks message: `{type, timestamp, data}`; the `webhook-id` header carries `id`. */
export function webhookBody(m: OutgoingMessage, sentAt: number): JsonObject {
  if (m.kind === 'notice') {
    return {
      type: `subject.${m.action}`,
      timestamp: iso(sentAt),
      data: {
        subjectId: m.subjectId,
        userIds: m.userIds,
        anonymousIds: m.anonymousIds,
        fields: m.fields,
        purposes: m.purposes,
        requestId: m.requestId,
        occurredAt: iso(m.timestamp),
      },
    };
  }
  const who: JsonObject = { subjectId: m.identity.subjectId };
  if (m.identity.userId !== undefined) who.userId = m.identity.userId;
  if (m.identity.anonymousId !== undefined) who.anonymousId = m.identity.anonymousId;
  if (m.kind === 'identify') {
    return { type: 'profile.identify', timestamp: iso(sentAt), data: { ...who, messageId: m.id, traits: m.traits, purposes: m.purposes, timestamp: iso(m.timestamp) } };
  }
  const data: JsonObject = { ...who, messageId: m.id, properties: m.properties, context: m.context, purposes: m.purposes, timestamp: iso(m.timestamp) };
  if (m.type === 'track') data.event = m.name;
  else if (m.type === 'page' || m.type === 'screen') data.name = m.name;
  if (m.groupId !== undefined) data.groupId = m.groupId;
  return { type: `event.${m.type}`, timestamp: iso(sentAt), data };
}

/**
 * A Segment HTTP Tracking API message (for `POST <endpoint>/v1/batch`). `anonymousId` falls back to Fiducia's
 * pseudonymous subject id when neither identifier may be sent, so the receiver can still tell people apart; the subject
 * id also rides in `context.externalIds`, which Art. 19 notices name.
 */
export function segmentMessage(m: Exclude<OutgoingMessage, { kind: 'notice' }>, sentAt: number): JsonObject {
  const externalIds: Json = [{ id: m.identity.subjectId, type: 'fiducia_subject_id', collection: 'users', encoding: 'none' }];
  const base: JsonObject = {
    messageId: m.id,
    timestamp: iso(m.timestamp),
    sentAt: iso(sentAt),
    anonymousId: m.identity.anonymousId ?? m.identity.subjectId,
  };
  if (m.identity.userId !== undefined) base.userId = m.identity.userId;
  // The purposes the data goes under, as Segment's consent preferences (category = purpose key): a receiver that
  // filters by consent category (Segment's destinations, another Fiducia) processes it under the same purposes only.
  const consent: JsonObject = { categoryPreferences: Object.fromEntries(m.purposes.map((p) => [p, true])) };
  if (m.kind === 'identify') return { ...base, type: 'identify', traits: m.traits, context: { externalIds, consent, fiducia: { purposes: m.purposes } } };
  const context: JsonObject = { ...m.context, externalIds, consent, fiducia: { purposes: m.purposes } };
  const msg: JsonObject = { ...base, type: m.type, properties: m.properties, context };
  if (m.type === 'track') msg.event = m.name ?? '';
  else if (m.type === 'page' || m.type === 'screen') {
    if (m.name !== null) msg.name = m.name;
  } else if (m.groupId !== undefined) {
    msg.groupId = m.groupId;
    msg.traits = m.properties;
    delete msg.properties;
  }
  return msg;
}

/**
 * An Art. 19 notice for a Segment-compatible receiver, in the shape of Segment's regulation requests (the Public API's
 * `regulationType`, `subjectType`, `subjectIds`), sent to `<endpoint>/v1/regulations`: erasure asks to suppress and
 * delete, restriction and objection to suppress, a lifted restriction to unsuppress. A rectification is not a
 * regulation: it goes as an `identify` of the corrected traits instead (see the worker).
 */
export function segmentRegulation(m: Extract<OutgoingMessage, { kind: 'notice' }>): JsonObject | null {
  const type = ({ erasure: 'SUPPRESS_WITH_DELETE', restriction: 'SUPPRESS_ONLY', objection: 'SUPPRESS_ONLY', restriction_lifted: 'UNSUPPRESS', rectification: null } as const)[m.action];
  if (type === null) return null;
  const ids = m.userIds.length > 0 ? m.userIds : [...m.anonymousIds, m.subjectId];
  return {
    regulationType: type,
    subjectType: m.userIds.length > 0 ? 'USER_ID' : 'ANONYMOUS_ID',
    subjectIds: ids,
    messageId: m.id,
    context: { fiducia: { subjectId: m.subjectId, action: m.action, purposes: m.purposes, requestId: m.requestId } },
  };
}
