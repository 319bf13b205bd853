// The breach register (Arts. 33–34) on both databases: recording, the 72-hour clock, late notification, the two
// documents in both languages, the notice reaching people through SMTP, the audit trail and the role checks.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../src/app.ts';
import { NOTIFICATION_WINDOW_MS } from '../src/domain/breach.ts';
import type { BreachView } from '../src/services/breaches/breaches.ts';
import { ADMIN_TOKEN, basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';
import { seedSubject, staffRequest, subjectOf, type Running } from './helpers/rights.ts';
import { SmtpServer } from './helpers/smtp-server.ts';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const HOUR = 3600_000;

/** A breach with every Art. 33(3) item, in both languages. */
function fullBreach(awareAt: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    nature: ['confidentiality', 'availability'],
    description: { it: 'Un backup del database è stato copiato da un server di prova esposto.', en: 'A database backup was copied from an exposed test server.' },
    categories: ['user.contact.email', 'user.behavior.purchase', 'user.sensitive.health'],
    approxSubjects: 1200,
    approxRecords: 45000,
    consequences: { it: 'Possibili email di phishing mirate.', en: 'Possible targeted phishing emails.' },
    measuresTaken: { it: 'Server spento e credenziali ruotate.', en: 'Server shut down and credentials rotated.' },
    measuresProposed: { it: 'Revisione trimestrale degli accessi.', en: 'Quarterly access review.' },
    adviceToSubjects: { it: 'Diffida dei messaggi che chiedono la password.', en: 'Distrust messages asking for your password.' },
    encryption: 'keys_safe',
    contact: { name: 'Maria Rossi', email: 'dpo@example-shop.it', phone: '+39 02 1234567' },
    awareAt: new Date(awareAt).toISOString(),
    occurredAt: new Date(awareAt - 6 * HOUR).toISOString(),
    ...extra,
  };
}

/** Words of the English templates (and English words in general) that must not appear in an Italian document. */
const ENGLISH = /\b(the|and|of|your|you|we|breach|notified|authority|measures|likely|contact point|approximate|about|timeline|encryption|what happened|not known|subjects?)\b/i;

