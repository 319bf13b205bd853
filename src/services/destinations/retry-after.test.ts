import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_RETRY_AFTER_MS, parseRetryAfter } from './retry-after.ts';

const NOW = Date.UTC(2025, 5, 1, 12, 0, 0); // Sun, 01 Jun 2025 12:00:00 GMT

describe('parseRetryAfter', () => {
  it('reads a delay in seconds', () => {
    assert.equal(parseRetryAfter('0', NOW), 0);
    assert.equal(parseRetryAfter('120', NOW), 120_000);
    assert.equal(parseRetryAfter(' 7 ', NOW), 7_000);
  });

  it('bounds a long delay to one hour', () => {
    assert.equal(parseRetryAfter('3601', NOW), MAX_RETRY_AFTER_MS);
    assert.equal(parseRetryAfter('99999999999999999999999', NOW), MAX_RETRY_AFTER_MS);
  });

  it('reads the three HTTP date forms as the time left from now', () => {
    assert.equal(parseRetryAfter('Sun, 01 Jun 2025 12:00:30 GMT', NOW), 30_000);
    assert.equal(parseRetryAfter('Sunday, 01-Jun-25 12:01:00 GMT', NOW), 60_000);
    assert.equal(parseRetryAfter('Sun Jun  1 12:00:05 2025', NOW), 5_000);
  });

  it('takes a date in the past as "now" and a date far ahead as one hour', () => {
    assert.equal(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', NOW), 0);
    assert.equal(parseRetryAfter('Sunday, 06-Nov-94 08:49:37 GMT', NOW), 0, 'a two-digit 94 is 1994, not 2094');
    assert.equal(parseRetryAfter('Mon, 01 Jan 2035 00:00:00 GMT', NOW), MAX_RETRY_AFTER_MS);
  });

  it('gives null for an absent, malformed or oversized value', () => {
    for (const value of [
      undefined, '', '-1', '1.5', '1e3', 'soon', 'Sun, 01 Jun 2025 12:00:30 UTC', 'Sun, 01 Foo 2025 12:00:30 GMT',
      'Sun, 32 Jun 2025 12:00:30 GMT', 'Sun, 01 Jun 2025 25:00:30 GMT', '2025-06-01T12:00:30Z', `${'9'.repeat(65)}`,
    ]) {
      assert.equal(parseRetryAfter(value, NOW), null, String(value));
    }
  });
});
