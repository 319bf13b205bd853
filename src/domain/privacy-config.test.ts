import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { CompiledConfig, canonicalJson, formatConfigPath, parseConfigPath, validatePrivacyConfig } from './privacy-config.ts';
import type { ConfigError } from './privacy-config.ts';
import type { PrivacyConfig, Purpose } from './privacy-config-types.ts';

const n = (en: string) => ({ it: `${en} (it)`, en });

/** A small valid configuration; each test edits a fresh copy. */
function base(): Record<string, unknown> & { purposes: Record<string, unknown>[] } {
  return {
    controller: { name: 'Shop', contact: 'privacy@shop.example', country: 'IT' },
    languages: ['it', 'en'],
    categories: [
      'user.contact.email',
      'user.contact.phone',
      'user.contactless', // not covered by the prefix user.contact
      'user.behavior.browsing',
      'user.behavior.campaign',
      'user.device.ip',
      'user.sensitive.health',
      'system.technical',
    ].map((key) => ({ key, name: n(key) })),
    purposes: [
      { key: 'service', name: n('Service'), legalBasis: 'contract', categories: ['user.contact'], retentionDays: 3650 },
      { key: 'analytics', name: n('Analytics'), legalBasis: 'consent', categories: ['user.behavior.browsing', 'user.device.ip'], retentionDays: 395 },
      { key: 'marketing', name: n('Marketing'), legalBasis: 'consent', categories: ['user.contact.email', 'user.behavior'], retentionDays: 730 },
      {
        key: 'advertising',
        name: n('Ads'),
        legalBasis: 'consent',
        categories: ['user.behavior.browsing'],
        retentionDays: 395,
        saleOrShare: true,
        recipients: [{ name: 'Ad network', kind: 'third_party', country: 'US', transfer: { basis: 'data_privacy_framework' } }],
      },
    ],
    trackingPlan: {
      events: { 'Order Completed': { category: 'user.behavior.browsing', properties: { total: 'user.behavior.browsing' } } },
      page: { category: 'user.behavior.browsing', properties: { url: 'user.behavior.browsing' } },
      screen: { category: 'user.behavior.browsing' },
      group: { category: 'system.technical' },
      traits: { email: 'user.contact.email' },
      context: { ip: 'user.device.ip', device: 'system.technical', 'device.id': 'user.device.ip' },
    },
    notice: {
      current: 'v3',
      versions: [
        { version: 'v1', material: false },
        { version: 'v2', material: true },
        { version: 'v3', material: false },
      ],
    },
    segmentConsentCategories: { analytics: ['analytics'], C0004: ['advertising', 'marketing'] },
  };
}

function valid(raw: unknown): PrivacyConfig {
  const r = validatePrivacyConfig(raw);
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.errors, null, 2));
  return r.config;
}

function errorsOf(edit: (c: ReturnType<typeof base>) => void): ConfigError[] {
  const c = base();
  edit(c);
  const r = validatePrivacyConfig(c);
  assert.equal(r.ok, false, 'expected the configuration to be rejected');
  return r.ok ? [] : r.errors;
}

function expectError(errors: ConfigError[], path: string, message: RegExp): void {
  assert.ok(
    errors.some((e) => e.path === path && message.test(e.message)),
    `expected an error at ${path} matching ${message}, got ${JSON.stringify(errors, null, 2)}`,
  );
}

const purpose = (c: ReturnType<typeof base>, i: number) => c.purposes[i] as Record<string, unknown>;
const plan = (c: ReturnType<typeof base>) => c['trackingPlan'] as Record<string, Record<string, unknown>>;

test('a valid configuration gets its defaults and derived flags', () => {
  const config = valid(base());
  const service = config.purposes[0];
  assert.ok(service);
  assert.equal(service.saleOrShare, false);
  assert.deepEqual(service.recipients, []);
  assert.deepEqual(service.description, service.name);
  assert.deepEqual(config.trackingPlan.unknown, { events: 'drop', properties: 'drop', traits: 'drop' });
  assert.deepEqual({ ...config.trackingPlan.screen.properties }, {});
  const health = config.categories.find((c) => c.key === 'user.sensitive.health');
  assert.deepEqual([health?.special, health?.personal], [true, true]);
  const tech = config.categories.find((c) => c.key === 'system.technical');
  assert.deepEqual([tech?.special, tech?.personal], [false, false]);
});

