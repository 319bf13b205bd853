import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tcString } from '../../test/helpers/tcf-strings.ts';
import { tcfChoices } from './tcf.ts';

const mapping = {
  purposes: { '1': ['analytics', 'advertising'], '2': ['advertising'], '8': ['analytics'], '9': ['analytics'] },
};

test('a purpose is granted only when every TCF purpose mapped onto it is consented', () => {
  const r = tcfChoices(tcString([1, 8, 9]), mapping);
  assert.deepEqual(r, { ok: true, choices: { analytics: true, advertising: false } });
  const all = tcfChoices(tcString([1, 2, 8, 9]), mapping);
  assert.deepEqual(all, { ok: true, choices: { analytics: true, advertising: true } });
  const none = tcfChoices(tcString([]), mapping);
  assert.deepEqual(none, { ok: true, choices: { analytics: false, advertising: false } });
});

test('without purpose 1 (device storage) nothing mapped onto it is granted', () => {
  assert.deepEqual(tcfChoices(tcString([2, 8, 9]), mapping), { ok: true, choices: { analytics: false, advertising: false } });
});

test('with a vendor id, the vendor must have consent too', () => {
  const withVendor = { ...mapping, vendorId: 4242 };
  assert.deepEqual(tcfChoices(tcString([1, 2, 8, 9], [755]), withVendor), { ok: true, choices: { analytics: false, advertising: false } });
  assert.deepEqual(tcfChoices(tcString([1, 2, 8, 9], [4242]), withVendor), { ok: true, choices: { analytics: true, advertising: true } });
});

test('garbage, truncated and pre-v2.2 strings are refused', () => {
  const good = tcString([1]);
  for (const bad of ['', 'not a tc string!', 'abc', good.slice(0, 10), 'x'.repeat(9000)]) {
    const r = tcfChoices(bad, mapping);
    assert.equal(r.ok, false, bad.slice(0, 20));
  }
  const old = tcfChoices(tcString([1, 8, 9], [755], 3), mapping);
  assert.equal(old.ok, false);
  assert.match(old.ok ? '' : old.reason, /policy version 3/);
});
