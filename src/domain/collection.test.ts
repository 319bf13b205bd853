import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_CONFIG_PATH, loadPrivacyConfig } from '../services/config/config-loader.ts';
import { decideCategory, planMessage, type MessagePlan, type ValidNow } from './collection.ts';
import { CompiledConfig } from './privacy-config.ts';
import { UNCLASSIFIED, type PrivacyConfig } from './privacy-config-types.ts';
import { normalizeMessage, type MessageType, type NormalizedMessage } from './segment-message.ts';

const cfg = loadPrivacyConfig(DEFAULT_CONFIG_PATH);
const PURPOSES = cfg.config.purposes.map((p) => p.key);

const only = (...keys: string[]): ValidNow => (k) => keys.includes(k);
/** Contract and legitimate-interest purposes: what holds for a visitor who has consented to nothing. */
const NO_CONSENT = only('service', 'security');

function msg(type: MessageType, raw: Record<string, unknown>): NormalizedMessage {
  const r = normalizeMessage({ anonymousId: 'anon-1', ...raw }, type, 'body', 1_700_000_000_000, {}, () => 'msg-1');
  assert.ok(r.ok, JSON.stringify(r));
  return r.message;
}

/** A derived configuration (not re-validated: the constructor takes a config as-is). */
function derived(edit: (c: PrivacyConfig) => void): CompiledConfig {
  const c = structuredClone(cfg.config) as PrivacyConfig;
  edit(c);
  return new CompiledConfig(c);
}

const dropReasons = (plan: MessagePlan, kind: string) => plan.drops.filter((d) => d.kind === kind).map((d) => d.reason).sort();

describe('decideCategory (shipped configuration)', () => {
  it('keeps non-personal system.* data with no purposes, whatever the consent', () => {
    for (const c of ['system.technical', 'system.campaign', 'system.operations']) {
      assert.deepEqual(decideCategory(cfg, c, () => false), { keep: true, purposes: [] });
    }
    assert.deepEqual(decideCategory(cfg, UNCLASSIFIED, () => false), { keep: true, purposes: [] });
  });

  it('drops personal data no valid purpose covers with no_basis, and data no purpose covers with no_purpose', () => {
    assert.deepEqual(decideCategory(cfg, 'user.behavior.browsing', NO_CONSENT), { keep: false, reason: 'no_basis' });
    assert.deepEqual(decideCategory(cfg, 'user.location.precise', () => true), { keep: false, reason: 'no_purpose' });
  });

  it('lists every valid covering purpose, in configuration order', () => {
    assert.deepEqual(decideCategory(cfg, 'user.behavior.purchase', NO_CONSENT), { keep: true, purposes: ['service'] });
    assert.deepEqual(decideCategory(cfg, 'user.behavior.purchase', () => true), {
      keep: true,
      purposes: ['service', 'analytics', 'personalization', 'marketing', 'advertising'],
    });
    assert.deepEqual(decideCategory(cfg, 'user.device.ip', NO_CONSENT), { keep: true, purposes: ['security'] });
    assert.deepEqual(decideCategory(cfg, 'user.behavior.campaign', only('marketing')), { keep: true, purposes: ['marketing'] });
    assert.deepEqual(decideCategory(cfg, 'user.behavior.campaign', only('service', 'security', 'analytics', 'personalization', 'advertising')), {
      keep: false,
      reason: 'no_basis',
    });
  });

  it('never collects special categories in the shipped configuration (no purpose lists them)', () => {
    for (const c of cfg.config.categories.filter((c) => c.special)) {
      assert.ok(c.key.startsWith('user.sensitive.'));
      const d = decideCategory(cfg, c.key, () => true);
      assert.equal(d.keep, false, c.key);
      assert.equal(!d.keep && d.reason, 'no_purpose', c.key);
    }
  });

  it('drops special categories with special_category unless a consent purpose covering them is valid', () => {
    const withHealth = derived((c) => {
      c.purposes.find((p) => p.key === 'personalization')!.categories.push('user.sensitive.health');
      // Forbidden by validation; here it checks that the engine itself never lets a non-consent basis through.
      c.purposes.find((p) => p.key === 'service')!.categories.push('user.sensitive.health');
    });
    assert.deepEqual(decideCategory(withHealth, 'user.sensitive.health', NO_CONSENT), { keep: false, reason: 'special_category' });
    assert.deepEqual(decideCategory(withHealth, 'user.sensitive.health', () => true), { keep: true, purposes: ['personalization'] });
    assert.deepEqual(decideCategory(withHealth, 'user.sensitive.health', only('service', 'security', 'analytics')), {
      keep: false,
      reason: 'special_category',
    });
  });
});