await eachDialect('breach register', (dialect) => {
  let f: Running;
  let clock = 0;
  const smtp = new SmtpServer();
  const lines: string[] = [];
  const call = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object, headers: Record<string, string> = admin) =>
    f.app.inject({ method, url, headers, ...(payload ? { payload } : {}) });
  const create = async (body: Record<string, unknown>): Promise<BreachView> => {
    const r = await call('POST', '/api/v1/breaches', body);
    assert.equal(r.statusCode, 201, r.body);
    return r.json<BreachView>();
  };

  before(async () => {
    await smtp.start();
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    clock = Date.parse('2026-03-02T09:00:00.000Z');
    f = await startFiducia(dialect, {
      smtpUrl: `smtp://127.0.0.1:${smtp.port}`,
      deliveries: { enabled: false },
      breachesClock: () => clock,
      logger: createLogger('trace', sink),
      rightsSweepMs: 0,
      auditCheckpointSeconds: 0,
      segmentRefreshMs: 0,
    });
  });
  after(async () => {
    await f?.stop();
    await smtp.stop();
  });

  describe('recording and the clock', () => {
    it('records a breach with its 72-hour deadline computed from awareness', async () => {
      const awareAt = clock - 10 * HOUR;
      const b = await create(fullBreach(awareAt));
      assert.equal(b.status, 'open');
      assert.equal(b.clock.deadline, new Date(awareAt + NOTIFICATION_WINDOW_MS).toISOString());
      assert.equal(b.clock.remainingMs, 62 * HOUR);
      assert.equal(b.clock.overdue, false);
      assert.equal(b.clock.running, true);
      assert.equal(b.encryptionExemption, 'may_apply', 'keys that stayed safe: Art. 34(3)(a) may apply');
      assert.deepEqual(b.missing, [], 'every Art. 33(3) item was given');
      const row = await f.dbs.data.selectFrom('breaches').select(['due_at', 'status']).where('id', '=', b.id).executeTakeFirstOrThrow();
      assert.equal(Number(row.due_at), awareAt + NOTIFICATION_WINDOW_MS);
    });

    it('shows a breach as overdue once the clock passes the deadline, overdue ones first in the list', async () => {
      const early = await create(fullBreach(clock - 70 * HOUR, { description: { it: 'Primo.', en: 'First.' } }));
      const later = await create(fullBreach(clock - 1 * HOUR, { description: { it: 'Secondo.', en: 'Second.' } }));
      clock += 3 * HOUR;
      const one = (await call('GET', `/api/v1/breaches/${early.id}`)).json<BreachView>();
      assert.equal(one.clock.overdue, true);
      assert.equal(one.clock.remainingMs, -1 * HOUR);
      const list = (await call('GET', '/api/v1/breaches?status=open')).json<{ breaches: BreachView[] }>().breaches;
      assert.equal(list[0]!.id, early.id, 'the overdue breach comes first');
      assert.ok(list.findIndex((x) => x.id === later.id) > 0, 'the one still in time comes after');
      assert.equal(list.find((x) => x.id === later.id)!.clock.overdue, false);
    });

    it('refuses a late notification to the authority without the reasons for the delay, and takes it with them', async () => {
      const b = await create(fullBreach(clock - 80 * HOUR));
      const refused = await call('POST', `/api/v1/breaches/${b.id}/authority-notification`, { reference: 'GPDP-1' });
      assert.equal(refused.statusCode, 400, refused.body);
      assert.equal(refused.json<{ error: { code: string } }>().error.code, 'FIDUCIA_DELAY_REASON_REQUIRED');
      assert.equal((await call('GET', `/api/v1/breaches/${b.id}`)).json<BreachView>().status, 'open', 'nothing changed');
      const ok = await call('POST', `/api/v1/breaches/${b.id}/authority-notification`, {
        reference: 'GPDP-1',
        delayReason: { it: 'Analisi forense durata quattro giorni.', en: 'The forensic analysis took four days.' },
      });
      assert.equal(ok.statusCode, 200, ok.body);
      const v = ok.json<BreachView>();
      assert.equal(v.status, 'notified_authority');
      assert.equal(v.clock.notifiedLate, true);
      assert.equal(v.clock.running, false);
      assert.equal(v.clock.overdue, false);
      assert.equal(v.authority.reference, 'GPDP-1');
      assert.deepEqual(v.history!.map((h) => h.action), ['created', 'authority_notified']);
      const doc = await call('GET', `/api/v1/breaches/${b.id}/notification?lang=it&format=text`);
      assert.match(doc.body, /Motivi del ritardo: Analisi forense durata quattro giorni\./);
      assert.match(doc.body, /oltre le 72 ore/);
    });

    it('takes an on-time notification without a reason, and a later phase of information (Art. 33(4))', async () => {
      const b = await create(fullBreach(clock - 2 * HOUR, { approxRecords: null, consequences: null }));
      assert.deepEqual(b.missing, ['approxRecords', 'consequences']);
      const first = await call('POST', `/api/v1/breaches/${b.id}/authority-notification`, {});
      assert.equal(first.statusCode, 200, first.body);
      assert.equal(first.json<BreachView>().clock.notifiedLate, false);
      const text = (await call('GET', `/api/v1/breaches/${b.id}/notification?lang=en&format=text`)).body;
      assert.match(text, /will follow without undue further delay/);
      assert.match(text, /- approximate number of records/);
      const patched = await call('PATCH', `/api/v1/breaches/${b.id}`, { approxRecords: 900, consequences: { it: 'Nessuna.', en: 'None.' }, note: 'phase 2' });
      assert.equal(patched.statusCode, 200, patched.body);
      const further = await call('POST', `/api/v1/breaches/${b.id}/authority-notification`, { note: 'second phase' });
      assert.equal(further.statusCode, 200, further.body);
      const v = further.json<BreachView>();
      assert.deepEqual(v.missing, []);
      assert.deepEqual(v.history!.map((h) => h.action), ['created', 'authority_notified', 'updated', 'authority_further_information']);
      const upd = v.history!.find((h) => h.action === 'updated')!;
      assert.deepEqual(upd.fields, ['consequences', 'approxRecords']);
      assert.deepEqual(upd.previous, { consequences: null, approxRecords: null });
    });
  });

  describe('validation', () => {
    it('refuses bad input with a code and stores nothing', async () => {
      const before = (await f.dbs.data.selectFrom('breaches').select('id').execute()).length;
      const cases: [string, Record<string, unknown>, string][] = [
        ['unknown category', fullBreach(clock, { categories: ['user.nonexistent'] }), 'FIDUCIA_VALIDATION'],
        ['no nature', fullBreach(clock, { nature: [] }), 'FIDUCIA_VALIDATION'],
        ['unknown nature', fullBreach(clock, { nature: ['secrecy'] }), 'FIDUCIA_VALIDATION'],
        ['aware in the future', fullBreach(clock + 48 * HOUR), 'FIDUCIA_VALIDATION'],
        ['occurred after awareness', fullBreach(clock, { occurredAt: new Date(clock + 60_000).toISOString() }), 'FIDUCIA_VALIDATION'],
        ['unknown field', fullBreach(clock, { severity: 'high' }), 'FIDUCIA_VALIDATION'],
        ['text too long', fullBreach(clock, { description: { it: 'x'.repeat(4001) } }), 'FIDUCIA_VALIDATION'],
        ['empty localized text', fullBreach(clock, { description: {} }), 'FIDUCIA_VALIDATION'],
        ['negative count', fullBreach(clock, { approxSubjects: -1 }), 'FIDUCIA_VALIDATION'],
        ['bad contact email', fullBreach(clock, { contact: { name: 'x', email: 'not-an-address' } }), 'FIDUCIA_VALIDATION'],
        ['bad time', fullBreach(clock, { awareAt: 'yesterday' }), 'FIDUCIA_VALIDATION'],
        ['leap second', fullBreach(clock, { awareAt: '2016-12-31T23:59:60Z' }), 'FIDUCIA_VALIDATION'],
      ];
      for (const [name, body, code] of cases) {
        const r = await call('POST', '/api/v1/breaches', body);
        assert.equal(r.statusCode, 400, `${name}: ${r.body}`);
        assert.equal(r.json<{ error: { code: string } }>().error.code, code, name);
      }
      assert.equal((await f.dbs.data.selectFrom('breaches').select('id').execute()).length, before, 'nothing stored');
      const unknown = await call('GET', '/api/v1/breaches/01900000-0000-7000-8000-000000000000');
      assert.equal(unknown.statusCode, 404);
      const badLang = await call('GET', '/api/v1/breaches/01900000-0000-7000-8000-000000000000/notification?lang=fr');
      assert.equal(badLang.statusCode, 400);
    });

    it('follows the status lifecycle and refuses changes to a closed breach', async () => {
      const b = await create(fullBreach(clock - HOUR));
      const early = await call('POST', `/api/v1/breaches/${b.id}/status`, { status: 'not_required', reason: 'encrypted' });
      assert.equal(early.statusCode, 409, 'Art. 34 grounds come after the authority is notified');
      const direct = await call('POST', `/api/v1/breaches/${b.id}/status`, { status: 'closed' });
      assert.equal(direct.statusCode, 409, 'an open breach is not closed without a decision');
      await call('POST', `/api/v1/breaches/${b.id}/authority-notification`, {});
      const nr = await call('POST', `/api/v1/breaches/${b.id}/status`, { status: 'not_required', reason: 'encrypted', note: 'keys stayed in the keystore' });
      assert.equal(nr.statusCode, 200, nr.body);
      assert.equal(nr.json<BreachView>().notRequiredReason, 'encrypted');
      const it = (await call('GET', `/api/v1/breaches/${b.id}/notification?lang=it&format=text`)).body;
      assert.match(it, /art\. 34, par\. 3, lett\. a/);
      const closed = await call('POST', `/api/v1/breaches/${b.id}/status`, { status: 'closed' });
      assert.equal(closed.statusCode, 200, closed.body);
      const change = await call('PATCH', `/api/v1/breaches/${b.id}`, { approxSubjects: 5 });
      assert.equal(change.statusCode, 409);
      assert.equal(change.json<{ error: { code: string } }>().error.code, 'FIDUCIA_REQUEST_STATE');
    });
  });

  describe('documents', () => {
    let id = '';
    before(async () => {
      id = (await create(fullBreach(clock - 5 * HOUR))).id;
    });

    for (const lang of ['it', 'en'] as const) {
      it(`the notification to the authority in ${lang} holds every item of Art. 33(3), as JSON, text and HTML`, async () => {
        const j = await call('GET', `/api/v1/breaches/${id}/notification?lang=${lang}`);
        assert.equal(j.statusCode, 200, j.body);
        const doc = j.json<{ kind: string; lang: string; text: string }>();
        assert.equal(doc.kind, 'authority');
        assert.equal(doc.lang, lang);
        const text = (await call('GET', `/api/v1/breaches/${id}/notification?lang=${lang}&format=text`)).body;
        const html = await call('GET', `/api/v1/breaches/${id}/notification?lang=${lang}&format=html`);
        assert.match(String(html.headers['content-type']), /^text\/html/);
        assert.match(String(html.headers['content-security-policy']), /default-src 'none'/);
        assert.ok(html.body.includes(`<html lang="${lang}">`), 'the page names its language');
        const expected =
          lang === 'it'
            ? ['riservatezza', 'disponibilità', 'Un backup del database', 'Indirizzo email', 'Carrello e acquisti', 'Salute (categoria particolare (art. 9))', 'circa 1200', 'circa 45.000', 'Maria Rossi', 'dpo@example-shop.it', 'Possibili email di phishing', 'Server spento', 'Revisione trimestrale', 'Termine di 72 ore']
            : ['confidentiality', 'availability', 'A database backup', 'Email address', 'Cart and purchases', 'Health (special category (Art. 9))', 'about 1,200', 'about 45,000', 'Maria Rossi', 'dpo@example-shop.it', 'Possible targeted phishing', 'Server shut down', 'Quarterly access review', '72-hour deadline'];
        for (const item of expected) {
          assert.ok(text.includes(item), `${lang} text has "${item}":\n${text}`);
          assert.ok(doc.text.includes(item), `${lang} JSON text has "${item}"`);
        }
        for (const heading of lang === 'it' ? ['a) Natura', 'b) Punto di contatto', 'c) Probabili conseguenze', 'd) Misure'] : ['(a) Nature', '(b) Contact point', '(c) Likely consequences', '(d) Measures']) {
          assert.ok(html.body.includes(heading), `${lang} HTML has "${heading}"`);
        }
        if (lang === 'it') {
          assert.equal(ENGLISH.exec(text)?.[0], undefined, `no English in the Italian notification:\n${text}`);
          assert.equal(ENGLISH.exec(html.body.replace(/<[^>]{1,2000}>/g, ' '))?.[0], undefined, 'no English in the Italian HTML');
        }
      });

      it(`the notice to the people concerned in ${lang} is plain and holds Art. 34(2)'s items`, async () => {
        const text = (await call('GET', `/api/v1/breaches/${id}/subject-notice?lang=${lang}&format=text`)).body;
        const html = (await call('GET', `/api/v1/breaches/${id}/subject-notice?lang=${lang}&format=html`)).body;
        const expected =
          lang === 'it'
            ? ['Che cosa è successo', 'Un backup del database', 'Possibili email di phishing', 'Server spento', 'Diffida dei messaggi', 'Maria Rossi', 'dpo@example-shop.it', 'cifrati']
            : ['What happened', 'A database backup', 'Possible targeted phishing', 'Server shut down', 'Distrust messages', 'Maria Rossi', 'dpo@example-shop.it', 'encrypted'];
        for (const item of expected) {
          assert.ok(text.includes(item), `${lang} notice has "${item}":\n${text}`);
          assert.ok(html.includes(item), `${lang} HTML notice has "${item}"`);
        }
        if (lang === 'it') assert.equal(ENGLISH.exec(text)?.[0], undefined, `no English in the Italian notice:\n${text}`);
      });
    }

    it('escapes what staff wrote in the HTML documents', async () => {
      const b = await create(fullBreach(clock - HOUR, { description: { it: '<script>alert(1)</script>', en: '<img src=x onerror=alert(1)>' } }));
      for (const lang of ['it', 'en']) {
        const html = (await call('GET', `/api/v1/breaches/${b.id}/notification?lang=${lang}&format=html`)).body;
        assert.ok(!html.includes('<script>') && !html.includes('<img'), 'no markup from the register');
        assert.ok(html.includes('&lt;'), 'escaped');
      }
    });
  });

  describe('the notice to the people concerned', () => {
    it('reaches subjects with an asserted email through SMTP, skips erased ones and those without one, and audits it', async () => {
      const ada = await seedSubject(f, `breach-ada-${dialect}`, 1);
      const bob = await seedSubject(f, `breach-bob-${dialect}`, 1);
      const adaId = await subjectOf(f, ada.userId);
      const bobId = await subjectOf(f, bob.userId);
      // A browser source's email is a trait, never an asserted address.
      const browserKey = f.bootstrap.generated.browserWriteKey ?? '';
      const carolAnon = `breach-carol-${dialect}`;
      const r = await f.app.inject({ method: 'POST', url: '/v1/identify', headers: { authorization: basicAuth(browserKey) }, payload: { anonymousId: carolAnon, traits: { email: `carol-${dialect}@example.com` } } });
      assert.equal(r.statusCode, 200, r.body);
      const carolId = (await f.dbs.data.selectFrom('identities').select('subject_id').where('kind', '=', 'anonymousId').where('blind_index', '=', f.ring.blindIndex.index('anonymousId', carolAnon)).executeTakeFirstOrThrow()).subject_id;
      await staffRequest(f, { type: 'erasure', identity: `userId:${bob.userId}` });

      const b = await create(fullBreach(clock - HOUR));
      const unknown = await call('POST', `/api/v1/breaches/${b.id}/subjects`, { subjectIds: ['00000000-0000-4000-8000-000000000000'] });
      assert.equal(unknown.statusCode, 400, unknown.body);
      const added = await call('POST', `/api/v1/breaches/${b.id}/subjects`, { subjectIds: [adaId, bobId, carolId, adaId] });
      assert.equal(added.statusCode, 200, added.body);
      assert.equal(added.json<BreachView>().subjects.named, 3);

      const early = await call('POST', `/api/v1/breaches/${b.id}/subject-notice/send`, { lang: 'it' });
      assert.equal(early.statusCode, 409, 'the notice goes out after the authority is notified');
      await call('POST', `/api/v1/breaches/${b.id}/authority-notification`, {});

      const sent = await call('POST', `/api/v1/breaches/${b.id}/subject-notice/send`, { lang: 'it' });
      assert.equal(sent.statusCode, 200, sent.body);
      const report = sent.json<{ sent: number; noEmail: number; erased: number; failed: number; messages: number; breach: BreachView }>();
      assert.deepEqual({ sent: report.sent, noEmail: report.noEmail, erased: report.erased, failed: report.failed, messages: report.messages }, { sent: 1, noEmail: 1, erased: 1, failed: 0, messages: 1 });
      assert.equal(report.breach.status, 'subjects_notified');
      assert.equal(report.breach.subjects.notified, 1);
      assert.deepEqual(report.breach.subjects.byOutcome, { sent: 1, no_email: 1, erased: 1 });

      // Queued in the delivery outbox, encrypted; the worker hands it to SMTP.
      const queued = await f.dbs.data.selectFrom('deliveries').select(['secret_enc', 'ref']).where('destination_id', '=', '@mail').execute();
      const notices = queued.filter((q) => q.ref.includes('breach.notice'));
      assert.equal(notices.length, 1);
      assert.ok(!Buffer.from(notices[0]!.secret_enc!).toString('latin1').includes(ada.email), 'the address is not stored in clear');
      const drained = await f.deliveries.drain();
      assert.ok(drained.delivered >= 1, JSON.stringify(drained));
      const mails = smtp.messages.filter((m) => m.data.includes('Example Shop'));
      assert.deepEqual(mails.map((m) => m.to), [[ada.email]], 'only the asserted address of the live subject');
      assert.ok(!smtp.messages.some((m) => m.to.includes(bob.email) || m.to.includes(`carol-${dialect}@example.com`)));

      // Someone named later is told once, even by two sends at the same time; nobody else is told again.
      const dave = await seedSubject(f, `breach-dave-${dialect}`, 1);
      const daveId = await subjectOf(f, dave.userId);
      const more = await call('POST', `/api/v1/breaches/${b.id}/subjects`, { subjectIds: [daveId] });
      assert.equal(more.statusCode, 200, more.body);
      const twice = await Promise.all([0, 1].map(() => call('POST', `/api/v1/breaches/${b.id}/subject-notice/send`, { lang: 'en' })));
      const counts = twice.map((r) => r.json<{ sent: number; messages: number }>());
      assert.deepEqual(counts.map((c) => c.sent).sort(), [0, 1], 'one of the two sends told dave');
      await f.deliveries.drain();
      assert.deepEqual(smtp.messages.filter((m) => m.data.includes('Example Shop')).map((m) => m.to), [[ada.email], [dave.email]]);
      const last = (await call('GET', `/api/v1/breaches/${b.id}`)).json<BreachView>();
      assert.equal(last.subjects.notified, 2);

      const audit = await f.dbs.data.selectFrom('audit_entries').select(['action', 'subject_id', 'data', 'outcome']).where('action', 'like', 'breach.%').orderBy('idx').execute();
      const actions = audit.map((a) => a.action);
      for (const a of ['breach.create', 'breach.subjects_add', 'breach.notify_authority', 'breach.notice', 'breach.notify_subjects']) assert.ok(actions.includes(a), `audited: ${a}`);
      const notice = audit.filter((a) => a.action === 'breach.notice');
      assert.deepEqual(notice.map((a) => a.subject_id), [adaId, daveId], 'one read of each person\'s address, named by subject id');
      const summary = audit.filter((a) => a.action === 'breach.notify_subjects')[0]!;
      assert.match(summary.data, /"sent":1/);
      const all = audit.map((a) => a.data).join('\n') + lines.join('');
      for (const secret of [ada.email, dave.email, bob.email, `carol-${dialect}@example.com`, 'Un backup del database', 'A database backup', 'Maria Rossi']) {
        assert.ok(!all.includes(secret), `neither the audit log nor the log holds "${secret}"`);
      }
      const verify = await call('GET', '/api/v1/audit/verify');
      assert.equal(verify.json<{ ok: boolean }>().ok, true);
    });
  });

  describe('roles', () => {
    it('lets admin and dpo in, and refuses service and analyst tokens and anonymous callers', async () => {
      const token = async (role: string, purposes?: string[]) => {
        const r = await call('POST', '/api/v1/tokens', { name: `breach-${role}`, role, ...(purposes ? { purposes } : {}) });
        assert.equal(r.statusCode, 201, r.body);
        return { authorization: `Bearer ${r.json<{ token: string }>().token}` };
      };
      const dpo = await token('dpo');
      const service = await token('service', ['personalization']);
      const analyst = await token('analyst');
      const byDpo = await call('POST', '/api/v1/breaches', fullBreach(clock - HOUR), dpo);
      assert.equal(byDpo.statusCode, 201, byDpo.body);
      const id = byDpo.json<BreachView>().id;
      for (const [who, headers, status] of [['service', service, 403], ['analyst', analyst, 403], ['none', {}, 401]] as const) {
        for (const [method, url, body] of [
          ['GET', '/api/v1/breaches', undefined],
          ['GET', `/api/v1/breaches/${id}`, undefined],
          ['POST', '/api/v1/breaches', fullBreach(clock - HOUR)],
          ['GET', `/api/v1/breaches/${id}/notification?lang=it`, undefined],
          ['POST', `/api/v1/breaches/${id}/subject-notice/send`, {}],
        ] as const) {
          const r = await call(method, url, body, headers);
          assert.equal(r.statusCode, status, `${who} ${method} ${url}: ${r.body}`);
        }
      }
      const denied = await f.dbs.data.selectFrom('audit_entries').select('data').where('action', '=', 'authz.denied').execute();
      assert.ok(denied.some((d) => d.data.includes('/api/v1/breaches')), 'refusals are audited');
    });
  });
});
