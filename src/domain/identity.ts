// Identities: which values may link a message to a subject, and how they are normalized before blind indexing.

export type IdentityKind = 'userId' | 'anonymousId' | 'email' | 'phone';
export const IDENTITY_KINDS: readonly IdentityKind[] = ['userId', 'anonymousId', 'email', 'phone'];

/**
 * How an identity's link to a subject was asserted: by a `server` source, by a `userHash` the shop's server signed
 * (`verified_hash`), by nobody (`anonymous`), entered by a `rights_request`, or `legacy` (stored before this was kept).
 */
export type IdentityAssertion = 'server' | 'verified_hash' | 'anonymous' | 'rights_request' | 'legacy';

/**
 * The longest value of each kind that is looked at, checked before any pattern runs. Emails: 254, the longest path
 * SMTP carries (RFC 5321 §4.5.3.1.3 less the angle brackets). Phones: E.164 has 15 digits; 64 leaves room for
 * spaces, dashes, brackets and a prefix. Ids: Segment sets no limit of its own; 512 is what consent and the
 * route schemas allow.
 */
export const IDENTITY_MAX_LENGTH: Readonly<Record<IdentityKind, number>> = { userId: 512, anonymousId: 512, email: 254, phone: 64 };

/** Linear by construction (test/linear-patterns.test.ts checks it): dot-separated domain labels cannot overlap. */
const EMAIL = /^[^\s@]+@[^\s@.]+(?:\.[^\s@.]+)+$/;

/** Whether a value sent as an identity of `kind` is longer than anything that kind may be (numbers never are). */
export function identityTooLong(kind: IdentityKind, raw: unknown): boolean {
  return typeof raw === 'string' && raw.length > IDENTITY_MAX_LENGTH[kind];
}

/** Placeholder values that SDKs and integrations send when they have no real id; they must never link two people. */
const BLOCKED = new Set(['', 'null', 'undefined', 'anonymous', 'unknown', 'nan', 'none', '-1', '0', 'n/a']);

export function isBlockedIdentityValue(value: string): boolean {
  const v = value.trim().toLowerCase();
  if (BLOCKED.has(v)) return true;
  // all zeros, with or without UUID dashes: 0000…, 00000000-0000-0000-0000-000000000000
  return /^[0-]+$/.test(v);
}

/** Normalized identity value, or null when the value is blocked or malformed and must not link anything. */
export function normalizeIdentity(kind: IdentityKind, raw: unknown): string | null {
  if (typeof raw === 'number' && Number.isFinite(raw)) raw = String(raw);
  if (typeof raw !== 'string') return null;
  // Length first: nothing below (trim, lower-casing, patterns) ever sees more than the bound.
  if (identityTooLong(kind, raw)) return null;
  if (isBlockedIdentityValue(raw)) return null;
  const value = raw.trim();
  switch (kind) {
    case 'email': {
      const email = value.toLowerCase();
      return EMAIL.test(email) ? email : null;
    }
    case 'phone': {
      const plus = value.startsWith('+') || value.startsWith('00');
      const digits = value.replace(/\D/g, '').replace(/^00/, '');
      if (digits.length < 6 || digits.length > 15 || /^0+$/.test(digits)) return null;
      return plus ? `+${digits}` : digits;
    }
    case 'userId':
    case 'anonymousId':
      return value;
  }
}

export interface IdentityRef {
  kind: IdentityKind;
  /** Normalized value; never logged. */
  value: string;
}

/** `userId:abc`, `anonymousId:…`, `email:…`, `phone:…` as used by the API's `:identity` parameter. */
export function parseIdentityRef(text: string): IdentityRef | null {
  const colon = text.indexOf(':');
  if (colon <= 0) return null;
  const kind = text.slice(0, colon);
  if (!(IDENTITY_KINDS as readonly string[]).includes(kind)) return null;
  const value = normalizeIdentity(kind as IdentityKind, text.slice(colon + 1));
  return value === null ? null : { kind: kind as IdentityKind, value };
}