describe('planMessage (shipped configuration)', () => {
  it('drops a page view when only contract/legitimate-interest purposes hold', () => {
    const plan = planMessage(cfg, msg('page', { name: 'Home', properties: { url: 'https://shop.example/', title: 'Home' } }), NO_CONSENT);
    assert.equal(plan.event, null);
    assert.deepEqual(plan.traits, []);
    assert.deepEqual(plan.drops, [{ kind: 'event', reason: 'no_basis', field: 'event' }]);
  });

  it('keeps Order Completed under service without consent, with per-field decisions', () => {
    const m = msg('track', {
      event: 'Order Completed',
      properties: { order_id: 'o-1', total: 99.5, currency: 'EUR', products: [{ sku: 'a' }], giftNote: 'for mum' },
      context: {
        ip: '203.0.113.9',
        userAgent: 'UA',
        locale: 'it-IT',
        library: { name: 'analytics.js', version: '2' },
        campaign: { name: 'spring', source: 'newsletter' },
        location: { city: 'Milano', latitude: 45.4 },
        device: { id: 'dev-1', name: "Anna's iPhone", model: 'iPhone15,2' },
        shoeSize: 38,
      },
    });
    const plan = planMessage(cfg, m, NO_CONSENT);
    assert.ok(plan.event);
    assert.equal(plan.event.category, 'user.behavior.purchase');
    assert.deepEqual(plan.event.purposes, ['security', 'service']);
    assert.deepEqual(plan.event.payload.properties, { order_id: 'o-1', total: 99.5, currency: 'EUR', products: [{ sku: 'a' }] });
    assert.deepEqual(plan.event.payload.context, {
      ip: '203.0.113.9',
      userAgent: 'UA',
      locale: 'it-IT',
      library: { name: 'analytics.js', version: '2' },
      location: { city: 'Milano' },
      device: { id: 'dev-1', model: 'iPhone15,2' },
    });
    assert.equal(plan.event.payload.fields['context.device.model'], 'system.technical');
    assert.equal(plan.event.payload.fields['context.ip'], 'user.device.ip');
    assert.deepEqual(dropReasons(plan, 'property'), ['unknown_property']);
    // campaign.* (marketing only) ×2, location.latitude (no purpose), device.name (unknown), shoeSize (unknown)
    assert.deepEqual(dropReasons(plan, 'context'), ['no_basis', 'no_basis', 'no_purpose', 'unknown_context', 'unknown_context']);
    assert.ok(plan.event.categories.includes('user.behavior.purchase'));
    assert.ok(!plan.event.categories.includes('user.behavior.campaign'));
  });

  it('keeps the page view once analytics is valid, under analytics', () => {
    const plan = planMessage(cfg, msg('page', { properties: { url: 'https://shop.example/', referrer: 'https://search.example/' } }), only('service', 'security', 'analytics'));
    assert.ok(plan.event);
    assert.equal(plan.event.category, 'user.behavior.browsing');
    assert.deepEqual(plan.event.purposes, ['analytics']);
    assert.deepEqual(plan.event.payload.properties, { url: 'https://shop.example/', referrer: 'https://search.example/' });
    assert.deepEqual(plan.drops, []);
    const all = planMessage(cfg, msg('page', { properties: { url: 'u' } }), () => true);
    assert.deepEqual(all.event?.purposes, ['advertising', 'analytics', 'personalization']);
  });

  it('drops unknown track events', () => {
    const plan = planMessage(cfg, msg('track', { event: 'Secret Thing', properties: { a: 1 } }), () => true);
    assert.deepEqual(plan, { event: null, traits: [], drops: [{ kind: 'event', reason: 'unknown_event', field: 'event' }] });
  });

  it('identify: contact traits under service, campaign traits only with marketing, unknown traits dropped', () => {
    const m = msg('identify', {
      userId: 'u-1',
      traits: { email: 'Ada@Example.com', firstName: 'Ada', lastCampaign: 'nov', favoriteCategory: 'shoes', shoeSize: 38 },
    });
    const plan = planMessage(cfg, m, NO_CONSENT);
    assert.equal(plan.event, null);
    const kept = Object.fromEntries(plan.traits.map((t) => [t.name, t]));
    assert.deepEqual(Object.keys(kept).sort(), ['email', 'firstName']);
    assert.deepEqual(kept.email, { name: 'email', category: 'user.contact.email', value: 'Ada@Example.com', purposes: ['service'] });
    assert.deepEqual(kept.firstName!.purposes, ['service']);
    assert.deepEqual(dropReasons(plan, 'trait'), ['no_basis', 'no_basis', 'unknown_trait']);

    const withMarketing = planMessage(cfg, m, only('service', 'security', 'marketing'));
    const mk = Object.fromEntries(withMarketing.traits.map((t) => [t.name, t]));
    assert.deepEqual(Object.keys(mk).sort(), ['email', 'favoriteCategory', 'firstName', 'lastCampaign']);
    assert.deepEqual(mk.lastCampaign!.purposes, ['marketing']);
    assert.deepEqual(mk.email!.purposes, ['service', 'marketing']);
    assert.deepEqual(dropReasons(withMarketing, 'trait'), ['unknown_trait']);

    // Personalization covers preferences but not campaign engagement.
    const withPers = planMessage(cfg, m, only('service', 'security', 'personalization'));
    assert.deepEqual(withPers.traits.map((t) => t.name).sort(), ['email', 'favoriteCategory', 'firstName']);
  });

  it('identify with a special-category trait drops it with special_category', () => {
    const withHealth = derived((c) => {
      c.trackingPlan.traits.healthCondition = 'user.sensitive.health';
      c.purposes.find((p) => p.key === 'personalization')!.categories.push('user.sensitive.health');
    });
    const m = msg('identify', { traits: { healthCondition: 'diabetes', email: 'a@b.it' } });
    const plan = planMessage(withHealth, m, only('service', 'security', 'analytics', 'marketing'));
    assert.deepEqual(plan.traits.map((t) => t.name), ['email']);
    assert.deepEqual(plan.drops, [{ kind: 'trait', reason: 'special_category', field: 'traits.healthCondition' }]);
    const consented = planMessage(withHealth, m, only('personalization'));
    assert.deepEqual(consented.traits.find((t) => t.name === 'healthCondition')?.purposes, ['personalization']);
    // With the shipped configuration the same trait is unknown, so it is never stored either.
    assert.deepEqual(planMessage(cfg, m, () => true).drops, [{ kind: 'trait', reason: 'unknown_trait', field: 'traits.healthCondition' }]);
  });

  it('alias keeps nothing', () => {
    assert.deepEqual(planMessage(cfg, msg('alias', { userId: 'u', previousId: 'a' }), () => true), { event: null, traits: [], drops: [] });
  });

  it('unknown fields are kept as unclassified, under no purpose, when the policy says so', () => {
    const keepUnknown = derived((c) => {
      c.trackingPlan.unknown = { events: 'unclassified', properties: 'unclassified', traits: 'unclassified' };
    });
    const t = planMessage(keepUnknown, msg('identify', { traits: { shoeSize: 38 } }), () => false);
    assert.deepEqual(t.traits, [{ name: 'shoeSize', category: UNCLASSIFIED, value: 38, purposes: [] }]);
    const e = planMessage(keepUnknown, msg('track', { event: 'Secret Thing', properties: { a: 1 } }), () => false);
    assert.ok(e.event);
    assert.equal(e.event.category, UNCLASSIFIED);
    assert.deepEqual(e.event.purposes, []);
    assert.deepEqual(e.event.payload.fields, { 'properties.a': UNCLASSIFIED });
  });
});

