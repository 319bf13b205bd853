import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_CONFIG_PATH, loadPrivacyConfig } from '../services/config/config-loader.ts';
import type { ConsentStatus } from './consent.ts';
import { ALLOW, DENY_REASONS, EMPTY_SUBJECT, PolicyEngine, callerMayActFor, type CallerRole, type PolicyCaller, type PolicyDecision, type SubjectConsent, type SubjectState } from './policy.ts';
import { CompiledConfig, validatePrivacyConfig } from './privacy-config.ts';
import type { PrivacyConfig } from './privacy-config-types.ts';

const shipped = loadPrivacyConfig(DEFAULT_CONFIG_PATH);

// The shipped configuration covers no special category; this one adds a consent-based purpose that does.
function withWellness(): CompiledConfig {
  const raw = JSON.parse(JSON.stringify(shipped.config)) as PrivacyConfig & Record<string, unknown>;
  raw.purposes.push({
    key: 'wellness',
    name: { it: 'Benessere', en: 'Wellness' },
    description: { it: 'Consigli per la salute', en: 'Health tips' },
    legalBasis: 'consent',
    categories: ['user.sensitive.health', 'user.preference.lifestyle'],
    retentionDays: 365,
    recipients: [],
    saleOrShare: false,
  });
  // Back to the input shape: `special` and `personal` are derived by validation, not written.
  const v = validatePrivacyConfig({ ...raw, categories: raw.categories.map(({ key, name }) => ({ key, name })) });
  assert.ok(v.ok, JSON.stringify(!v.ok && v.errors));
  return new CompiledConfig(v.config);
}

const cfg = withWellness();
const engine = new PolicyEngine(cfg);
const PURPOSES = cfg.config.purposes.map((p) => p.key);
const CATEGORIES = [...cfg.config.categories.map((c) => c.key), 'unclassified', 'user.made_up', 'system.other'];
const VERSIONS = [...cfg.config.notice.versions.map((v) => v.version), '1999-01'];
const ROLES: CallerRole[] = ['admin', 'dpo', 'analyst', 'service', 'system'];

const caller = (role: CallerRole, purposes: string[] = []): PolicyCaller => ({ role, purposes });
const ADMIN = caller('admin');
function subject(consents: Record<string, Partial<SubjectConsent> & { status: ConsentStatus }> = {}, extra: Partial<SubjectState> = {}): SubjectState {
  const map = new Map<string, SubjectConsent>();
  for (const [purpose, c] of Object.entries(consents)) map.set(purpose, { purpose, noticeVersion: '2026-11', method: 'banner', at: 1, explicit: false, ...c });
  return { ...EMPTY_SUBJECT, consents: map, ...extra };
}

// ---- generators ----

const consentArb = fc.record({
  status: fc.constantFrom<ConsentStatus>('granted', 'denied', 'withdrawn'),
  noticeVersion: fc.constantFrom(...VERSIONS),
  explicit: fc.boolean(),
});
// Mostly ordinary subjects, so that the later steps of the rule are reached often.
const rarely = fc.oneof({ weight: 6, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });
const subjectArb: fc.Arbitrary<SubjectState> = fc
  .record({
    consents: fc.dictionary(fc.constantFrom(...PURPOSES), consentArb, { maxKeys: PURPOSES.length }),
    restricted: rarely,
    erased: rarely,
    objections: fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.subarray(PURPOSES) }),
  })
  .map(({ consents, restricted, erased, objections }) => subject(consents, { restricted, erased, objections: new Set(objections) }));
const callerArb = fc.record({ role: fc.constantFrom(...ROLES), purposes: fc.subarray([...PURPOSES, 'nope']) });
const purposeArb = fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...PURPOSES) }, { weight: 1, arbitrary: fc.constantFrom('nope', '__proto__', 'toString') });
const categoryArb = fc.oneof(fc.constantFrom(...CATEGORIES), fc.constantFrom(...CATEGORIES.filter((c) => c.startsWith('user.sensitive.'))));
const input = fc.tuple(purposeArb, categoryArb, subjectArb, callerArb);

