import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { authorityNotice, breachClock, decideStatus, encryptionExemption, maySendNotice, missingItems, noticeMovesOn, NOTIFICATION_WINDOW_MS, type BreachFacts } from './breach.ts';
import { authorityNotification, documentHtml, documentText, subjectNotice, type BreachDocInput } from './breach-documents.ts';

const H = 3600_000;
const T0 = Date.parse('2026-01-10T08:00:00Z');

describe('the 72-hour clock', () => {
  it('runs from awareness while the breach is open and stops once the authority is notified', () => {
    assert.deepEqual(breachClock('open', T0, null, T0 + 70 * H), { deadline: T0 + NOTIFICATION_WINDOW_MS, running: true, remainingMs: 2 * H, overdue: false, notifiedLate: null });
    assert.deepEqual(breachClock('open', T0, null, T0 + 73 * H), { deadline: T0 + 72 * H, running: true, remainingMs: -H, overdue: true, notifiedLate: null });
    assert.deepEqual(breachClock('notified_authority', T0, T0 + 80 * H, T0 + 90 * H), { deadline: T0 + 72 * H, running: false, remainingMs: null, overdue: false, notifiedLate: true });
    assert.equal(breachClock('closed', T0, T0 + 72 * H, T0 + 100 * H).notifiedLate, false, 'exactly at the deadline is in time');
  });

  it('asks for the reasons of a late first notification only', () => {
    assert.deepEqual(authorityNotice('open', T0, T0 + 73 * H, T0 + 73 * H, undefined, null), { ok: false, reason: 'delay_reason_required' });
    assert.deepEqual(authorityNotice('open', T0, T0 + 73 * H, T0 + 73 * H, 'given', null), { ok: true, value: { phase: 'initial', late: true } });
    assert.deepEqual(authorityNotice('open', T0, T0 + 10 * H, T0 + 73 * H, undefined, null), { ok: true, value: { phase: 'initial', late: false } }, 'notified in time, recorded later');
    assert.deepEqual(authorityNotice('notified_authority', T0, T0 + 90 * H, T0 + 90 * H, undefined, null), { ok: true, value: { phase: 'further', late: true } });
    assert.equal(authorityNotice('open', T0, T0 - 1, T0, undefined, null).ok, false, 'not before awareness');
    assert.equal(authorityNotice('open', T0, T0 + 2 * H, T0 + H, undefined, null).ok, false, 'not in the future');
    assert.equal(authorityNotice('closed', T0, T0, T0, undefined, null).ok, false);
    assert.equal(authorityNotice('not_required', T0, T0, T0, undefined, null).ok, false);
  });
});

describe('status decisions', () => {
  it('allows the lifecycle and names the ground of not_required', () => {
    assert.equal(decideStatus('open', 'not_required', 'no_risk').ok, true);
    assert.equal(decideStatus('open', 'not_required', 'encrypted').ok, false, 'Art. 34 grounds need the authority notified first');
    assert.equal(decideStatus('open', 'not_required', undefined).ok, false);
    assert.equal(decideStatus('notified_authority', 'not_required', 'no_risk').ok, false);
    for (const r of ['no_high_risk', 'encrypted', 'subsequent_measures', 'public_communication'] as const) assert.equal(decideStatus('notified_authority', 'not_required', r).ok, true, r);
    assert.equal(decideStatus('open', 'closed', undefined).ok, false);
    assert.equal(decideStatus('notified_authority', 'closed', undefined).ok, true);
    assert.equal(decideStatus('closed', 'open', undefined).ok, false);
    assert.equal(decideStatus('open', 'notified_authority', undefined).ok, false, 'its own step');
    assert.equal(decideStatus('notified_authority', 'closed', 'encrypted').ok, false, 'a reason only with not_required');
  });

  it('sends the notice once the authority is notified, and when the authority requires it after all (Art. 34(4))', () => {
    assert.equal(maySendNotice('open', null).ok, false);
    assert.equal(maySendNotice('notified_authority', T0).ok, true);
    assert.equal(maySendNotice('subjects_notified', T0).ok, true);
    assert.equal(maySendNotice('not_required', T0).ok, true, 'Art. 34(4)');
    assert.equal(maySendNotice('not_required', null).ok, false, 'no risk: nobody was notified');
    assert.equal(maySendNotice('closed', T0).ok, false);
    assert.equal(noticeMovesOn('not_required'), true);
    assert.equal(noticeMovesOn('subjects_notified'), false);
  });

  it('reads encryption for Art. 34(3)(a)', () => {
    assert.equal(encryptionExemption('keys_safe'), 'may_apply');
    assert.equal(encryptionExemption('keys_compromised'), 'does_not_apply');
    assert.equal(encryptionExemption('not_encrypted'), 'does_not_apply');
    assert.equal(encryptionExemption('unknown'), 'to_assess');
  });
});

const facts: BreachFacts = {
  nature: ['integrity'],
  description: { en: 'Prices were altered.' },
  categories: ['user.behavior.purchase'],
  approxSubjects: null,
  approxRecords: 10,
  consequences: null,
  measuresTaken: { it: 'Ripristino.', en: 'Restored.' },
  measuresProposed: null,
  adviceToSubjects: null,
  encryption: 'not_encrypted',
  contact: { name: 'DPO', email: 'dpo@example.com' },
  awareAt: T0,
  occurredAt: null,
};
const input: BreachDocInput = {
  id: 'b1',
  controller: { name: 'Shop', contact: 'privacy@example.com', country: 'IT' },
  facts,
  status: 'open',
  authorityNotifiedAt: null,
  authorityReference: null,
  delayReason: null,
  notRequiredReason: null,
  subjectsNotified: 0,
  categoryName: (_key, lang) => ({ name: lang === 'it' ? 'Acquisti' : 'Purchases', special: false }),
  generatedAt: T0 + H,
};

describe('documents', () => {
  it('lists what is still unknown as information to follow (Art. 33(4))', () => {
    assert.deepEqual(missingItems(facts), ['approxSubjects', 'consequences']);
    const text = documentText(authorityNotification(input, 'it'));
    assert.match(text, /saranno fornite senza ulteriore ingiustificato ritardo/);
    assert.match(text, /- numero approssimativo di interessati\n- probabili conseguenze/);
    assert.match(text, /Numero approssimativo di interessati coinvolti: non ancora noto/);
  });

  it('marks a text missing in the document language instead of leaving a gap', () => {
    const text = documentText(subjectNotice(input, 'it'));
    assert.match(text, /Prices were altered\. \(testo disponibile solo in un’altra lingua\)/);
    assert.match(text, /Ripristino\./);
  });

  it('writes one style block and escapes every value in HTML', () => {
    const html = documentHtml(authorityNotification({ ...input, controller: { ...input.controller, name: '<b>Shop</b>' } }, 'en'));
    assert.equal(html.split('<style>').length, 2);
    assert.ok(html.includes('&lt;b&gt;Shop&lt;/b&gt;') && !html.includes('<b>'), 'escaped');
  });
});
