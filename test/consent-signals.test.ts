// Server-side consent signals: Global Privacy Control on consent and on ingestion, IAB TCF v2.2 strings, consent receipts.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { DEFAULT_CONFIG_PATH } from '../src/services/config/config-loader.ts';
import { ADMIN_TOKEN, basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';
import { tcString } from './helpers/tcf-strings.ts';

const AUTH = { authorization: basicAuth() };
const NOTICE = '2026-11';
const uid = (p: string) => `${p}-${randomUUID()}`;

await eachDialect('consent signals', (dialect) => {
  let f: Awaited<ReturnType<typeof startFiducia>>;
  before(async () => {
    f = await startFiducia(dialect);
  });
  after(async () => f.stop());

  const consent = (payload: object, headers: Record<string, string> = {}) =>
    f.app.inject({ method: 'POST', url: '/v1/consent', headers: { ...AUTH, ...headers }, payload });
  const countRows = async () => (await f.dbs.data.selectFrom('consents').select('id').execute()).length;
  const rowsOfReceipt = (receiptId: string) =>
    f.dbs.data.selectFrom('consents').select(['subject_id', 'purpose', 'status', 'method']).where('receipt_id', '=', receiptId).orderBy('purpose').execute();
  const rowsOfSubject = (subjectId: string) =>
    f.dbs.data.selectFrom('consents').select(['purpose', 'status', 'method']).where('subject_id', '=', subjectId).orderBy('id').execute();

  it('GET /v1/consent/config lists categories, retention, recipients, the controller and the valid notice versions', async () => {
    const r = await f.app.inject({ method: 'GET', url: '/v1/consent/config' });
    assert.equal(r.statusCode, 200);
    const body = r.json<{
      noticeVersion: string;
      validNoticeVersions: string[];
      controller: { name: string };
      purposes: { key: string; legalBasis: string; categories: { key: string; name: { en: string } }[]; retentionDays: number; recipients: { name: string; kind: string; country: string; transfer?: { it: string; en: string } }[] }[];
    }>();
    assert.equal(body.noticeVersion, NOTICE);
    // 2026-06 was a material change: consent under 2026-01 no longer holds.
    assert.deepEqual(body.validNoticeVersions, ['2026-06', '2026-11']);
    assert.equal(body.controller.name, 'Example Shop S.r.l.');
    const byKey = new Map(body.purposes.map((p) => [p.key, p]));
    const service = byKey.get('service');
    assert.ok(service);
    // `user.contact` is a prefix: expanded to the categories it covers, with their names.
    for (const k of ['user.contact.email', 'user.contact.phone', 'user.contact.address']) assert.ok(service.categories.some((c) => c.key === k), k);
    assert.equal(service.retentionDays, 3650);
    assert.ok(byKey.get('marketing')?.categories.some((c) => c.key === 'user.behavior.campaign'));
    assert.equal(byKey.get('analytics')?.categories.some((c) => c.key === 'user.behavior.campaign'), false);
    assert.deepEqual(byKey.get('advertising')?.recipients.map((x) => x.country), ['FR', 'US']);
    assert.equal(byKey.get('advertising')?.recipients[0]?.kind, 'third_party');
    // A transfer outside the EEA comes with its country and basis in words; none inside it.
    assert.equal(byKey.get('advertising')?.recipients[0]?.transfer, undefined);
    assert.deepEqual(byKey.get('advertising')?.recipients[1]?.transfer, {
      it: 'Stati Uniti (US): destinatario certificato secondo il Data Privacy Framework UE-USA, coperto da una decisione di adeguatezza (art. 45 GDPR)',
      en: 'United States (US): recipient certified under the EU-US Data Privacy Framework, covered by an adequacy decision (Art. 45 GDPR)',
    });
    assert.ok(!body.purposes.some((p) => p.categories.some((c) => c.key.startsWith('user.sensitive'))));
  });

  it('a TC string alone is decoded and mapped onto purposes, recorded with method tcf', async () => {
    const r = await consent({ anonymousId: uid('tcf'), tcString: tcString([1, 8, 9, 10]), noticeVersion: NOTICE, method: 'banner' });
    assert.equal(r.statusCode, 200, r.body);
    const body = r.json<{ receiptId: string; consents: Record<string, string> }>();
    assert.deepEqual(body.consents, { analytics: 'granted', personalization: 'denied', advertising: 'denied' });
    const rows = await rowsOfReceipt(body.receiptId);
    assert.deepEqual(rows.map((x) => [x.purpose, x.status, x.method]), [
      ['advertising', 'denied', 'tcf'],
      ['analytics', 'granted', 'tcf'],
      ['personalization', 'denied', 'tcf'],
    ]);
  });

  it('explicit purposes and a TC string together: a denial in either wins', async () => {
    const r = await consent({
      anonymousId: uid('tcf-both'),
      purposes: { analytics: true, marketing: true, personalization: true },
      tcString: tcString([1, 5, 6, 11]),
      noticeVersion: NOTICE,
      method: 'banner',
    });
    assert.equal(r.statusCode, 200, r.body);
    const rows = await rowsOfReceipt(r.json<{ receiptId: string }>().receiptId);
    assert.deepEqual(rows.map((x) => [x.purpose, x.status, x.method]), [
      ['advertising', 'denied', 'tcf'],
      ['analytics', 'denied', 'tcf'], // the string refuses TCF 8–10
      ['marketing', 'granted', 'banner'], // TCF has no say over e-mail marketing
      ['personalization', 'granted', 'banner'],
    ]);
  });

  it('an invalid or pre-v2.2 TC string is a 400 with a stable code; so is a request with neither purposes nor tcString', async () => {
    const before = await countRows();
    for (const bad of ['not-a-tc-string', 'abc', tcString([1, 8], [755], 3)]) {
      const r = await consent({ anonymousId: uid('bad'), tcString: bad, noticeVersion: NOTICE });
      assert.equal(r.statusCode, 400, bad);
      assert.equal(r.json<{ error: { code: string } }>().error.code, 'FIDUCIA_INVALID_TC_STRING');
    }
    const none = await consent({ anonymousId: uid('none'), noticeVersion: NOTICE });
    assert.equal(none.statusCode, 400);
    assert.equal(none.json<{ error: { code: string } }>().error.code, 'FIDUCIA_VALIDATION');
    // Refused as a whole: not even the explicit purposes of a request with a bad string are recorded.
    const mixed = await consent({ anonymousId: uid('mixed'), purposes: { analytics: true }, tcString: 'garbage', noticeVersion: NOTICE });
    assert.equal(mixed.statusCode, 400);
    assert.equal(await countRows(), before);
  });

  it('GPC on POST /v1/consent: sale/share is denied with method gpc under the same receipt', async () => {
    const anon = uid('gpc');
    const r = await consent({ anonymousId: anon, purposes: { analytics: true, advertising: true }, noticeVersion: NOTICE, method: 'banner' }, { 'sec-gpc': '1' });
    assert.equal(r.statusCode, 200, r.body);
    const body = r.json<{ receiptId: string; consents: Record<string, string> }>();
    assert.equal(body.consents.advertising, 'denied');
    assert.equal(body.consents.analytics, 'granted');
    const rows = await rowsOfReceipt(body.receiptId);
    assert.deepEqual(rows.map((x) => [x.purpose, x.status, x.method]), [
      ['advertising', 'denied', 'gpc'],
      ['analytics', 'granted', 'banner'],
    ]);
    // The page can report navigator.globalPrivacyControl itself (browsers may not send the header to other origins).
    const viaBody = await consent({ anonymousId: uid('gpc-body'), purposes: { advertising: true }, noticeVersion: NOTICE, gpc: true });
    assert.deepEqual((await rowsOfReceipt(viaBody.json<{ receiptId: string }>().receiptId)).map((x) => [x.purpose, x.status, x.method]), [['advertising', 'denied', 'gpc']]);
  });

  it('GPC on ingestion: an objection to sale/share for that subject, recorded once, and it stops collection for advertising', async () => {
    const anon = uid('ingest-gpc');
    const granted = await consent({ anonymousId: anon, purposes: { analytics: true, advertising: true }, noticeVersion: NOTICE, method: 'banner' });
    const subject = (await rowsOfReceipt(granted.json<{ receiptId: string }>().receiptId))[0]?.subject_id;
    assert.ok(subject);
    const track = (gpc: boolean, n: number) =>
      f.app.inject({
        method: 'POST',
        url: '/v1/batch',
        headers: { ...AUTH, ...(gpc ? { 'sec-gpc': '1' } : {}) },
        payload: { batch: [{ type: 'track', anonymousId: anon, event: 'Product Viewed', messageId: uid(`m${n}`), properties: { product_id: `p${n}` } }] },
      });
    for (let n = 0; n < 3; n++) assert.equal((await track(true, n)).statusCode, 200);
    const ledger = await rowsOfSubject(subject);
    assert.equal(ledger.length, 3);
    assert.deepEqual(ledger.at(-1), { purpose: 'advertising', status: 'withdrawn', method: 'gpc' });
    assert.equal(ledger.filter((x) => x.method === 'gpc').length, 1, 'recorded once, not per message');
    assert.deepEqual(ledger.find((x) => x.method === 'gpc'), { purpose: 'advertising', status: 'withdrawn', method: 'gpc' });
    const events = await f.dbs.data.selectFrom('events').select(['purposes']).where('subject_id', '=', subject).execute();
    assert.equal(events.length, 3);
    for (const e of events) {
      const purposes = JSON.parse(e.purposes) as string[];
      assert.ok(purposes.includes('analytics'));
      assert.ok(!purposes.includes('advertising'), 'nothing is collected for advertising after the objection');
    }
    // Without the header nothing more is recorded (the objection stands until a new choice).
    assert.equal((await track(false, 9)).statusCode, 200);
    assert.equal((await rowsOfSubject(subject)).length, ledger.length);
  });

  it('GPC on ingestion for a new subject: context consent cannot grant sale/share, the objection is recorded', async () => {
    const anon = uid('ingest-gpc-new');
    const r = await f.app.inject({
      method: 'POST',
      url: '/v1/page',
      headers: { ...AUTH, 'sec-gpc': '1' },
      payload: { anonymousId: anon, name: 'Home', properties: { url: 'https://shop.example/' }, context: { consent: { categoryPreferences: { analytics: true, advertising: true } } } },
    });
    assert.equal(r.statusCode, 200, r.body);
    const rows = await f.dbs.data
      .selectFrom('consents')
      .innerJoin('events', 'events.subject_id', 'consents.subject_id')
      .select(['consents.purpose', 'consents.status', 'consents.method'])
      .where('events.type', '=', 'page')
      .where('consents.purpose', 'in', ['analytics', 'advertising'])
      .orderBy('consents.id')
      .execute();
    const mine = rows.filter((x) => x.purpose === 'advertising');
    assert.ok(mine.length >= 1);
    assert.ok(!rows.some((x) => x.purpose === 'advertising' && x.status === 'granted'));
    assert.ok(rows.some((x) => x.purpose === 'advertising' && x.method === 'gpc' && x.status === 'denied'));
    assert.ok(rows.some((x) => x.purpose === 'analytics' && x.method === 'event_context' && x.status === 'granted'));
  });

  it('method in_context (the widget\'s Fiducia.ask) is recorded as such, and shows in the profile; an unknown method is refused', async () => {
    const anon = uid('ask');
    const r = await consent({ anonymousId: anon, purposes: { personalization: true }, noticeVersion: NOTICE, method: 'in_context' });
    assert.equal(r.statusCode, 200, r.body);
    const rows = await rowsOfReceipt(r.json<{ receiptId: string }>().receiptId);
    assert.deepEqual(rows.map((x) => [x.purpose, x.status, x.method]), [['personalization', 'granted', 'in_context']]);
    const profile = await f.app.inject({ method: 'GET', url: `/api/v1/profiles/anonymousId:${anon}?purpose=personalization`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(profile.statusCode, 200, profile.body);
    assert.equal(profile.json<{ consents: Record<string, { method: string }> }>().consents.personalization?.method, 'in_context');
    const before = await countRows();
    const bad = await consent({ anonymousId: uid('ask'), purposes: { personalization: true }, noticeVersion: NOTICE, method: 'in-context' });
    assert.equal(bad.statusCode, 400, bad.body);
    assert.equal(await countRows(), before, 'nothing recorded');
  });

  it('GET /v1/consent/receipt/:id returns what was recorded, and nothing about who', async () => {
    const anon = uid('receipt');
    const r = await consent({ anonymousId: anon, purposes: { analytics: true, marketing: false }, noticeVersion: '2026-06', method: 'preference_center' }, { 'user-agent': 'ReceiptBrowser/1.0' });
    const { receiptId } = r.json<{ receiptId: string }>();
    const got = await f.app.inject({ method: 'GET', url: `/v1/consent/receipt/${receiptId}`, headers: { origin: 'https://shop.example' } });
    assert.equal(got.statusCode, 200, got.body);
    assert.equal(got.headers['access-control-allow-origin'], 'https://shop.example');
    const body = got.json<{ receiptId: string; noticeVersion: string; recordedAt: string; choices: { purpose: string; status: string; method: string }[] }>();
    assert.equal(body.receiptId, receiptId);
    assert.equal(body.noticeVersion, '2026-06');
    assert.ok(!Number.isNaN(Date.parse(body.recordedAt)));
    assert.deepEqual(
      body.choices.map((c) => [c.purpose, c.status, c.method]).sort(),
      [
        ['analytics', 'granted', 'preference_center'],
        ['marketing', 'denied', 'preference_center'],
      ],
    );
    const rows = await rowsOfReceipt(receiptId);
    const subject = rows[0]?.subject_id;
    assert.ok(subject);
    assert.deepEqual(Object.keys(body).sort(), ['choices', 'noticeVersion', 'receiptId', 'recordedAt']);
    assert.ok(!got.body.includes(subject) && !got.body.includes(anon), 'no subject id, no identity');
    for (const c of body.choices) assert.deepEqual(Object.keys(c).sort(), ['method', 'purpose', 'status']);

    const missing = await f.app.inject({ method: 'GET', url: `/v1/consent/receipt/${receiptId.slice(0, -4)}ffff` });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json<{ error: { code: string } }>().error.code, 'FIDUCIA_NOT_FOUND');
    for (const bad of ['nope', "' or 1=1 --", randomUUID()]) {
      const x = await f.app.inject({ method: 'GET', url: `/v1/consent/receipt/${encodeURIComponent(bad)}` });
      assert.equal(x.statusCode, 404, bad);
    }
  });
});

await eachDialect('consent signals without a tcf section', (dialect) => {
  let f: Awaited<ReturnType<typeof startFiducia>>;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fiducia-notcf-'));
    const yaml = readFileSync(DEFAULT_CONFIG_PATH, 'utf8');
    const cut = yaml.indexOf('\ntcf:');
    assert.ok(cut > 0);
    writeFileSync(join(dir, 'fiducia.yaml'), yaml.slice(0, cut));
    f = await startFiducia(dialect, { configPath: join(dir, 'fiducia.yaml') });
  });
  after(async () => {
    await f.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses TC strings when the configuration does not map them', async () => {
    const r = await f.app.inject({ method: 'POST', url: '/v1/consent', headers: AUTH, payload: { anonymousId: uid('x'), tcString: tcString([1, 2, 3]), noticeVersion: NOTICE } });
    assert.equal(r.statusCode, 400);
    assert.equal(r.json<{ error: { code: string } }>().error.code, 'FIDUCIA_INVALID_TC_STRING');
  });
});
