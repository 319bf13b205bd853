import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  RIGHTS_STATUSES,
  VERIFICATION,
  addCalendarMonths,
  canTransition,
  dueDate,
  extendDeadline,
  isDirectMarketing,
  isOverdue,
  isPortable,
  objectionOutcome,
  verifyAttempt,
} from './rights.ts';

const at = (iso: string) => Date.parse(iso);

describe('rights deadlines', () => {
  it('is one calendar month after receipt, at the same time of day', () => {
    assert.equal(dueDate(at('2026-03-15T10:20:30.000Z')), at('2026-04-15T10:20:30.000Z'));
    assert.equal(dueDate(at('2026-12-05T00:00:00.000Z')), at('2027-01-05T00:00:00.000Z'));
  });

  it('ends on the last day of a shorter month', () => {
    assert.equal(dueDate(at('2026-01-31T09:00:00.000Z')), at('2026-02-28T09:00:00.000Z'));
    assert.equal(dueDate(at('2028-01-31T09:00:00.000Z')), at('2028-02-29T09:00:00.000Z'));
    assert.equal(dueDate(at('2026-03-31T09:00:00.000Z')), at('2026-04-30T09:00:00.000Z'));
    assert.equal(addCalendarMonths(at('2026-12-31T23:59:59.999Z'), 2), at('2027-02-28T23:59:59.999Z'));
  });

  it('is always later than receipt and at most 31 days after it', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2100, 0, 1) }), (t) => {
        const d = dueDate(t);
        return d > t && d - t <= 31 * 86_400_000 && d - t >= 28 * 86_400_000;
      }),
    );
  });

  it('extends once, by one or two months, with a reason, before the deadline passes', () => {
    const received = at('2026-01-10T00:00:00.000Z');
    const req = { status: 'verified' as const, receivedAt: received, dueAt: dueDate(received), extendedAt: null };
    const e = extendDeadline(req, 2, 'many requests this month', received + 1000);
    assert.deepEqual(e, { ok: true, value: at('2026-04-10T00:00:00.000Z') });
    assert.equal(extendDeadline({ ...req, extendedAt: received + 1000 }, 1, 'again', received + 2000).ok, false);
    assert.equal(extendDeadline(req, 3, 'too long', received).ok, false);
    assert.equal(extendDeadline(req, 0, 'nothing', received).ok, false);
    assert.equal(extendDeadline(req, 1, '   ', received).ok, false);
    assert.equal(extendDeadline(req, 1, 'late', req.dueAt + 1).ok, false);
    assert.equal(extendDeadline({ ...req, status: 'completed' }, 1, 'done', received).ok, false);
  });

  it('is overdue only while open and past its deadline', () => {
    assert.equal(isOverdue({ status: 'in_progress', dueAt: 100 }, 101), true);
    assert.equal(isOverdue({ status: 'in_progress', dueAt: 100 }, 100), false);
    assert.equal(isOverdue({ status: 'completed', dueAt: 100 }, 1000), false);
    assert.equal(isOverdue({ status: 'rejected', dueAt: 100 }, 1000), false);
  });
});

describe('rights lifecycle', () => {
  it('follows received → verified → in_progress → completed | rejected', () => {
    assert.equal(canTransition('received', 'verified').ok, true);
    assert.equal(canTransition('verified', 'in_progress').ok, true);
    assert.equal(canTransition('in_progress', 'completed').ok, true);
    assert.equal(canTransition('in_progress', 'rejected').ok, true);
    assert.equal(canTransition('received', 'in_progress').ok, false);
    assert.equal(canTransition('received', 'completed').ok, false);
  });

  it('never leaves a final state', () => {
    for (const from of ['completed', 'rejected'] as const) {
      for (const to of RIGHTS_STATUSES) assert.equal(canTransition(from, to).ok, false, `${from} → ${to}`);
    }
  });
});

describe('self-service verification', () => {
  const pending = { status: 'received' as const, attempts: 0, codeExpiresAt: 1000 };
  it('verifies a matching code before it expires', () => {
    assert.deepEqual(verifyAttempt(pending, true, 999), { result: 'verified' });
  });
  it('counts wrong codes and locks after the last attempt', () => {
    assert.deepEqual(verifyAttempt(pending, false, 10), { result: 'wrong_code', attemptsLeft: VERIFICATION.maxAttempts - 1 });
    assert.deepEqual(verifyAttempt({ ...pending, attempts: VERIFICATION.maxAttempts - 1 }, false, 10), { result: 'locked' });
    // Even the right code is refused once locked.
    assert.deepEqual(verifyAttempt({ ...pending, attempts: VERIFICATION.maxAttempts }, true, 10), { result: 'locked' });
  });
  it('refuses an expired code and a request that is not waiting for one', () => {
    assert.deepEqual(verifyAttempt(pending, true, 1001), { result: 'expired' });
    assert.deepEqual(verifyAttempt({ ...pending, status: 'verified' }, true, 10), { result: 'not_pending' });
  });
});

describe('objection and portability', () => {
  const purpose = (key: string, legalBasis: 'consent' | 'contract' | 'legitimate_interests' | 'legal_obligation', saleOrShare = false) => ({ key, legalBasis, saleOrShare });
  it('is absolute for direct marketing whatever the basis', () => {
    assert.equal(objectionOutcome(purpose('marketing', 'legitimate_interests')), 'stopped_absolute');
    assert.equal(objectionOutcome(purpose('ads', 'consent', true)), 'stopped_absolute');
    assert.equal(objectionOutcome(purpose('newsletter', 'legitimate_interests'), ['newsletter']), 'stopped_absolute');
    assert.equal(isDirectMarketing(purpose('analytics', 'consent')), false);
  });
  it('stops legitimate interests and consent, not contract or legal obligation', () => {
    assert.equal(objectionOutcome(purpose('security', 'legitimate_interests')), 'stopped');
    assert.equal(objectionOutcome(purpose('analytics', 'consent')), 'stopped_consent');
    assert.equal(objectionOutcome(purpose('service', 'contract')), 'not_objectable');
    assert.equal(objectionOutcome(purpose('tax', 'legal_obligation')), 'not_objectable');
  });
  it('makes an item portable when one of its purposes rests on consent or contract', () => {
    const bases: Record<string, 'consent' | 'contract' | 'legitimate_interests'> = { analytics: 'consent', service: 'contract', security: 'legitimate_interests' };
    const of = (k: string) => (bases[k] ? { legalBasis: bases[k] } : undefined);
    assert.equal(isPortable(['security'], of), false);
    assert.equal(isPortable(['security', 'service'], of), true);
    assert.equal(isPortable(['analytics'], of), true);
    assert.equal(isPortable([], of), false);
    assert.equal(isPortable(['unknown'], of), false);
  });
});
