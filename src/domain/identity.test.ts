import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { IDENTITY_KINDS, IDENTITY_MAX_LENGTH, identityTooLong, isBlockedIdentityValue, normalizeIdentity, parseIdentityRef } from './identity.ts';

describe('isBlockedIdentityValue', () => {
  it('blocks the placeholders SDKs send when they have no id', () => {
    for (const v of ['', ' ', 'null', 'NULL', 'undefined', 'anonymous', 'Anonymous', ' anonymous ', '-1', '0', '0000', '00000000-0000-0000-0000-000000000000', 'unknown', 'none', 'n/a', 'NaN']) {
      assert.equal(isBlockedIdentityValue(v), true, JSON.stringify(v));
    }
  });

  it('lets real ids through', () => {
    for (const v of ['u1', '1', '10', '-2', 'anon-1', '00000000-0000-0000-0000-000000000001', 'nullable', 'anonymous1', '0x0']) {
      assert.equal(isBlockedIdentityValue(v), false, JSON.stringify(v));
    }
  });

  it('blocks every non-empty string of zeros and dashes, with surrounding whitespace', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('0', '-'), minLength: 1, maxLength: 40 }),
        fc.constantFrom('', ' ', '\t', '\n'),
        (core, pad) => isBlockedIdentityValue(`${pad}${core}${pad}`),
      ),
    );
  });

  it('never blocks a string containing a character other than 0, dash or whitespace — unless it is a listed placeholder', () => {
    const listed = new Set(['null', 'undefined', 'anonymous', 'unknown', 'nan', 'none', '-1', 'n/a']);
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 20 }), (s) => {
        const t = s.trim().toLowerCase();
        fc.pre(t !== '' && !/^[0-]+$/.test(t) && !listed.has(t));
        return !isBlockedIdentityValue(s);
      }),
    );
  });
});

