import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SubjectConsent, SubjectState } from './policy.ts';
import type { Purpose } from './privacy-config-types.ts';
import { aggregateDay, DAY_MS, rowKept, subjectWorthKeeping, type RetentionRules } from './retention.ts';

const purpose = (key: string, legalBasis: Purpose['legalBasis'], retentionDays: number): Purpose => ({
  key,
  name: { it: key, en: key },
  description: { it: key, en: key },
  legalBasis,
  categories: ['user'],
  retentionDays,
  recipients: [],
  saleOrShare: false,
});

const rules: RetentionRules = {
  purposes: new Map([purpose('analytics', 'consent', 30), purpose('service', 'contract', 365), purpose('security', 'legitimate_interests', 90)].map((p) => [p.key, p])),
  noticeVersionValid: (v) => v !== 'old',
};

const T0 = Date.UTC(2026, 0, 1);
const grant = (p: string, status: SubjectConsent['status'] = 'granted', noticeVersion = 'v1'): [string, SubjectConsent] => [p, { purpose: p, status, noticeVersion, method: 'banner', at: T0, explicit: false }];
const subject = (consents: [string, SubjectConsent][] = [], objections: string[] = [], restricted = false): SubjectState => ({ consents: new Map(consents), objections: new Set(objections), restricted, erased: false });

describe('rowKept', () => {
  it('keeps a row while one of its purposes is unexpired with its basis, and drops it once all have run out', () => {
    const s = subject([grant('analytics')]);
    assert.deepEqual(rowKept(['analytics', 'service'], T0, s, T0 + 10 * DAY_MS, rules), { keep: true, purpose: 'analytics' });
    assert.deepEqual(rowKept(['analytics', 'service'], T0, s, T0 + 40 * DAY_MS, rules), { keep: true, purpose: 'service' });
    assert.deepEqual(rowKept(['analytics', 'service'], T0, s, T0 + 365 * DAY_MS, rules), { keep: false, reason: 'expired' });
  });

  it('drops a row whose only purpose lost its basis: withdrawal, denial, objection, no consent', () => {
    const now = T0 + DAY_MS;
    assert.deepEqual(rowKept(['analytics'], T0, subject([grant('analytics', 'withdrawn')]), now, rules), { keep: false, reason: 'basis_lost' });
    assert.deepEqual(rowKept(['analytics'], T0, subject([grant('analytics', 'denied')]), now, rules), { keep: false, reason: 'basis_lost' });
    assert.deepEqual(rowKept(['analytics'], T0, subject(), now, rules), { keep: false, reason: 'basis_lost' });
    assert.deepEqual(rowKept(['security'], T0, subject([], ['security']), now, rules), { keep: false, reason: 'basis_lost' });
    assert.deepEqual(rowKept(['security'], T0, subject(), now, rules), { keep: true, purpose: 'security' });
    // An outdated notice stops new use, not storage.
    assert.deepEqual(rowKept(['analytics'], T0, subject([grant('analytics', 'granted', 'old')]), now, rules), { keep: true, purpose: 'analytics' });
  });

  it('drops a row collected under a purpose no longer configured', () => {
    assert.deepEqual(rowKept(['gone'], T0, subject(), T0 + DAY_MS, rules), { keep: false, reason: 'purpose_removed' });
    assert.deepEqual(rowKept(['gone', 'service'], T0, subject(), T0 + DAY_MS, rules), { keep: true, purpose: 'service' });
  });

  it('keeps a row of no purpose until the longest period has run out', () => {
    assert.equal(rowKept([], T0, subject(), T0 + 364 * DAY_MS, rules).keep, true);
    assert.equal(rowKept([], T0, subject(), T0 + 365 * DAY_MS, rules).keep, false);
  });
});

describe('subjectWorthKeeping', () => {
  it('keeps account holders, restricted subjects and current grants; erases the rest', () => {
    const now = T0 + 10 * DAY_MS;
    assert.equal(subjectWorthKeeping({ assertedIdentity: true, state: subject() }, now, rules), true);
    assert.equal(subjectWorthKeeping({ assertedIdentity: false, state: subject([], [], true) }, now, rules), true);
    assert.equal(subjectWorthKeeping({ assertedIdentity: false, state: subject([grant('analytics')]) }, now, rules), true);
    assert.equal(subjectWorthKeeping({ assertedIdentity: false, state: subject([grant('analytics')]) }, T0 + 31 * DAY_MS, rules), false);
    assert.equal(subjectWorthKeeping({ assertedIdentity: false, state: subject([grant('analytics', 'withdrawn')]) }, now, rules), false);
    assert.equal(subjectWorthKeeping({ assertedIdentity: false, state: subject() }, now, rules), false);
  });
});

describe('aggregateDay', () => {
  it('is the UTC day', () => assert.equal(aggregateDay(Date.UTC(2026, 2, 5, 23, 59)), '2026-03-05'));
});
