// Segment Tracking API messages: validation of the semantic rules and normalization into one internal shape.
import { IDENTITY_MAX_LENGTH, identityTooLong, normalizeIdentity } from './identity.ts';

export const MESSAGE_TYPES = ['identify', 'track', 'page', 'screen', 'group', 'alias'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface NormalizedMessage {
  type: MessageType;
  messageId: string;
  /** Normalized identities; null when absent or blocked (blocked values never link anything). */
  userId: string | null;
  anonymousId: string | null;
  /** `alias`: the earlier id (a userId or an anonymousId). */
  previousId: string | null;
  /** `group`: the group's id. */
  groupId: string | null;
  /** `track`: the event name; `page`/`screen`: the page name, if any. */
  event: string | null;
  traits: JsonObject;
  properties: JsonObject;
  context: JsonObject;
  /** Event time in epoch ms, corrected for client clock skew. */
  timestamp: number;
}

export interface MessageError {
  code: 'FIDUCIA_INVALID_MESSAGE' | 'FIDUCIA_MISSING_IDENTITY' | 'FIDUCIA_MESSAGE_TOO_LARGE' | 'FIDUCIA_VALIDATION';
  message: string;
  /** Where in the request body, e.g. `batch[3].event`. */
  path: string;
}

export const MAX_MESSAGE_BYTES = 32 * 1024;
export const MAX_BATCH_BYTES = 500 * 1024;
export const MAX_JSON_DEPTH = 32;
/** `groupId` is no identity of a person but is bounded like one. */
export const MAX_GROUP_ID_LENGTH = 512;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseTime(v: unknown): number | null | 'invalid' {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' && !(v instanceof Date)) return 'invalid';
  const t = new Date(v).getTime();
  return Number.isFinite(t) ? t : 'invalid';
}

function idValue(v: unknown): string | undefined | 'invalid' {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return 'invalid';
}

/**
 * Segment's skew correction: an explicit `timestamp` is kept; a client's `originalTimestamp` is shifted by
 * the difference between the server's receive time and the client's `sentAt`.
 */
export function correctTimestamp(
  timestamp: number | null,
  originalTimestamp: number | null,
  sentAt: number | null,
  receivedAt: number,
): number {
  if (timestamp !== null) return timestamp;
  if (originalTimestamp !== null) return sentAt !== null ? receivedAt - (sentAt - originalTimestamp) : originalTimestamp;
  return receivedAt;
}

export interface BatchDefaults {
  context?: JsonObject | undefined;
  integrations?: JsonObject | undefined;
  sentAt?: unknown;
}

/**
 * Validates one message and normalizes it. `type` comes from the endpoint, or from the item for `/v1/batch`.
 * Batch-level `context` is merged under the item's own (the item wins).
 */
export function normalizeMessage(
  raw: unknown,
  endpointType: MessageType | null,
  path: string,
  receivedAt: number,
  defaults: BatchDefaults,
  newMessageId: () => string,
): { ok: true; message: NormalizedMessage } | { ok: false; error: MessageError } {
  const fail = (r: Refusal) => ({ ok: false as const, error: r.error });
  if (!isObject(raw)) return fail(refuse('FIDUCIA_INVALID_MESSAGE', 'a message must be a JSON object', path));
  const rawType = endpointType ?? raw.type;
  if (typeof rawType !== 'string' || !(MESSAGE_TYPES as readonly string[]).includes(rawType)) {
    return fail(refuse('FIDUCIA_INVALID_MESSAGE', `type must be one of ${MESSAGE_TYPES.join(', ')}`, `${path}.type`));
  }
  const type = rawType as MessageType;
  // Each check in turn; the first refusal is the answer.
  const ids = rawIdentities(raw, path);
  if (ids instanceof Refusal) return fail(ids);
  const notObject = nonObjectField(raw, path);
  if (notObject) return fail(notObject);
  const event = eventNameOf(raw, type, path);
  if (event instanceof Refusal) return fail(event);
  const links = linkedIds(raw, type, ids.userId, path);
  if (links instanceof Refusal) return fail(links);
  const messageId = messageIdOf(raw, path, newMessageId);
  if (messageId instanceof Refusal) return fail(messageId);
  const times = timesOf(raw, defaults, path);
  if (times instanceof Refusal) return fail(times);

  const ownContext = isObject(raw.context) ? raw.context : {};
  const context = defaults.context ? { ...defaults.context, ...ownContext } : ownContext;
  const traits = traitsOf(raw, type, ownContext, context, path);
  if (traits instanceof Refusal) return fail(traits);

  return {
    ok: true,
    message: {
      type,
      messageId,
      userId: ids.userId ? normalizeIdentity('userId', ids.userId) : null,
      anonymousId: ids.anonymousId ? normalizeIdentity('anonymousId', ids.anonymousId) : null,
      previousId: links.previousId,
      groupId: links.groupId,
      event,
      traits,
      properties: isObject(raw.properties) ? raw.properties : {},
      context,
      timestamp: correctTimestamp(times.timestamp, times.originalTimestamp, times.sentAt, receivedAt),
    },
  };
}

/** Why a message is refused, and where; the steps of normalizeMessage return it instead of their value. */
class Refusal {
  constructor(readonly error: MessageError) {}
}
const refuse = (code: MessageError['code'], message: string, at: string): Refusal => new Refusal({ code, message, path: at });

/** `userId` and `anonymousId` as sent (not normalized yet): strings, bounded, at least one of them. */
function rawIdentities(raw: JsonObject, path: string): { userId: string | undefined; anonymousId: string | undefined } | Refusal {
  const userIdRaw = idValue(raw.userId);
  const anonRaw = idValue(raw.anonymousId);
  if (userIdRaw === 'invalid') return refuse('FIDUCIA_INVALID_MESSAGE', 'userId must be a string', `${path}.userId`);
  if (anonRaw === 'invalid') return refuse('FIDUCIA_INVALID_MESSAGE', 'anonymousId must be a string', `${path}.anonymousId`);
  // Every identity is length-checked here, before normalization or any pattern sees it.
  for (const [kind, v] of [['userId', userIdRaw], ['anonymousId', anonRaw]] as const) {
    if (identityTooLong(kind, v)) return refuse('FIDUCIA_VALIDATION', `${kind} is at most ${IDENTITY_MAX_LENGTH[kind]} characters`, `${path}.${kind}`);
  }
  if (!userIdRaw && !anonRaw) {
    return refuse('FIDUCIA_MISSING_IDENTITY', 'a message needs a userId or an anonymousId', path);
  }
  return { userId: userIdRaw, anonymousId: anonRaw };
}

/** The first of the object-valued fields that holds something else. */
function nonObjectField(raw: JsonObject, path: string): Refusal | null {
  for (const key of ['traits', 'properties', 'context', 'integrations'] as const) {
    if (raw[key] !== undefined && raw[key] !== null && !isObject(raw[key])) {
      return refuse('FIDUCIA_INVALID_MESSAGE', `${key} must be an object`, `${path}.${key}`);
    }
  }
  return null;
}

/** `track`: the event name (required); `page`/`screen`: the page name, if any; null for the other types. */
function eventNameOf(raw: JsonObject, type: MessageType, path: string): string | null | Refusal {
  if (type === 'track') {
    if (typeof raw.event !== 'string' || raw.event.trim() === '') {
      return refuse('FIDUCIA_INVALID_MESSAGE', 'track needs a non-empty event name', `${path}.event`);
    }
    if (raw.event.length > 200) return refuse('FIDUCIA_INVALID_MESSAGE', 'event names are at most 200 characters', `${path}.event`);
    return raw.event;
  }
  if (type === 'page' || type === 'screen') {
    if (raw.name !== undefined && raw.name !== null && typeof raw.name !== 'string') {
      return refuse('FIDUCIA_INVALID_MESSAGE', 'name must be a string', `${path}.name`);
    }
    return typeof raw.name === 'string' && raw.name !== '' ? raw.name.slice(0, 200) : null;
  }
  return null;
}

/** `alias`: the earlier id it links (normalized); `group`: the group's id. */
function linkedIds(raw: JsonObject, type: MessageType, userIdRaw: string | undefined, path: string): { previousId: string | null; groupId: string | null } | Refusal {
  let previousId: string | null = null;
  if (type === 'alias') {
    const prev = idValue(raw.previousId);
    if (prev === 'invalid' || !prev) return refuse('FIDUCIA_INVALID_MESSAGE', 'alias needs a previousId string', `${path}.previousId`);
    if (identityTooLong('userId', prev)) return refuse('FIDUCIA_VALIDATION', `previousId is at most ${IDENTITY_MAX_LENGTH.userId} characters`, `${path}.previousId`);
    if (!userIdRaw) return refuse('FIDUCIA_INVALID_MESSAGE', 'alias needs a userId', `${path}.userId`);
    previousId = normalizeIdentity('userId', prev);
  }
  let groupId: string | null = null;
  if (type === 'group') {
    const g = idValue(raw.groupId);
    if (g === 'invalid' || !g) return refuse('FIDUCIA_INVALID_MESSAGE', 'group needs a groupId string', `${path}.groupId`);
    if (g.length > MAX_GROUP_ID_LENGTH) return refuse('FIDUCIA_VALIDATION', `groupId is at most ${MAX_GROUP_ID_LENGTH} characters`, `${path}.groupId`);
    groupId = g;
  }
  return { previousId, groupId };
}

/** The client's message id, or a new one when it sent none. */
function messageIdOf(raw: JsonObject, path: string, newMessageId: () => string): string | Refusal {
  if (raw.messageId === undefined || raw.messageId === null || raw.messageId === '') return newMessageId();
  if (typeof raw.messageId !== 'string' || raw.messageId.length > 200) {
    return refuse('FIDUCIA_INVALID_MESSAGE', 'messageId must be a string of at most 200 characters', `${path}.messageId`);
  }
  return raw.messageId;
}

/** The three client times skew correction uses (`sentAt` may come from the batch), each null when absent. */
function timesOf(raw: JsonObject, defaults: BatchDefaults, path: string): { timestamp: number | null; originalTimestamp: number | null; sentAt: number | null } | Refusal {
  const ts = parseTime(raw.timestamp);
  const ots = parseTime(raw.originalTimestamp);
  const sent = parseTime(raw.sentAt ?? defaults.sentAt);
  for (const [name, v] of [['timestamp', ts], ['originalTimestamp', ots], ['sentAt', sent]] as const) {
    if (v === 'invalid') return refuse('FIDUCIA_INVALID_MESSAGE', `${name} must be an ISO-8601 date`, `${path}.${name}`);
  }
  return { timestamp: ts as number | null, originalTimestamp: ots as number | null, sentAt: sent as number | null };
}

/** The message's traits, with `email` and `phone` bounded (they become identities on identify). */
function traitsOf(raw: JsonObject, type: MessageType, ownContext: JsonObject, context: JsonObject, path: string): JsonObject | Refusal {
  // identify carries traits at the top level; Segment's older clients put them in context.traits.
  const traits = isObject(raw.traits) ? raw.traits : type === 'identify' && isObject(context.traits) ? context.traits : {};
  // `traits.email` and `traits.phone` become identities on identify; a value longer than any address is refused here.
  const traitsPath = isObject(raw.traits) ? `${path}.traits` : isObject(ownContext.traits) ? `${path}.context.traits` : 'context.traits';
  for (const kind of ['email', 'phone'] as const) {
    if (identityTooLong(kind, traits[kind])) {
      return refuse('FIDUCIA_VALIDATION', `traits.${kind} is at most ${IDENTITY_MAX_LENGTH[kind]} characters`, `${traitsPath}.${kind}`);
    }
  }
  return traits;
}

/** Depth of a parsed JSON value; checked before anything else reads a body. */
export function jsonDepthExceeds(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (d > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push([child, d + 1]);
    }
  }
  return false;
}