describe('normalizeIdentity', () => {
  it('lower-cases and trims emails, and refuses malformed ones', () => {
    assert.equal(normalizeIdentity('email', '  Ada.Lovelace@Example.COM '), 'ada.lovelace@example.com');
    assert.equal(normalizeIdentity('email', 'ada@example.com'), 'ada@example.com');
    for (const bad of ['ada', 'ada@', '@example.com', 'ada@example', 'a da@example.com', 'null', '', 42, null, undefined, {}]) {
      assert.equal(normalizeIdentity('email', bad), null, JSON.stringify(bad));
    }
  });

  it('refuses emails with an empty domain label', () => {
    for (const bad of ['ada@example..com', 'ada@.example.com', 'ada@example.com.', 'ada@.', 'ada@..']) {
      assert.equal(normalizeIdentity('email', bad), null, JSON.stringify(bad));
    }
    assert.equal(normalizeIdentity('email', 'ada.b@mail.example.co.uk'), 'ada.b@mail.example.co.uk');
  });

  it('matches a pattern-free reading of the email rule on any input', () => {
    // One @, a local part and at least two domain labels, none empty, no whitespace anywhere.
    const reference = (raw: string): string | null => {
      if (raw.length > IDENTITY_MAX_LENGTH.email || isBlockedIdentityValue(raw)) return null;
      const v = raw.trim().toLowerCase();
      const parts = v.split('@');
      if (parts.length !== 2 || [...v].some((c) => /\s/.test(c))) return null;
      const [local = '', domain = ''] = parts;
      const labels = domain.split('.');
      return local !== '' && labels.length >= 2 && labels.every((l) => l !== '') ? v : null;
    };
    const piece = fc.constantFrom('a', 'B', '.', '@', ' ', '\t', '-', 'é', '0');
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: piece, maxLength: 30 }), fc.emailAddress(), fc.string()), (raw) => {
        assert.equal(normalizeIdentity('email', raw), reference(raw), JSON.stringify(raw));
      }),
    );
  });

  it('bounds every kind by length before anything else looks at the value', () => {
    const email = (n: number) => `${'a'.repeat(n - 'example.com'.length - 1)}@example.com`;
    assert.equal(normalizeIdentity('email', email(254)), email(254));
    assert.equal(normalizeIdentity('email', email(255)), null);
    assert.equal(identityTooLong('email', email(255)), true);
    assert.equal(identityTooLong('email', email(254)), false);
    // The shape that made the old pattern backtrack: refused on its length alone.
    assert.equal(normalizeIdentity('email', `a@${'a.'.repeat(16 * 1024)}@`), null);
    const phone = '+39 333 123 4567'.padStart(IDENTITY_MAX_LENGTH.phone);
    assert.equal(normalizeIdentity('phone', phone), '+393331234567');
    assert.equal(normalizeIdentity('phone', ` ${phone}`), null);
    for (const kind of ['userId', 'anonymousId'] as const) {
      assert.equal(identityTooLong(kind, 'x'.repeat(513)), true);
      // eslint-disable-next-line no-loss-of-precision -- a number past 2^53, as JSON delivers one, on purpose
      assert.equal(identityTooLong(kind, 12345678901234567890), false, 'numbers are never too long');
    }
  });

  it('keeps only the digits of phone numbers, with + for international prefixes', () => {
    assert.equal(normalizeIdentity('phone', '+39 333 123 4567'), '+393331234567');
    assert.equal(normalizeIdentity('phone', '0039 333-123-4567'), '+393331234567');
    assert.equal(normalizeIdentity('phone', '(333) 123.4567'), '3331234567');
    assert.equal(normalizeIdentity('phone', 3331234567), '3331234567');
    // The same number written two ways links the same subject.
    assert.equal(normalizeIdentity('phone', '+1 (555) 010-9999'), normalizeIdentity('phone', '+15550109999'));
  });

  it('refuses phone numbers that are too short, too long, or all zeros', () => {
    for (const bad of ['12345', '1234567890123456', '+00 000 000', '000000', '---', 'abc', '', 'null']) {
      assert.equal(normalizeIdentity('phone', bad), null, JSON.stringify(bad));
    }
  });

  it('trims userIds and anonymousIds, accepts numbers, refuses blocked values and very long ids', () => {
    assert.equal(normalizeIdentity('userId', '  u-1 '), 'u-1');
    assert.equal(normalizeIdentity('userId', 12345), '12345');
    assert.equal(normalizeIdentity('anonymousId', 'A-b-C'), 'A-b-C', 'ids are case-sensitive');
    assert.equal(normalizeIdentity('userId', 'x'.repeat(512)), 'x'.repeat(512));
    assert.equal(normalizeIdentity('userId', 'x'.repeat(513)), null);
    assert.equal(normalizeIdentity('userId', 0), null);
    assert.equal(normalizeIdentity('userId', -1), null);
    assert.equal(normalizeIdentity('userId', Number.NaN), null);
    assert.equal(normalizeIdentity('anonymousId', true), null);
    for (const kind of IDENTITY_KINDS) {
      for (const blocked of ['anonymous', 'null', 'undefined', '00000000-0000-0000-0000-000000000000', '0000', '-1', '']) {
        assert.equal(normalizeIdentity(kind, blocked), null, `${kind} ${JSON.stringify(blocked)}`);
      }
    }
  });

  it('is idempotent for every kind', () => {
    fc.assert(
      fc.property(fc.constantFrom(...IDENTITY_KINDS), fc.oneof(fc.string(), fc.emailAddress(), fc.stringMatching(/^\+?[0-9 ()-]{6,20}$/)), (kind, raw) => {
        const once = normalizeIdentity(kind, raw);
        fc.pre(once !== null);
        return normalizeIdentity(kind, once) === once;
      }),
    );
  });

  it('never returns a blocked value', () => {
    fc.assert(
      fc.property(fc.constantFrom(...IDENTITY_KINDS), fc.string(), (kind, raw) => {
        const v = normalizeIdentity(kind, raw);
        return v === null || !isBlockedIdentityValue(v);
      }),
    );
  });
});

describe('parseIdentityRef', () => {
  it('parses the four kinds and normalizes the value', () => {
    assert.deepEqual(parseIdentityRef('userId:u1'), { kind: 'userId', value: 'u1' });
    assert.deepEqual(parseIdentityRef('anonymousId:abc-123'), { kind: 'anonymousId', value: 'abc-123' });
    assert.deepEqual(parseIdentityRef('email: Ada@Example.com'), { kind: 'email', value: 'ada@example.com' });
    assert.deepEqual(parseIdentityRef('phone:+39 333 123 4567'), { kind: 'phone', value: '+393331234567' });
  });

  it('keeps colons after the first as part of the value', () => {
    assert.deepEqual(parseIdentityRef('userId:tenant:42'), { kind: 'userId', value: 'tenant:42' });
  });

  it('refuses unknown kinds, missing parts and blocked values', () => {
    for (const bad of ['', 'u1', ':u1', 'userid:u1', 'UserId:u1', 'subject:u1', 'userId:', 'userId:null', 'anonymousId:anonymous', 'anonymousId:00000000-0000-0000-0000-000000000000', 'email:not-an-email', 'phone:123']) {
      assert.equal(parseIdentityRef(bad), null, JSON.stringify(bad));
    }
  });

  it('round-trips kind:value for any normalized value', () => {
    fc.assert(
      fc.property(fc.constantFrom(...IDENTITY_KINDS), fc.oneof(fc.string({ minLength: 1 }), fc.emailAddress()), (kind, raw) => {
        const value = normalizeIdentity(kind, raw);
        fc.pre(value !== null);
        assert.deepEqual(parseIdentityRef(`${kind}:${value}`), { kind, value });
      }),
    );
  });
});