test('bad configurations name the offending path', async (t) => {
  await t.test('bad legal basis', () => {
    const errors = errorsOf((c) => (purpose(c, 2)['legalBasis'] = 'consnet'));
    expectError(errors, 'purposes[2].legalBasis', /must be one of consent, contract, .*legitimate_interests/);
  });
  await t.test('unknown category in a purpose', () => {
    const errors = errorsOf((c) => (purpose(c, 1)['categories'] = ['user.behavior.browsing', 'user.foo']));
    expectError(errors, 'purposes[1].categories[1]', /unknown category "user\.foo"/);
  });
  await t.test('duplicate purpose key', () => {
    const errors = errorsOf((c) => (purpose(c, 3)['key'] = 'analytics'));
    expectError(errors, 'purposes[3].key', /duplicate purpose key "analytics"/);
  });
  await t.test('unknown top-level key (typo)', () => {
    const errors = errorsOf((c) => (c['segmentConsentCategorys'] = {}));
    expectError(errors, 'segmentConsentCategorys', /unknown key .*did you mean "segmentConsentCategories"/);
  });
  await t.test('unknown nested key', () => {
    const errors = errorsOf((c) => (plan(c)['events'] = { 'Order Completed': { category: 'user.behavior.browsing', propertys: {} } }));
    expectError(errors, 'trackingPlan.events["Order Completed"].propertys', /unknown key "propertys".*"properties"/);
  });
  await t.test('notice.current not among the versions', () => {
    const errors = errorsOf((c) => ((c['notice'] as Record<string, unknown>)['current'] = 'v9'));
    expectError(errors, 'notice.current', /"v9" is not among notice\.versions/);
  });
  await t.test('negative, zero and fractional retention', () => {
    for (const days of [-30, 0, 1.5, '90']) {
      const errors = errorsOf((c) => (purpose(c, 0)['retentionDays'] = days));
      expectError(errors, 'purposes[0].retentionDays', /positive integer/);
    }
  });
  await t.test('missing required field', () => {
    const errors = errorsOf((c) => delete purpose(c, 0)['legalBasis']);
    expectError(errors, 'purposes[0].legalBasis', /is required/);
  });
  await t.test('unclassified may not be read by a purpose', () => {
    const errors = errorsOf((c) => (purpose(c, 1)['categories'] = ['unclassified']));
    expectError(errors, 'purposes[1].categories[0]', /may not be read/);
  });
  await t.test('tracking plan categories must be known keys, not prefixes', () => {
    const errors = errorsOf((c) => ((plan(c)['traits'] as Record<string, string>)['phone'] = 'user.contact'));
    expectError(errors, 'trackingPlan.traits.phone', /unknown category "user\.contact"/);
    const e2 = errorsOf((c) => ((plan(c)['context'] as Record<string, string>)['device.id'] = 'user.device.idd'));
    expectError(e2, 'trackingPlan.context["device.id"]', /unknown category/);
  });
  await t.test('category keys: format, namespace, duplicates', () => {
    const errors = errorsOf((c) =>
      (c['categories'] as unknown[]).push({ key: 'User.Email', name: n('x') }, { key: 'other.thing', name: n('x') }, { key: 'user.device.ip', name: n('x') }),
    );
    expectError(errors, 'categories[8].key', /dotted lowercase/);
    expectError(errors, 'categories[9].key', /must start with "user\." or "system\."/);
    expectError(errors, 'categories[10].key', /duplicate category key/);
  });
  await t.test('special categories need an explicit, consent-based purpose', () => {
    const broad = errorsOf((c) => (purpose(c, 1)['categories'] = ['user']));
    expectError(broad, 'purposes[1].categories[0]', /special categories/);
    const contract = errorsOf((c) => (purpose(c, 0)['categories'] = ['user.sensitive.health']));
    expectError(contract, 'purposes[0].categories[0]', /consent-based/);
  });
  await t.test('sale/share purpose without recipients', () => {
    const errors = errorsOf((c) => delete purpose(c, 3)['recipients']);
    expectError(errors, 'purposes[3].recipients', /saleOrShare/);
  });
  await t.test('segment categories reference known purposes', () => {
    const errors = errorsOf((c) => (c['segmentConsentCategories'] = { C0004: ['advertising', 'marketting'] }));
    expectError(errors, 'segmentConsentCategories.C0004[1]', /unknown purpose "marketting".*"marketing"/);
  });
  await t.test('languages are a non-empty subset of it/en', () => {
    expectError(errorsOf((c) => (c['languages'] = [])), 'languages', /must not be empty/);
    expectError(errorsOf((c) => (c['languages'] = ['it', 'de'])), 'languages[1]', /must be one of it, en/);
  });
  await t.test('not a mapping at all', () => {
    const r = validatePrivacyConfig(null);
    assert.equal(r.ok, false);
  });
});

