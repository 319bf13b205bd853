import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ANALYST_MINIMUM_COUNT, analystCount } from './aggregate-disclosure.ts';

describe('analyst counts', () => {
  it('a count is shown only when the members a stranger cannot create reach the minimum', () => {
    fc.assert(
      fc.property(fc.nat(50), fc.nat(50), (vouched, fakes) => {
        const shown = analystCount(vouched + fakes, vouched);
        if (vouched < ANALYST_MINIMUM_COUNT) assert.equal(shown.count, null, `${vouched} vouched + ${fakes} fakes`);
        else assert.equal(shown.count, vouched + fakes);
      }),
    );
  });

  it('adding fakes never turns a suppressed count into a number', () => {
    fc.assert(
      fc.property(fc.nat(50), fc.nat(ANALYST_MINIMUM_COUNT - 1), fc.nat(1000), (real, vouched, fakes) => {
        if (analystCount(real + vouched, vouched).count !== null) return;
        assert.equal(analystCount(real + vouched + fakes, vouched).count, null, 'fakes only add unvouched members');
      }),
    );
  });
});
