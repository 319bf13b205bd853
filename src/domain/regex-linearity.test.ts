import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { regexLinearity } from './regex-linearity.ts';

const linear = (re: RegExp | string, flags?: string) => regexLinearity(re, flags).linear;

describe('regexLinearity', () => {
  it('refuses the email pattern that took 5 s on a 31 KB address, and accepts its replacement', () => {
    const old = regexLinearity(/^[^\s@]+@[^\s@]+\.[^\s@]+$/);
    assert.equal(old.linear, false);
    assert.match(old.linear ? '' : old.reason, /two different parts/);
    assert.equal(linear(/^[^\s@]+@[^\s@.]+(?:\.[^\s@.]+)+$/), true);
  });

  it('refuses the classic catastrophic shapes', () => {
    for (const re of [/^(a+)+$/, /^(a*)*$/, /^(a|a)*$/, /^(a|ab)*$/, /^(\w+\s?)*$/, /^\d+\d+$/, /^(.*?,){11}P/, /^(a?){25}a{25}$/, /.*.*=.*/]) {
      assert.equal(linear(re), false, String(re));
    }
  });

  it('refuses unanchored patterns whose repetition re-reads where new attempts start', () => {
    assert.equal(linear(/%.*$/), false);
    assert.equal(linear(/a*b/), false);
    assert.equal(linear(/x*$/), false);
    assert.equal(linear(/[\r\n]+/g), true, 'a repetition that ends the pattern succeeds once reached');
    assert.equal(linear(/ at line \d+, column \d+:?$/), true, 'digits never start an attempt');
  });

  it('accepts bounded alternatives, counted digits and deterministic loops', () => {
    for (const [re, flags] of [
      [/^[0-]+$/],
      [/\D/g],
      [/^[-+]?\d+(\.\d+)?([eE][-+]?\d+)?$/],
      ['^(1000|[1-9][0-9]{0,2})$', 'u'],
      ['^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', 'u'],
      [/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/],
      [/^(true|all|\*)$/i],
      [/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]|\u0000/g],
    ] as [RegExp | string, string?][]) {
      assert.equal(linear(re, flags), true, String(re));
    }
  });

  it('with the i flag, letters of both cases overlap', () => {
    assert.equal(linear(/^[a-z]+K$/), true);
    assert.equal(linear(/^[a-z]+K$/i), false);
  });

  it('answers "not proven" for what it does not model', () => {
    for (const [re, flags] of [[/(a)\1/], [/(?=a+)b/], [/\p{L}/u], ['a{', ''], ['[a-z', ''], ['(?<name', ''], ['(a', '']] as [RegExp | string, string?][]) {
      const r = regexLinearity(re, flags);
      assert.equal(r.linear, false, String(re));
      assert.match(r.linear ? '' : r.reason, /not proven/, String(re));
    }
  });
});