test('config paths round-trip', () => {
  const segments = ['trackingPlan', 'events', 'Order Completed', 'properties', 'a"b', 'x', 0];
  assert.equal(formatConfigPath(segments), 'trackingPlan.events["Order Completed"].properties["a\\"b"].x[0]');
  assert.deepEqual(parseConfigPath(formatConfigPath(segments)), segments);
});

test('purposesCovering: dotted-prefix semantics, never unclassified, memoized', () => {
  const cc = new CompiledConfig(valid(base()));
  const keys = (category: string) => cc.purposesCovering(category).map((p) => p.key);
  assert.deepEqual(keys('user.contact.email'), ['service', 'marketing']);
  assert.deepEqual(keys('user.contactless'), []); // "user.contact" is not a prefix of "user.contactless"
  assert.deepEqual(keys('user.behavior.campaign'), ['marketing']);
  assert.deepEqual(keys('user.behavior.browsing'), ['analytics', 'marketing', 'advertising']);
  assert.deepEqual(keys('unclassified'), []);
  assert.equal(cc.purposesCovering('user.contact.email'), cc.purposesCovering('user.contact.email'));
});

test('lookups, classification and segment mapping', () => {
  const cc = new CompiledConfig(valid(base()));
  assert.equal(cc.purpose('marketing')?.legalBasis, 'consent');
  assert.equal(cc.purpose('nope'), undefined);
  assert.equal(cc.category('user.sensitive.health')?.special, true);
  assert.equal(cc.isSpecial('user.sensitive.health'), true);
  assert.equal(cc.isPersonal('system.technical'), false);
  assert.equal(cc.isPersonal('unclassified'), true);
  assert.deepEqual(cc.consentPurposes().map((p) => p.key), ['analytics', 'marketing', 'advertising']);
  assert.deepEqual(cc.purposesForSegmentCategory('C0004'), ['advertising', 'marketing']);
  assert.deepEqual(cc.purposesForSegmentCategory('C0009'), []);
  assert.equal(cc.classifyTrait('email'), 'user.contact.email');
  assert.equal(cc.classifyEventProperty('track', 'Order Completed', 'total'), 'user.behavior.browsing');
  assert.equal(cc.classifyEventProperty('track', 'Unknown Event', 'total'), null);
  assert.equal(cc.classifyEventProperty('page', undefined, 'url'), 'user.behavior.browsing');
  assert.equal(cc.classifyEventProperty('screen', 'Home', 'url'), null);
  assert.equal(cc.classifyContext('device', 'id'), 'user.device.ip');
  assert.equal(cc.classifyContext('device', 'model'), 'system.technical');
  assert.equal(cc.classifyContext('ip'), 'user.device.ip');
  assert.equal(cc.classifyContext('location'), null);
  assert.equal(cc.eventCategory('track', 'Order Completed'), 'user.behavior.browsing');
  assert.equal(cc.eventCategory('track', 'Other'), null);
  assert.equal(cc.eventCategory('group', undefined), 'system.technical');
  // names that exist on Object.prototype must not classify anything
  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    assert.equal(cc.classifyTrait(name), null);
    assert.equal(cc.classifyContext(name), null);
    assert.equal(cc.eventCategory('track', name), null);
    assert.deepEqual(cc.purposesForSegmentCategory(name), []);
  }
});

