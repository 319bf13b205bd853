import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PUBLIC_MINIMUM_COUNT, publicCount, publicMedianHours, publicRate } from './transparency.ts';

describe('public counts', () => {
  it('never gives a number below the minimum, and rounds the others to the nearest multiple of 5', () => {
    for (const n of [0, 1, 2, 3, 4]) assert.deepEqual(publicCount(n), { fewerThan: 5 });
    assert.deepEqual(publicCount(5), { about: 5 });
    assert.deepEqual(publicCount(7), { about: 5 });
    assert.deepEqual(publicCount(8), { about: 10 });
    assert.deepEqual(publicCount(1234), { about: 1235 });
    assert.deepEqual(publicCount(Number.NaN), { fewerThan: 5 }, 'not a number is not shown');
  });

  it('holds for every count: shown ones are multiples of 5, at least the minimum, within 2 of the truth', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000 }), (n) => {
        const c = publicCount(n);
        if ('fewerThan' in c) return n < PUBLIC_MINIMUM_COUNT && c.fewerThan === PUBLIC_MINIMUM_COUNT;
        return n >= PUBLIC_MINIMUM_COUNT && c.about % 5 === 0 && c.about >= PUBLIC_MINIMUM_COUNT && Math.abs(c.about - n) <= 2;
      }),
    );
  });

  it('hides rates and medians over fewer people than the minimum', () => {
    assert.equal(publicRate(3, 4), null);
    assert.equal(publicRate(0, 0), null);
    assert.equal(publicRate(9, 13), 69);
    assert.equal(publicMedianHours(4, 3_600_000), null);
    assert.equal(publicMedianHours(5, null), null);
    assert.equal(publicMedianHours(5, 90 * 60_000), 2);
  });
});
