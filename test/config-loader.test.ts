import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigInvalidError, DEFAULT_CONFIG_PATH, loadPrivacyConfig } from '../src/services/config/config-loader.ts';

const shipped = loadPrivacyConfig(DEFAULT_CONFIG_PATH);

function withTempFile(text: string, run: (file: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'fiducia-config-'));
  try {
    const file = join(dir, 'fiducia.yaml');
    writeFileSync(file, text);
    run(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function loadError(file: string): ConfigInvalidError {
  try {
    loadPrivacyConfig(file);
  } catch (err) {
    assert.ok(err instanceof ConfigInvalidError, String(err));
    return err;
  }
  assert.fail('expected ConfigInvalidError');
}

test('the shipped configuration has six purposes with the right legal bases', () => {
  const bases = Object.fromEntries(shipped.config.purposes.map((p) => [p.key, p.legalBasis]));
  assert.deepEqual(bases, {
    service: 'contract',
    security: 'legitimate_interests',
    analytics: 'consent',
    personalization: 'consent',
    marketing: 'consent',
    advertising: 'consent',
  });
  assert.equal(shipped.config.controller.country, 'IT');
  assert.deepEqual(shipped.config.languages, ['it', 'en']);
  for (const p of shipped.config.purposes) assert.ok(p.name.it && p.name.en && p.description.it && p.description.en, p.key);
  assert.equal(shipped.purpose('service')?.retentionDays, 3650);
  assert.equal(shipped.purpose('security')?.retentionDays, 90);
});

test('shipped: campaign engagement is marketing-only, special categories unused, advertising is sale/share', () => {
  assert.deepEqual(shipped.purposesCovering('user.behavior.campaign').map((p) => p.key), ['marketing']);
  const special = shipped.config.categories.filter((c) => c.special).map((c) => c.key);
  assert.equal(special.length, 8);
  for (const key of special) assert.deepEqual(shipped.purposesCovering(key), [], key);
  const sale = shipped.config.purposes.filter((p) => p.saleOrShare).map((p) => p.key);
  assert.deepEqual(sale, ['advertising']);
  const ads = shipped.purpose('advertising');
  assert.ok(ads?.recipients.some((r) => r.kind === 'third_party' && r.country === 'US'));
  assert.deepEqual(shipped.purposesCovering('user.preference.lifestyle').map((p) => p.key), ['personalization', 'marketing']);
});

test('shipped: tracking plan classifies Segment traits, e-commerce events and context', () => {
  assert.equal(shipped.classifyTrait('email'), 'user.contact.email');
  assert.equal(shipped.classifyTrait('firstName'), 'user.name');
  assert.equal(shipped.classifyTrait('lifestyle'), 'user.preference.lifestyle');
  assert.equal(shipped.classifyTrait('emailEngagement'), 'user.behavior.campaign');
  assert.equal(shipped.classifyTrait('shoeSize'), null);
  for (const event of ['Products Searched', 'Product Viewed', 'Product Added', 'Checkout Started', 'Order Completed', 'Order Refunded', 'Coupon Applied', 'Product Shared']) {
    assert.ok(shipped.eventCategory('track', event), event);
  }
  assert.equal(shipped.classifyEventProperty('track', 'Order Completed', 'revenue'), 'user.behavior.purchase');
  assert.equal(shipped.classifyEventProperty('track', 'Payment Info Entered', 'payment_method'), 'user.financial.payment');
  assert.equal(shipped.classifyEventProperty('track', 'Products Searched', 'query'), 'user.behavior.search');
  assert.equal(shipped.classifyEventProperty('track', 'Product Shared', 'recipient'), null);
  assert.equal(shipped.eventCategory('track', 'Email Opened'), 'user.behavior.campaign');
  assert.equal(shipped.classifyEventProperty('page', undefined, 'referrer'), 'user.behavior.browsing');
  assert.equal(shipped.eventCategory('group', undefined), 'user.professional');
  assert.equal(shipped.classifyContext('ip'), 'user.device.ip');
  assert.equal(shipped.classifyContext('device', 'advertisingId'), 'user.device.id');
  assert.equal(shipped.classifyContext('device', 'name'), null);
  assert.equal(shipped.classifyContext('location', 'city'), 'user.location.approximate');
  assert.equal(shipped.classifyContext('location', 'latitude'), 'user.location.precise');
  assert.equal(shipped.classifyContext('campaign', 'source'), 'user.behavior.campaign');
  assert.equal(shipped.classifyContext('library', 'name'), 'system.technical');
  assert.deepEqual(shipped.config.trackingPlan.unknown, { events: 'drop', properties: 'drop', traits: 'drop' });
});

test('shipped: notice versions and Segment consent categories', () => {
  assert.equal(shipped.config.notice.current, '2026-11');
  assert.equal(shipped.noticeVersionValid('2026-01'), false);
  assert.equal(shipped.noticeVersionValid('2026-06'), true);
  assert.equal(shipped.noticeVersionValid('2026-11'), true);
  for (const p of shipped.config.purposes) assert.deepEqual(shipped.purposesForSegmentCategory(p.key), [p.key]);
  assert.deepEqual(shipped.purposesForSegmentCategory('C0004'), ['advertising', 'marketing']);
  assert.deepEqual(shipped.purposesForSegmentCategory('targeting'), ['advertising']);
  assert.match(shipped.hash, /^[0-9a-f]{64}$/);
  assert.equal(loadPrivacyConfig(DEFAULT_CONFIG_PATH).hash, shipped.hash);
});

test('a YAML syntax error names the file, line and column', () => {
  withTempFile('controller:\n  name: Shop\n  country: [IT\nlanguages: [it]\n', (file) => {
    const err = loadError(file);
    assert.match(err.message, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: line \\d+, column \\d+: YAML syntax error`));
  });
});

test('a bad key names the file, the key path and its line', () => {
  const text = readFileSync(DEFAULT_CONFIG_PATH, 'utf8').replace('legalBasis: legitimate_interests', 'legalBasis: legitimate_interest');
  withTempFile(text, (file) => {
    const err = loadError(file);
    assert.deepEqual(err.errors.map((e) => e.path), ['purposes[1].legalBasis']);
    assert.ok(err.message.includes(`${file}: purposes[1].legalBasis: must be one of`), err.message);
    assert.match(err.message, /\(line \d+, column \d+\)/);
  });
  const typo = readFileSync(DEFAULT_CONFIG_PATH, 'utf8').replace('\ntrackingPlan:', '\ntrackingPlann:');
  withTempFile(typo, (file) => {
    const err = loadError(file);
    assert.ok(err.message.includes(`${file}: trackingPlann: unknown key "trackingPlann" (did you mean "trackingPlan"?)`), err.message);
    assert.ok(err.message.includes(`${file}: trackingPlan: is required`), err.message);
  });
});

test('a transfer outside the EEA without an acceptable basis stops the load, at the recipient or destination', () => {
  assert.deepEqual(shipped.purpose('advertising')?.recipients.find((r) => r.country === 'US')?.transfer, { basis: 'data_privacy_framework' });
  assert.deepEqual(shipped.config.destinations, [], 'no destination ships enabled');
  const noBasis = readFileSync(DEFAULT_CONFIG_PATH, 'utf8').replace(', transfer: { basis: data_privacy_framework } }', ' }');
  withTempFile(noBasis, (file) => {
    const err = loadError(file);
    assert.deepEqual(err.errors.map((e) => e.path), ['purposes[5].recipients[1].transfer']);
    assert.match(err.message, /purposes\[5\]\.recipients\[1\]\.transfer: US: the adequacy decision covers only organisations certified under the EU-US Data Privacy Framework.*\(line \d+, column \d+\)/);
  });
  const destination = [
    'destinations:',
    '  - id: crm',
    '    kind: webhook',
    '    purposes: [marketing]',
    '    endpoint: https://crm.example.in/hooks',
    '    secretEnv: FIDUCIA_CRM_WEBHOOK_SECRET',
    '    country: IN',
    '',
  ].join('\n');
  withTempFile(`${readFileSync(DEFAULT_CONFIG_PATH, 'utf8')}\n${destination}`, (file) => {
    const err = loadError(file);
    assert.deepEqual(err.errors.map((e) => e.path), ['destinations[0].transfer']);
    assert.match(err.message, /destinations\[0\]\.transfer: IN is outside the EEA and has no adequacy decision/);
  });
  withTempFile(`${readFileSync(DEFAULT_CONFIG_PATH, 'utf8')}\n${destination.replace('country: IN', 'country: IN\n    transfer: { basis: standard_contractual_clauses }')}`, (file) => {
    const cfg = loadPrivacyConfig(file);
    assert.deepEqual(cfg.destinationsFor('marketing').map((d) => [d.id, d.transfer?.basis]), [['crm', 'standard_contractual_clauses']]);
  });
});

test('a missing file is a ConfigInvalidError too', () => {
  const err = loadError(join(tmpdir(), 'fiducia-does-not-exist.yaml'));
  assert.match(err.message, /cannot read the file/);
  assert.equal(err.code, 'FIDUCIA_CONFIG_INVALID');
});