// ---- property: nothing is kept that no currently-valid purpose covers -------------------------------

const plan = cfg.config.trackingPlan;
const traitNames = [...Object.keys(plan.traits), 'shoeSize', 'healthCondition', 'secret'];
const eventNames = [...Object.keys(plan.events), 'Secret Thing'];
const propNames = [
  ...new Set([...Object.values(plan.events).flatMap((e) => Object.keys(e.properties)), ...Object.keys(plan.page.properties), ...Object.keys(plan.group.properties)]),
  'giftNote',
  'ssn',
];
const contextKeys = [...new Set(Object.keys(plan.context).map((k) => k.split('.')[0]!)), 'shoeSize'];
const contextSubKeys = ['id', 'name', 'model', 'city', 'latitude', 'source', 'version', 'advertisingId'];

const value = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean());
const context = fc.dictionary(fc.constantFrom(...contextKeys), fc.oneof(value, fc.dictionary(fc.constantFrom(...contextSubKeys), value, { maxKeys: 4 })), { maxKeys: 8 });
const props = fc.dictionary(fc.constantFrom(...propNames), value, { maxKeys: 10 });
const rawMessage = fc.oneof(
  fc.record({ type: fc.constant<MessageType>('identify'), traits: fc.dictionary(fc.constantFrom(...traitNames), value, { maxKeys: 10 }), context }),
  fc.record({ type: fc.constant<MessageType>('track'), event: fc.constantFrom(...eventNames), properties: props, context }),
  fc.record({ type: fc.constantFrom<MessageType>('page', 'screen'), properties: props, context }),
  fc.record({ type: fc.constant<MessageType>('group'), groupId: fc.constant('g-1'), traits: props, properties: props, context }),
);
const validSet = fc.subarray(PURPOSES);

