import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { userHash, userHashMatches } from './user-hash.ts';

describe('userHash', () => {
  it('is the hex HMAC-SHA256 of the userId, as a shop computes it with node:crypto', () => {
    const secret = randomBytes(32).toString('base64url');
    const expected = createHmac('sha256', secret).update('cust-1001').digest('hex');
    assert.equal(userHash(secret, 'cust-1001'), expected);
    assert.ok(userHashMatches(secret, 'cust-1001', expected), 'the shop-computed hash verifies');
    assert.ok(userHashMatches(secret, 'cust-1001', expected.toUpperCase()), 'hex case does not matter');
  });

  it('refuses another userId, another secret, and anything that is not 64 hex characters', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), fc.string({ maxLength: 80 }), fc.string({ maxLength: 100 }), (a, b, junk) => {
        const secret = 'secret-for-tests';
        const h = userHash(secret, a);
        if (a !== b) assert.equal(userHashMatches(secret, b, h), false, 'a hash verifies only its own userId');
        assert.equal(userHashMatches('another-secret', a, h), false, 'a hash verifies only under its own secret');
        if (junk !== h && junk.toLowerCase() !== h) assert.equal(userHashMatches(secret, a, junk), false, 'junk never verifies');
      }),
    );
    assert.equal(userHashMatches('s', 'u', 42), false, 'a number is not a hash');
    assert.equal(userHashMatches('s', 'u', 'a'.repeat(10_000)), false, 'an oversized value is refused');
  });
});