test('notice versions: consent holds unless a material version came after it', () => {
  const cc = new CompiledConfig(valid(base()));
  assert.equal(cc.noticeVersionValid('v1'), false);
  assert.equal(cc.noticeVersionValid('v2'), true);
  assert.equal(cc.noticeVersionValid('v3'), true);
  assert.equal(cc.noticeVersionValid('v0'), false);
  const c = base();
  c['notice'] = { current: 'v2', versions: [{ version: 'v1', material: false }, { version: 'v2', material: false }] };
  const noMaterial = new CompiledConfig(valid(c));
  assert.equal(noMaterial.noticeVersionValid('v1'), true);
});

test('the compiled configuration is frozen and its hash is canonical', () => {
  const config = valid(base());
  const cc = new CompiledConfig(config);
  assert.match(cc.hash, /^[0-9a-f]{64}$/);
  assert.throws(() => (cc.config.purposes[0] as Purpose).categories.push('user.device.ip'));
  const reordered = base();
  plan(reordered)['context'] = { 'device.id': 'user.device.ip', device: 'system.technical', ip: 'user.device.ip' };
  assert.equal(new CompiledConfig(valid(reordered)).hash, cc.hash);
  const changed = base();
  purpose(changed, 1)['retentionDays'] = 396;
  assert.notEqual(new CompiledConfig(valid(changed)).hash, cc.hash);
  config.purposes.pop(); // the compiled copy is independent of the object it was built from
  assert.equal(cc.config.purposes.length, 4);
});
test('property: purposesCovering returns exactly the purposes with an equal or dotted-prefix entry', () => {
  const segment = fc.constantFrom('a', 'b', 'ab', 'a_b', 'b2');
  const key = fc.tuple(fc.constantFrom('user', 'system'), fc.array(segment, { minLength: 1, maxLength: 3 })).map(([ns, rest]) => [ns, ...rest].join('.'));
  const arb = fc
    .uniqueArray(key, { minLength: 1, maxLength: 8 })
    .chain((keys) => {
      const prefixes = [...new Set(keys.flatMap((k) => k.split('.').slice(1).map((_, i, parts) => [k.split('.')[0], ...parts.slice(0, i + 1)].join('.'))))];
      const entries = fc.uniqueArray(fc.constantFrom(...prefixes), { minLength: 1, maxLength: 4 });
      return fc.tuple(fc.constant(keys), fc.array(entries, { minLength: 1, maxLength: 4 }), fc.array(fc.oneof(key, fc.constantFrom(...keys), fc.constant('unclassified'), fc.string())));
    });
  fc.assert(
    fc.property(arb, ([keys, purposeEntries, probes]) => {
      const c = base();
      c['categories'] = keys.map((k) => ({ key: k, name: n(k) }));
      c.purposes = purposeEntries.map((categories, i) => ({ key: `p${i}`, name: n(`p${i}`), legalBasis: 'consent', categories, retentionDays: 1 }));
      c['trackingPlan'] = { page: { category: keys[0] }, screen: { category: keys[0] }, group: { category: keys[0] } };
      c['segmentConsentCategories'] = {};
      const cc = new CompiledConfig(valid(c));
      for (const probe of [...keys, ...probes]) {
        const got = new Set(cc.purposesCovering(probe).map((p) => p.key));
        for (const p of cc.config.purposes) {
          const matches = probe !== 'unclassified' && p.categories.some((e) => probe === e || probe.startsWith(`${e}.`));
          assert.equal(got.has(p.key), matches, `${p.key} ${JSON.stringify(p.categories)} vs ${probe}`);
        }
      }
    }),
  );
});

test('retention: anonymous aggregates are off unless asked for, and a bad value names its path', () => {
  assert.equal(valid(base()).retention, undefined, 'absent: no aggregates, and the hash of an older configuration is unchanged');
  const on = base();
  on.retention = { aggregates: true };
  assert.deepEqual(valid(on).retention, { aggregates: true });
  expectError(errorsOf((c) => (c.retention = { aggregates: 'yes' })), 'retention.aggregates', /must be true or false/);
  expectError(errorsOf((c) => (c.retention = { aggregate: true })), 'retention.aggregate', /did you mean "aggregates"/);
});