/** An independent reading of DESIGN §3 "Use", written from the configuration's raw lists (no compiled tables). */
function oracle(purposeKey: string, category: string, s: SubjectState, c: PolicyCaller): PolicyDecision {
  const purpose = cfg.config.purposes.find((p) => p.key === purposeKey);
  if (!purpose) return { allow: false, reason: 'unknown_purpose' };
  const mayAct = c.role === 'admin' || c.role === 'dpo' || c.role === 'system' || (c.role === 'service' && c.purposes.includes(purposeKey));
  if (!mayAct) return { allow: false, reason: 'caller_not_allowed' };
  if (s.erased) return { allow: false, reason: 'erased' };
  if (s.restricted) return { allow: false, reason: 'restricted' };
  const covered =
    category !== 'unclassified' && (category.startsWith('system.') || purpose.categories.some((e) => category === e || category.startsWith(`${e}.`)));
  if (!covered) return { allow: false, reason: 'category_not_in_purpose' };
  if (s.objections.has(purposeKey)) return { allow: false, reason: 'objection' };
  const st = s.consents.get(purposeKey);
  if (purpose.legalBasis === 'consent') {
    if (!st) return { allow: false, reason: 'no_consent' };
    if (st.status === 'withdrawn') return { allow: false, reason: 'consent_withdrawn' };
    if (st.status === 'denied') return { allow: false, reason: 'consent_denied' };
    const versions = cfg.config.notice.versions;
    const i = versions.findIndex((v) => v.version === st.noticeVersion);
    const materialAfter = i < 0 || versions.slice(i + 1).some((v) => v.material);
    if (materialAfter) return { allow: false, reason: 'notice_outdated' };
  }
  if (purpose.legalBasis === 'legitimate_interests' && st && st.status !== 'granted') return { allow: false, reason: 'objection' };
  if (category.startsWith('user.sensitive.') && !(st?.status === 'granted' && st.explicit)) {
    return { allow: false, reason: 'special_category_needs_explicit_consent' };
  }
  return { allow: true };
}

