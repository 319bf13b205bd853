// The optional `tcf` section of the privacy configuration (TCF purpose ids → our consent-based purposes).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { validatePrivacyConfig } from './privacy-config.ts';

const shipped = () => parse(readFileSync(new URL('../../config/fiducia.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;

function errors(tcf: unknown) {
  const raw = { ...shipped(), tcf };
  const r = validatePrivacyConfig(raw);
  return r.ok ? [] : r.errors;
}

test('the shipped configuration maps all eleven TCF v2.2 purposes', () => {
  const r = validatePrivacyConfig(shipped());
  assert.ok(r.ok);
  assert.deepEqual(Object.keys(r.config.tcf?.purposes ?? {}).sort((a, b) => Number(a) - Number(b)), ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11']);
  assert.equal(r.config.tcf?.vendorId, undefined);
});

test('the section is optional, and a vendor id is kept', () => {
  const raw = shipped();
  delete raw['tcf'];
  const r = validatePrivacyConfig(raw);
  assert.ok(r.ok);
  assert.equal(r.config.tcf, undefined);
  const withVendor = validatePrivacyConfig({ ...shipped(), tcf: { vendorId: 4242, purposes: { '1': ['analytics'] } } });
  assert.ok(withVendor.ok);
  assert.equal(withVendor.config.tcf?.vendorId, 4242);
});

test('unknown, non-consent and misspelt purposes, bad ids and unknown keys are errors with a path', () => {
  const e1 = errors({ purposes: { '1': ['analytcs'] } });
  assert.ok(e1.some((e) => e.path === 'tcf.purposes["1"][0]' && /unknown purpose "analytcs".*"analytics"/.test(e.message)), JSON.stringify(e1));
  const e2 = errors({ purposes: { '2': ['security'] } });
  assert.ok(e2.some((e) => e.path === 'tcf.purposes["2"][0]' && /legitimate_interests/.test(e.message)), JSON.stringify(e2));
  const e3 = errors({ purposes: { '12': ['analytics'], '0': ['analytics'] } });
  assert.equal(e3.filter((e) => /1 to 11/.test(e.message)).length, 2, JSON.stringify(e3));
  const e4 = errors({ purpose: { '1': ['analytics'] } });
  assert.ok(e4.some((e) => /unknown key "purpose".*did you mean "purposes"/.test(e.message)), JSON.stringify(e4));
  const e5 = errors({ vendorId: -1, purposes: {} });
  assert.ok(e5.some((e) => e.path === 'tcf.vendorId'), JSON.stringify(e5));
});