test('detection: defaults unless written, thresholds bounded, the webhook checked like a destination', () => {
  const plain = valid(base());
  assert.equal(plain.detection, undefined, 'absent: the defaults apply, and the hash of an older configuration is unchanged');
  assert.equal(new CompiledConfig(plain).hash, new CompiledConfig(valid(base())).hash);
  const on = base();
  on['detection'] = { windows: [{ seconds: 3600, subjects: 5000 }, { seconds: 60, subjects: 200 }], webhook: { endpoint: 'http://127.0.0.1:9/x', secretEnv: 'ALERT_SECRET', allowPrivateNetwork: true } };
  assert.deepEqual(valid(on).detection, {
    windows: [{ seconds: 60, subjects: 200 }, { seconds: 3600, subjects: 5000 }],
    suspend: ['service'],
    webhook: { endpoint: 'http://127.0.0.1:9/x', secretEnv: 'ALERT_SECRET', allowPrivateNetwork: true },
  });
  const set = (d: unknown) => (c: ReturnType<typeof base>) => (c['detection'] = d);
  expectError(errorsOf(set({ windows: [{ seconds: 5, subjects: 10 }] })), 'detection.windows[0].seconds', /from 10 to 604800/);
  expectError(errorsOf(set({ windows: [{ seconds: 60, subjects: 0 }] })), 'detection.windows[0].subjects', /from 1 to/);
  expectError(errorsOf(set({ windows: [{ seconds: 60, subjects: 1.5 }] })), 'detection.windows[0].subjects', /whole number/);
  expectError(errorsOf(set({ windows: [] })), 'detection.windows', /must not be empty/);
  expectError(errorsOf(set({ windows: Array.from({ length: 7 }, (_, i) => ({ seconds: 60 + i, subjects: 10 })) })), 'detection.windows', /1 to 6 windows|at most 6/);
  expectError(errorsOf(set({ windows: [{ seconds: 60, subjects: 10 }, { seconds: 60, subjects: 20 }] })), 'detection.windows[1].seconds', /duplicate window length/);
  expectError(errorsOf(set({ suspend: ['root'] })), 'detection.suspend[0]', /./);
  expectError(errorsOf(set({ thresholds: [] })), 'detection.thresholds', /./);
  expectError(errorsOf(set({ webhook: { endpoint: 'http://127.0.0.1:9/x', secretEnv: 'ALERT_SECRET' } })), 'detection.webhook.endpoint', /allowPrivateNetwork/);
  expectError(errorsOf(set({ webhook: { endpoint: 'https://a.example/x', secretEnv: 'whsec_abc' } })), 'detection.webhook.secretEnv', /name of the environment variable/);
});

const webhook = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: 'crm',
  kind: 'webhook',
  purposes: ['marketing'],
  endpoint: 'https://hooks.crm.example/fiducia',
  secretEnv: 'FIDUCIA_CRM_WEBHOOK_SECRET',
  country: 'DE',
  ...over,
});
const withDestinations = (...destinations: Record<string, unknown>[]) => (c: ReturnType<typeof base>) => (c['destinations'] = destinations);
const recipient = (c: ReturnType<typeof base>) => (purpose(c, 3)['recipients'] as Record<string, unknown>[])[0] as Record<string, unknown>;