describe('policy engine: properties', () => {
  it('agrees with an independent reading of the rule on every input', () => {
    fc.assert(
      fc.property(input, ([p, c, s, who]) => {
        assert.deepEqual(engine.decide(p, c, s, who), oracle(p, c, s, who));
      }),
      { numRuns: 5000 },
    );
  });

  it('never returns a field whose category the purpose does not allow', () => {
    fc.assert(
      fc.property(input, ([p, c, s, who]) => {
        const purpose = cfg.purpose(p);
        const covered = purpose !== undefined && c !== 'unclassified' && (c.startsWith('system.') || purpose.categories.some((e) => c === e || c.startsWith(`${e}.`)));
        if (!covered) assert.equal(engine.decide(p, c, s, who).allow, false);
      }),
      { numRuns: 3000 },
    );
  });

  it('withdrawn (or denied) consent denies every field of a consent-based purpose', () => {
    fc.assert(
      fc.property(input, fc.constantFrom<ConsentStatus>('withdrawn', 'denied'), ([p, c, s, who], status) => {
        if (cfg.purpose(p)?.legalBasis !== 'consent') return;
        const prev = s.consents.get(p);
        const consents = new Map(s.consents).set(p, { purpose: p, noticeVersion: prev?.noticeVersion ?? '2026-11', method: 'banner', at: 2, explicit: prev?.explicit ?? false, status });
        const d = engine.decide(p, c, { ...s, consents }, who);
        assert.equal(d.allow, false);
      }),
      { numRuns: 3000 },
    );
  });

  it('consent given before a material change of the notice denies', () => {
    // 2026-06 is material: consent under 2026-01 (or an unknown version) is outdated.
    fc.assert(
      fc.property(input, fc.constantFrom('2026-01', '1999-01'), ([p, c, s, who], version) => {
        if (cfg.purpose(p)?.legalBasis !== 'consent') return;
        const consents = new Map(s.consents).set(p, { purpose: p, noticeVersion: version, method: 'banner', at: 2, explicit: true, status: 'granted' });
        const d = engine.decide(p, c, { ...s, consents }, who);
        assert.equal(d.allow, false);
        // Where nothing earlier in the rule stops the read, the reason is the notice itself.
        const reachesBasis = !s.erased && !s.restricted && callerMayActFor(who, p) && !s.objections.has(p) && oracle(p, c, EMPTY_SUBJECT, ADMIN).allow !== false;
        if (reachesBasis) assert.deepEqual(d, { allow: false, reason: 'notice_outdated' });
      }),
      { numRuns: 3000 },
    );
    // A non-material change keeps earlier consent valid: 2026-06 → 2026-11 is not material.
    const s = subject({ personalization: { status: 'granted', noticeVersion: '2026-06' } });
    assert.deepEqual(engine.decide('personalization', 'user.preference.interests', s, ADMIN), ALLOW);
    const old = subject({ personalization: { status: 'granted', noticeVersion: '2026-01' } });
    assert.deepEqual(engine.decide('personalization', 'user.preference.interests', old, ADMIN), { allow: false, reason: 'notice_outdated' });
  });

  it('special categories need explicit consent', () => {
    fc.assert(
      fc.property(input, ([p, c, s, who]) => {
        if (!c.startsWith('user.sensitive.')) return;
        if (engine.decide(p, c, s, who).allow) {
          const st = s.consents.get(p);
          assert.ok(st && st.status === 'granted' && st.explicit, 'allowed special category without explicit consent');
        }
      }),
      { numRuns: 5000 },
    );
    const plain = subject({ wellness: { status: 'granted' } });
    const explicit = subject({ wellness: { status: 'granted', explicit: true } });
    assert.deepEqual(engine.decide('wellness', 'user.sensitive.health', plain, ADMIN), { allow: false, reason: 'special_category_needs_explicit_consent' });
    assert.deepEqual(engine.decide('wellness', 'user.preference.lifestyle', plain, ADMIN), ALLOW);
    assert.deepEqual(engine.decide('wellness', 'user.sensitive.health', explicit, ADMIN), ALLOW);
  });

  it('an erased or restricted subject yields nothing, whatever else holds', () => {
    fc.assert(
      fc.property(input, fc.constantFrom('erased', 'restricted') as fc.Arbitrary<'erased' | 'restricted'>, ([p, c, s, who], mark) => {
        const marked = { ...s, [mark]: true };
        assert.equal(engine.decide(p, c, marked, who).allow, false);
        for (const cat of CATEGORIES) assert.equal(engine.view(p, marked, who).decide(cat).allow, false);
      }),
      { numRuns: 1000 },
    );
  });

  it('a caller acts only for purposes it may: analysts never, services only for their bound purposes', () => {
    fc.assert(
      fc.property(input, ([p, c, s, who]) => {
        const d = engine.decide(p, c, s, who);
        if (d.allow) {
          assert.notEqual(who.role, 'analyst');
          if (who.role === 'service') assert.ok(who.purposes.includes(p));
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('the per-read view decides every field exactly as the single decision does', () => {
    fc.assert(
      fc.property(purposeArb, subjectArb, callerArb, (p, s, who) => {
        const view = engine.view(p, s, who);
        for (const c of CATEGORIES) assert.deepEqual(view.decide(c), engine.decide(p, c, s, who));
      }),
      { numRuns: 2000 },
    );
  });

  it('couldAllow is true exactly for the categories some state of the subject lets the purpose read', () => {
    // Everything granted, explicitly, under the current notice: the most any subject can open a purpose to.
    const current = cfg.config.notice.versions.at(-1)!.version;
    const open = subject(Object.fromEntries(PURPOSES.map((p) => [p, { status: 'granted' as const, explicit: true, noticeVersion: current }])));
    fc.assert(
      fc.property(input, ([p, c, s, who]) => {
        const could = engine.view(p, s, who).couldAllow(c);
        if (engine.decide(p, c, s, who).allow) assert.ok(could, `${p} allowed ${c} but says it never could`);
        if (engine.hasPurpose(p)) assert.equal(could, engine.decide(p, c, open, ADMIN).allow, `${p} / ${c}`);
        else assert.equal(could, false, 'an unknown purpose reads nothing');
      }),
      { numRuns: 3000 },
    );
  });

  it('prefixesOf covers every category a purpose may allow (storage fetches ciphertexts by these prefixes only)', () => {
    fc.assert(
      fc.property(input, ([p, c, s, who]) => {
        if (!engine.decide(p, c, s, who).allow) return;
        assert.ok(engine.prefixesOf(p).some((x) => c === x || c.startsWith(`${x}.`)), `${p} allows ${c} outside its prefixes`);
      }),
      { numRuns: 3000 },
    );
    assert.deepEqual(engine.prefixesOf('nope'), []);
  });

  it('every reason is one of the stable codes', () => {
    fc.assert(
      fc.property(input, ([p, c, s, who]) => {
        const d = engine.decide(p, c, s, who);
        if (!d.allow) assert.ok(DENY_REASONS.includes(d.reason));
      }),
    );
  });
});

describe('policy engine: the shipped configuration', () => {
  const e = new PolicyEngine(shipped);
  const everyone = subject({ analytics: { status: 'granted' }, personalization: { status: 'granted' }, marketing: { status: 'granted' } });

  it('reads the same subject differently per purpose', () => {
    const cases: [string, string, PolicyDecision][] = [
      ['personalization', 'user.preference.interests', ALLOW],
      ['personalization', 'user.contact.email', { allow: false, reason: 'category_not_in_purpose' }],
      ['personalization', 'user.behavior.campaign', { allow: false, reason: 'category_not_in_purpose' }],
      ['marketing', 'user.behavior.campaign', ALLOW],
      ['marketing', 'user.contact.email', ALLOW],
      ['analytics', 'user.preference.interests', { allow: false, reason: 'category_not_in_purpose' }],
      ['analytics', 'user.demographic.age', ALLOW],
      ['service', 'user.contact.email', ALLOW],
      ['advertising', 'user.device.id', { allow: false, reason: 'no_consent' }],
    ];
    for (const [p, c, want] of cases) assert.deepEqual(e.decide(p, c, everyone, ADMIN), want, `${p} / ${c}`);
  });

  it('a withdrawal, an objection or a restriction each give their own reason', () => {
    const withdrawn = subject({ personalization: { status: 'withdrawn' } });
    assert.deepEqual(e.decide('personalization', 'user.name', withdrawn, ADMIN), { allow: false, reason: 'consent_withdrawn' });
    assert.deepEqual(e.decide('personalization', 'user.name', subject({ personalization: { status: 'denied' } }), ADMIN), { allow: false, reason: 'consent_denied' });
    assert.deepEqual(e.decide('personalization', 'user.name', EMPTY_SUBJECT, ADMIN), { allow: false, reason: 'no_consent' });
    // security rests on legitimate interests: it holds until the subject objects (Art. 21).
    assert.deepEqual(e.decide('security', 'user.device.ip', EMPTY_SUBJECT, ADMIN), ALLOW);
    assert.deepEqual(e.decide('security', 'user.device.ip', subject({}, { objections: new Set(['security']) }), ADMIN), { allow: false, reason: 'objection' });
    assert.deepEqual(e.decide('service', 'user.contact.email', subject({}, { restricted: true }), ADMIN), { allow: false, reason: 'restricted' });
    assert.deepEqual(e.decide('service', 'user.contact.email', subject({}, { erased: true }), ADMIN), { allow: false, reason: 'erased' });
    assert.deepEqual(e.decide('nope', 'user.contact.email', EMPTY_SUBJECT, ADMIN), { allow: false, reason: 'unknown_purpose' });
    assert.deepEqual(e.decide('personalization', 'unclassified', everyone, ADMIN), { allow: false, reason: 'category_not_in_purpose' });
  });

  it('callers: service tokens only for their purposes, analysts never, dpo and admin for any', () => {
    const svc = caller('service', ['analytics']);
    assert.deepEqual(e.decide('personalization', 'user.preference.interests', everyone, svc), { allow: false, reason: 'caller_not_allowed' });
    assert.deepEqual(e.decide('analytics', 'user.demographic.age', everyone, svc), ALLOW);
    assert.deepEqual(e.decide('analytics', 'user.demographic.age', everyone, caller('analyst')), { allow: false, reason: 'caller_not_allowed' });
    assert.deepEqual(e.decide('marketing', 'user.contact.email', everyone, caller('dpo')), ALLOW);
    // A dpo reads for a purpose, not around it: the subject's choices still apply.
    assert.deepEqual(e.decide('advertising', 'user.contact.email', everyone, caller('dpo')), { allow: false, reason: 'no_consent' });
  });

  it('decisions are shared frozen objects: deciding allocates nothing', () => {
    const a = e.decide('personalization', 'user.name', everyone, ADMIN);
    const b = e.decide('personalization', 'user.name', everyone, ADMIN);
    assert.equal(a, b);
    assert.ok(Object.isFrozen(a));
  });
});