function coveredNow(c: CompiledConfig, category: string, valid: readonly string[]): string[] {
  return c
    .purposesCovering(category)
    .filter((p) => valid.includes(p.key) && (!c.isSpecial(category) || p.legalBasis === 'consent'))
    .map((p) => p.key);
}

function checkPlan(c: CompiledConfig, p: MessagePlan, valid: readonly string[]): void {
  const exempt = (cat: string) => cat === UNCLASSIFIED || cat.startsWith('system.');
  for (const t of p.traits) {
    if (exempt(t.category)) {
      assert.deepEqual(t.purposes, [], t.name);
      continue;
    }
    const ok = coveredNow(c, t.category, valid);
    assert.ok(ok.length > 0, `trait ${t.name} (${t.category}) kept under ${t.purposes} with ${valid}`);
    assert.deepEqual([...t.purposes].sort(), [...ok].sort(), t.name);
  }
  if (!p.event) return;
  for (const purpose of p.event.purposes) assert.ok(valid.includes(purpose), `event purpose ${purpose} not valid`);
  const cats = [p.event.category, ...Object.values(p.event.payload.fields)];
  for (const cat of cats) {
    if (exempt(cat)) continue;
    const ok = coveredNow(c, cat, valid);
    assert.ok(ok.length > 0, `kept a ${cat} field with ${valid}`);
    assert.ok(ok.some((k) => p.event!.purposes.includes(k)), `${cat}: event purposes ${p.event.purposes} do not cover it`);
  }
  const fieldKeys = Object.keys(p.event.payload.fields).sort();
  const payloadKeys = [
    ...Object.keys(p.event.payload.properties).map((k) => `properties.${k}`),
    ...Object.entries(p.event.payload.context).flatMap(([k, v]) =>
      p.event!.payload.fields[`context.${k}`] !== undefined ? [`context.${k}`] : Object.keys(v as object).map((s) => `context.${k}.${s}`),
    ),
  ].sort();
  assert.deepEqual(payloadKeys, fieldKeys, 'every kept value has a classified field entry');
  assert.deepEqual(p.event.categories, [...new Set(cats)].sort());
}

describe('planMessage property', () => {
  const withHealth = derived((c) => {
    c.trackingPlan.traits.healthCondition = 'user.sensitive.health';
    c.purposes.find((p) => p.key === 'personalization')!.categories.push('user.sensitive.health');
  });
  const keepUnknown = derived((c) => {
    c.trackingPlan.unknown = { events: 'unclassified', properties: 'unclassified', traits: 'unclassified' };
  });

  for (const [name, c] of [['shipped', cfg], ['with a special-category trait', withHealth], ['keeping unknown fields', keepUnknown]] as const) {
    it(`never keeps a field no currently-valid purpose covers (${name} configuration)`, () => {
      fc.assert(
        fc.property(rawMessage, validSet, (raw, valid) => {
          const { type, ...rest } = raw;
          const p = planMessage(c, msg(type, rest), (k) => valid.includes(k));
          checkPlan(c, p, valid);
        }),
        { numRuns: 400 },
      );
    });
  }
});