test('recipients outside the EEA without an adequacy decision carry an acceptable transfer safeguard', async (t) => {
  await t.test('the US without a basis is refused at the recipient\'s transfer', () => {
    expectError(errorsOf((c) => delete recipient(c)['transfer']), 'purposes[3].recipients[0].transfer', /only organisations certified under the EU-US Data Privacy Framework/);
  });
  await t.test('adequacy is not a basis for the US, nor the framework for anyone else', () => {
    expectError(errorsOf((c) => (recipient(c)['transfer'] = { basis: 'adequacy' })), 'purposes[3].recipients[0].transfer', /data_privacy_framework/);
    expectError(
      errorsOf((c) => Object.assign(recipient(c), { country: 'IN', transfer: { basis: 'data_privacy_framework' } })),
      'purposes[3].recipients[0].transfer',
      /US only, not IN/,
    );
  });
  await t.test('a derogation needs its kind, and only a derogation has one', () => {
    expectError(errorsOf((c) => (recipient(c)['transfer'] = { basis: 'derogation' })), 'purposes[3].recipients[0].transfer', /needs derogation/);
    expectError(
      errorsOf((c) => (recipient(c)['transfer'] = { basis: 'standard_contractual_clauses', derogation: 'contract' })),
      'purposes[3].recipients[0].transfer',
      /only with basis derogation/,
    );
    expectError(errorsOf((c) => (recipient(c)['transfer'] = { basis: 'scc' })), 'purposes[3].recipients[0].transfer.basis', /must be one of adequacy, data_privacy_framework/);
  });
  await t.test('"UK" is named at the country', () => {
    expectError(errorsOf((c) => Object.assign(recipient(c), { country: 'UK', transfer: undefined })), 'purposes[3].recipients[0].country', /write "GB"/);
  });
  await t.test('adequate countries need nothing; other countries take SCCs, BCRs or a derogation', () => {
    for (const [country, transfer] of [
      ['CH', undefined],
      ['GB', undefined],
      ['IN', { basis: 'standard_contractual_clauses', reference: 'DPA 2026-02, module 3' }],
      ['SG', { basis: 'binding_corporate_rules' }],
      ['AU', { basis: 'derogation', derogation: 'explicit_consent' }],
      ['FR', undefined],
    ] as const) {
      const c = base();
      Object.assign(recipient(c), { country, transfer });
      if (transfer === undefined) delete recipient(c)['transfer'];
      assert.deepEqual(valid(c).purposes[3]?.recipients[0]?.transfer, transfer, country);
    }
  });
});

test('destinations: defaults, lookups by id and by purpose', () => {
  assert.deepEqual(valid(base()).destinations, [], 'absent: none');
  const c = base();
  withDestinations(
    webhook(),
    webhook({ id: 'cdp', kind: 'segment', name: 'Analytics warehouse', recipientKind: 'third_party', purposes: ['analytics', 'marketing'], categories: ['user.behavior.browsing'], endpoint: 'https://api.segment.example/v1', secretEnv: 'SEGMENT_WRITE_KEY', country: 'US', transfer: { basis: 'standard_contractual_clauses', reference: 'DPA 2026-01' } }),
    webhook({ id: 'local-test', endpoint: 'http://127.0.0.1:9000/hook', allowPrivateNetwork: true, purposes: ['service'] }),
  )(c);
  const config = valid(c);
  assert.deepEqual(config.destinations[0], {
    id: 'crm',
    kind: 'webhook',
    name: 'crm',
    recipientKind: 'processor',
    purposes: ['marketing'],
    endpoint: 'https://hooks.crm.example/fiducia',
    secretEnv: 'FIDUCIA_CRM_WEBHOOK_SECRET',
    country: 'DE',
    allowPrivateNetwork: false,
  });
  assert.deepEqual(config.destinations[1]?.transfer, { basis: 'standard_contractual_clauses', reference: 'DPA 2026-01' });
  assert.deepEqual(config.destinations[1]?.categories, ['user.behavior.browsing']);
  const cc = new CompiledConfig(config);
  assert.equal(cc.destination('cdp')?.name, 'Analytics warehouse');
  assert.equal(cc.destination('nope'), undefined);
  assert.equal(cc.destination('__proto__'), undefined);
  assert.deepEqual(cc.destinationsFor('marketing').map((d) => d.id), ['crm', 'cdp']);
  assert.deepEqual(cc.destinationsFor('analytics').map((d) => d.id), ['cdp']);
  assert.deepEqual(cc.destinationsFor('advertising'), []);
  assert.deepEqual(cc.destinationsFor('constructor'), []);
  assert.throws(() => (cc.destinationsFor('marketing') as unknown[]).push({}));
});

test('destinations: the hash of a configuration without them is what it was before they existed', () => {
  const without = new CompiledConfig(valid(base()));
  const empty = base();
  empty['destinations'] = [];
  assert.equal(new CompiledConfig(valid(empty)).hash, without.hash);
  const { destinations: _none, ...before } = without.config;
  assert.equal(without.hash, createHash('sha256').update(canonicalJson(before)).digest('hex'), 'hashed as if the section did not exist');
  const one = base();
  withDestinations(webhook())(one);
  assert.notEqual(new CompiledConfig(valid(one)).hash, without.hash);
});

test('bad destinations name the offending path', async (t) => {
  await t.test('id: format and duplicates', () => {
    expectError(errorsOf(withDestinations(webhook({ id: 'CRM hook' }))), 'destinations[0].id', /lowercase letters, digits/);
    expectError(errorsOf(withDestinations(webhook({ id: 'x'.repeat(64) }))), 'destinations[0].id', /1 to 63/);
    expectError(errorsOf(withDestinations(webhook(), webhook({ endpoint: 'https://other.example/' }))), 'destinations[1].id', /duplicate destination id "crm"/);
  });
  await t.test('shape: kind, required fields, unknown keys, empty purposes', () => {
    expectError(errorsOf(withDestinations(webhook({ kind: 'kafka' }))), 'destinations[0].kind', /must be one of webhook, segment/);
    const noSecret = webhook();
    delete noSecret['secretEnv'];
    expectError(errorsOf(withDestinations(noSecret)), 'destinations[0].secretEnv', /is required/);
    expectError(errorsOf(withDestinations(webhook({ secret: 'whsec_abc' }))), 'destinations[0].secret', /unknown key "secret".*expected one of .*secretEnv/);
    expectError(errorsOf(withDestinations(webhook({ endpont: 'https://x.example/' }))), 'destinations[0].endpont', /did you mean "endpoint"/);
    expectError(errorsOf(withDestinations(webhook({ purposes: [] }))), 'destinations[0].purposes', /must not be empty/);
    expectError(errorsOf(withDestinations(webhook({ allowPrivateNetwork: 'yes' }))), 'destinations[0].allowPrivateNetwork', /true or false/);
  });
  await t.test('purposes and categories come from the configuration', () => {
    expectError(errorsOf(withDestinations(webhook({ purposes: ['marketting'] }))), 'destinations[0].purposes[0]', /unknown purpose "marketting".*"marketing"/);
    expectError(errorsOf(withDestinations(webhook({ purposes: ['marketing', 'marketing'] }))), 'destinations[0].purposes[1]', /duplicate purpose/);
    expectError(errorsOf(withDestinations(webhook({ categories: ['user.contact.emial'] }))), 'destinations[0].categories[0]', /unknown category "user\.contact\.emial"/);
    expectError(errorsOf(withDestinations(webhook({ categories: ['unclassified'] }))), 'destinations[0].categories[0]', /read by no purpose/);
  });
  await t.test('categories only narrow what the destination\'s purposes cover', () => {
    // marketing covers user.contact.email and user.behavior.*, not the phone number nor the IP address
    expectError(errorsOf(withDestinations(webhook({ categories: ['user.device.ip'] }))), 'destinations[0].categories[0]', /beyond what this destination's purposes \(marketing\) cover: user\.device\.ip/);
    expectError(errorsOf(withDestinations(webhook({ categories: ['user.contact'] }))), 'destinations[0].categories[0]', /cover: user\.contact\.phone$/);
    const ok = base();
    withDestinations(webhook({ categories: ['user.contact.email', 'user.behavior'] }))(ok);
    valid(ok);
  });
  await t.test('endpoint: absolute http(s), no credentials, no fragment, no private address unless allowed', () => {
    const at = 'destinations[0].endpoint';
    expectError(errorsOf(withDestinations(webhook({ endpoint: 'hooks.crm.example/fiducia' }))), at, /absolute URL/);
    expectError(errorsOf(withDestinations(webhook({ endpoint: 'ftp://hooks.crm.example/' }))), at, /https: or http: URL, not ftp:/);
    expectError(errorsOf(withDestinations(webhook({ endpoint: 'https://user:pw@hooks.crm.example/' }))), at, /must not carry credentials/);
    expectError(errorsOf(withDestinations(webhook({ endpoint: 'https://hooks.crm.example/#x' }))), at, /fragment/);
    expectError(errorsOf(withDestinations(webhook({ endpoint: ' https://hooks.crm.example/' }))), at, /spaces/);
    expectError(errorsOf(withDestinations(webhook({ endpoint: `https://hooks.crm.example/${'a'.repeat(2100)}` }))), at, /at most 2048/);
    for (const host of ['127.0.0.1', 'localhost', '10.1.2.3', '192.168.0.10', '172.20.0.1', '169.254.169.254', '[::1]', '[fe80::1]', '[fd00::1]', '[::ffff:10.0.0.1]', '0x7f.1']) {
      expectError(errorsOf(withDestinations(webhook({ endpoint: `http://${host}/hook` }))), at, /allowPrivateNetwork/);
    }
    for (const host of ['127.0.0.1:8080', 'localhost', '10.1.2.3']) {
      const c = base();
      withDestinations(webhook({ endpoint: `http://${host}/hook`, allowPrivateNetwork: true }))(c);
      assert.equal(valid(c).destinations[0]?.allowPrivateNetwork, true);
    }
  });
  await t.test('secretEnv names a variable and never echoes what was written', () => {
    for (const value of ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'crm_secret', '1SECRET', 'A'.repeat(129)]) {
      const errors = errorsOf(withDestinations(webhook({ secretEnv: value })));
      expectError(errors, 'destinations[0].secretEnv', /name of the environment variable/);
      assert.ok(!JSON.stringify(errors).includes(value.slice(0, 12)), 'the value is not repeated in the error');
    }
  });
  await t.test('country and transfer follow the Chapter V rules', () => {
    expectError(errorsOf(withDestinations(webhook({ country: 'US' }))), 'destinations[0].transfer', /Data Privacy Framework/);
    expectError(errorsOf(withDestinations(webhook({ country: 'BR', transfer: { basis: 'data_privacy_framework' } }))), 'destinations[0].transfer', /US only/);
    expectError(errorsOf(withDestinations(webhook({ country: 'IT', transfer: { basis: 'standard_contractual_clauses' } }))), 'destinations[0].transfer', /in the EEA/);
    expectError(errorsOf(withDestinations(webhook({ country: 'IN', transfer: { basis: 'derogation', derogation: 'consent' } }))), 'destinations[0].transfer.derogation', /must be one of explicit_consent/);
    expectError(errorsOf(withDestinations(webhook({ country: 'usa' }))), 'destinations[0].country', /ISO 3166-1 alpha-2/);
    const c = base();
    withDestinations(webhook({ country: 'JP' }), webhook({ id: 'b', country: 'US', transfer: { basis: 'data_privacy_framework' } }))(c);
    valid(c);
  });
});

test('labels: recipient names and field names in words are optional and closed; absent, the configuration is as before', () => {
  const without = new CompiledConfig(valid(base()));
  assert.ok(!('labels' in without.config), 'absent when not written, so an older configuration hashes as before');
  const labelled = base();
  purpose(labelled, 0)['recipients'] = [{ name: 'Carrier', label: { it: 'Corriere', en: 'Carrier' }, kind: 'processor', country: 'IT' }];
  labelled['labels'] = { traits: { favoriteCategory: { it: 'Categoria preferita', en: 'Favourite category' } }, events: { 'Order Completed': { it: 'Ordine completato', en: 'Order completed' } } };
  const cfg = valid(labelled);
  assert.deepEqual(cfg.purposes[0]!.recipients[0]!.label, { it: 'Corriere', en: 'Carrier' });
  assert.deepEqual(JSON.parse(JSON.stringify(cfg.labels)), { traits: { favoriteCategory: { it: 'Categoria preferita', en: 'Favourite category' } }, events: { 'Order Completed': { it: 'Ordine completato', en: 'Order completed' } }, properties: {} });
  const plain = base();
  purpose(plain, 0)['recipients'] = [{ name: 'Carrier', kind: 'processor', country: 'IT' }];
  assert.equal(valid(plain).purposes[0]!.recipients[0]!.label, undefined, 'a recipient without a label keeps its old shape (and hash)');

  expectError(errorsOf((c) => void (c['labels'] = { traits: { email: { it: 'Email' } } })), 'labels.traits.email.en', /required/);
  expectError(errorsOf((c) => void (c['labels'] = { fields: {} })), 'labels.fields', /unknown|not allowed|additional/i);
  expectError(
    errorsOf((c) => void (purpose(c, 0)['recipients'] = [{ name: 'Carrier', label: 'Corriere', kind: 'processor', country: 'IT' }])),
    'purposes[0].recipients[0].label',
    /./,
  );
});
