// The public transparency page on both databases: its figures checked against the database, small counts never shown
// exactly (HTML or JSON), both languages, the cache, and what a stranger can send it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { publicCount, type PublicCount, type TransparencyReport } from '../src/domain/transparency.ts';
import { ADMIN_TOKEN, basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';
import { CaptureMailer, seedSubject, staffRequest, type Running } from './helpers/rights.ts';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** The text of `<td … data-figure="NAME">` inside the `<tr data-row="ROW">` of the page. */
function cell(html: string, row: string, name: string): string {
  const start = html.indexOf(`data-row="${row}"`);
  assert.ok(start >= 0, `row ${row} is on the page`);
  const end = html.indexOf('</tr>', start);
  const at = html.indexOf(`data-figure="${name}">`, start);
  assert.ok(at >= 0 && at < end, `figure ${name} in row ${row}`);
  const from = at + `data-figure="${name}">`.length;
  return html.slice(from, html.indexOf('</td>', from));
}

/** Every count object in the report, wherever it is. */
function countsIn(value: unknown, out: PublicCount[] = []): PublicCount[] {
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o['about'] === 'number' || typeof o['fewerThan'] === 'number') out.push(o as PublicCount);
    else for (const v of Object.values(o)) countsIn(v, out);
  }
  return out;
}

await eachDialect('transparency page', (dialect) => {
  let f: Running;
  const consent = async (anonymousId: string, purposes: Record<string, boolean>) => {
    const r = await f.app.inject({ method: 'POST', url: '/v1/consent', headers: { authorization: basicAuth() }, payload: { anonymousId, purposes, noticeVersion: f.cfg.config.notice.current } });
    assert.equal(r.statusCode, 200, r.body);
  };
  const report = async (lang = 'it') => {
    const r = await f.app.inject({ method: 'GET', url: `/transparency.json?lang=${lang}` });
    assert.equal(r.statusCode, 200, r.body);
    return r.json<TransparencyReport>();
  };

  before(async () => {
    f = await startFiducia(dialect, { mailer: new CaptureMailer(), rightsSweepMs: 0, segmentRefreshMs: 0 });
    const ada = await seedSubject(f, `ada-${dialect}`, 2); // grants analytics, personalization, marketing
    // Marketing: 12 visitors, 9 grant and 3 deny; then one of those who granted withdraws. Advertising: 3 grant.
    for (let i = 0; i < 12; i++) await consent(`v-${i}`, { marketing: i < 9 });
    await consent('v-0', { marketing: false });
    for (let i = 0; i < 3; i++) await consent(`w-${i}`, { advertising: true });
    // Rights requests: 7 access and 2 rectifications, answered; their times set to known durations.
    const durations = new Map<string, number>();
    for (let d = 1; d <= 7; d++) durations.set((await staffRequest(f, { type: 'access', identity: `userId:${ada.userId}` })).id, d * DAY);
    for (const h of [10, 20]) durations.set((await staffRequest(f, { type: 'rectification', identity: `userId:${ada.userId}`, traits: { lastName: `L${h}` } })).id, h * HOUR);
    const base = Date.parse('2026-01-05T08:00:00Z');
    for (const [id, ms] of durations) await f.dbs.data.updateTable('rights_requests').set({ received_at: base, closed_at: base + ms }).where('id', '=', id).execute();
    // One breach notified to the authority, one still open.
    for (const notify of [true, false]) {
      const b = await f.app.inject({
        method: 'POST', url: '/api/v1/breaches', headers: admin,
        payload: { nature: ['confidentiality'], description: { it: 'Prova.', en: 'Test.' }, categories: ['user.contact.email'], encryption: 'keys_safe', contact: { name: 'DPO', email: 'dpo@example.it' }, awareAt: new Date(Date.now() - HOUR).toISOString() },
      });
      assert.equal(b.statusCode, 201, b.body);
      if (notify) {
        const n = await f.app.inject({ method: 'POST', url: `/api/v1/breaches/${b.json<{ id: string }>().id}/authority-notification`, headers: admin, payload: { reference: 'GPDP-1' } });
        assert.equal(n.statusCode, 200, n.body);
      }
    }
    f.transparency.invalidate();
  });
  after(async () => f?.stop());

  describe('figures', () => {
    it('match the database: consent rates, rights requests and median answer times, notified breaches', async () => {
      const r = await report();
      // Consents, counted here from the ledger: the latest row per person and purpose.
      const rows = await f.dbs.data.selectFrom('consents').select(['subject_id', 'purpose', 'status', 'id']).orderBy('id').execute();
      const latest = new Map<string, string>();
      for (const row of rows) latest.set(`${row.subject_id} ${row.purpose}`, `${row.purpose} ${row.status}`);
      for (const c of r.consents) {
        const states = [...latest.values()].filter((v) => v.startsWith(`${c.purpose} `));
        const granted = states.filter((v) => v.endsWith(' granted')).length;
        assert.deepEqual(c.decided, publicCount(states.length), `decided for ${c.purpose}`);
        assert.equal(c.grantedPercent, states.length >= 5 ? Math.round((100 * granted) / states.length) : null, `rate for ${c.purpose}`);
      }
      const marketing = r.consents.find((c) => c.purpose === 'marketing')!;
      assert.deepEqual(marketing.decided, { about: 15 }, '13 people decided: about 15');
      assert.equal(marketing.grantedPercent, 69, '9 of 13 granted');
      assert.deepEqual(r.consents.find((c) => c.purpose === 'advertising')!.decided, { fewerThan: 5 });
      assert.equal(r.consents.find((c) => c.purpose === 'advertising')!.grantedPercent, null, 'a rate over 3 people is not shown');
      assert.equal(r.consents.find((c) => c.purpose === 'analytics')!.grantedPercent, null);

      // Rights requests, counted here from the table.
      const reqs = await f.dbs.data.selectFrom('rights_requests').select(['type', 'status', 'verified_at']).execute();
      for (const line of r.rights.byType) {
        const mine = reqs.filter((q) => q.type === line.type && q.verified_at !== null);
        assert.deepEqual(line.received, publicCount(mine.length), `received ${line.type}`);
        assert.deepEqual(line.answered, publicCount(mine.filter((q) => q.status === 'completed' || q.status === 'rejected').length), `answered ${line.type}`);
      }
      const access = r.rights.byType.find((x) => x.type === 'access')!;
      assert.deepEqual(access.received, { about: 5 }, '7 access requests: about 5');
      assert.equal(access.medianAnswerHours, 96, 'median of 1..7 days is 4 days');
      const rect = r.rights.byType.find((x) => x.type === 'rectification')!;
      assert.deepEqual(rect.answered, { fewerThan: 5 });
      assert.equal(rect.medianAnswerHours, null, 'a median over 2 answers is not shown');
      assert.deepEqual(r.rights.total.received, { about: 10 }, '9 requests: about 10');
      assert.equal(r.rights.total.medianAnswerHours, 72, 'median of 10 h, 20 h, 1..7 days is 3 days');

      const notified = await f.dbs.data.selectFrom('breaches').select('id').where('authority_notified_at', 'is not', null).execute();
      assert.equal(notified.length, 1);
      assert.deepEqual(r.breaches, { anyNotified: true, notified: publicCount(notified.length) });

      // The checkpoint is the newest stored one, and it verifies with the key shown.
      const cp = r.measures.checkpoint!;
      const opened = f.audit.signer.open(cp.note);
      assert.ok(opened.ok, 'the note verifies');
      assert.equal(r.measures.publicKey, f.audit.signer.publicKey.toString('base64'));
      assert.equal(cp.rootHash, opened.ok ? opened.checkpoint.rootHash.toString('base64') : '');
    });

    it('never shows a count below the threshold exactly, in JSON or HTML', async () => {
      for (const lang of ['it', 'en']) {
        const r = await report(lang);
        const counts = countsIn(r);
        assert.ok(counts.length >= 10, 'counts were found');
        for (const c of counts) {
          if ('about' in c) assert.ok(c.about >= 5 && c.about % 5 === 0, `rounded: ${JSON.stringify(c)}`);
          else assert.equal(c.fewerThan, 5);
        }
        const html = (await f.app.inject({ method: 'GET', url: `/transparency?lang=${lang}` })).body;
        const fewer = lang === 'it' ? 'meno di 5' : 'fewer than 5';
        const rectRow = `type-${r.rights.byType.findIndex((x) => x.type === 'rectification')}`;
        assert.equal(cell(html, rectRow, 'received'), fewer, 'two rectifications are "fewer than 5"');
        assert.equal(cell(html, rectRow, 'answered'), fewer);
        const adRow = `consent-${r.consents.findIndex((c) => c.purpose === 'advertising')}`;
        assert.equal(cell(html, adRow, 'decided'), fewer, 'three decisions are "fewer than 5"');
        assert.ok(!/[0-9]/.test(cell(html, adRow, 'granted')), 'no rate over three people');
        assert.equal(cell(html, 'total', 'received'), lang === 'it' ? 'circa 10' : 'about 10');
        assert.equal(cell(html, 'total', 'median'), lang === 'it' ? '3 giorni' : '3 days');
        assert.equal(cell(html, `type-${r.rights.byType.findIndex((x) => x.type === 'access')}`, 'median'), lang === 'it' ? '4 giorni' : '4 days');
        const mkRow = `consent-${r.consents.findIndex((c) => c.purpose === 'marketing')}`;
        assert.equal(cell(html, mkRow, 'granted'), '69 %');
        assert.ok(html.includes(lang === 'it' ? 'meno di 5 violazioni' : 'of fewer than 5 personal data breaches'), 'one breach is "fewer than 5"');
      }
    });

    it('serves cached figures until the cache period ends (a public page cannot load the database)', async () => {
      const first = await report();
      for (let i = 0; i < 6; i++) await consent(`late-${i}`, { advertising: true });
      const again = await report();
      assert.equal(again.generatedAt, first.generatedAt, 'the same snapshot');
      assert.deepEqual(again.consents, first.consents);
      f.transparency.invalidate();
      const fresh = await report();
      assert.deepEqual(fresh.consents.find((c) => c.purpose === 'advertising')!.decided, { about: 10 }, '9 decisions once recomputed');
    });
  });

  describe('verifying the checkpoint offline', () => {
    it('scripts/verify-checkpoint.mjs accepts the page’s note with the page’s key, and refuses an edited one', async () => {
      const r = await report('en');
      const cp = r.measures.checkpoint!;
      const dir = mkdtempSync(join(tmpdir(), 'fiducia-cp-'));
      try {
        const script = fileURLToPath(new URL('../scripts/verify-checkpoint.mjs', import.meta.url));
        const run = (note: string) => {
          writeFileSync(join(dir, 'checkpoint.txt'), note);
          return spawnSync(process.execPath, [script, join(dir, 'checkpoint.txt'), r.measures.publicKey], { encoding: 'utf8' });
        };
        const good = run(cp.note);
        assert.equal(good.status, 0, good.stdout + good.stderr);
        assert.ok(good.stdout.includes(`${cp.treeSize} entries`), good.stdout);
        const edited = run(cp.note.replace(`\n${cp.treeSize}\n`, `\n${cp.treeSize + 1}\n`));
        assert.equal(edited.status, 1, 'a changed tree size breaks the signature');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('the page', () => {
    it('speaks Italian by default and English on request, with a language switch and the document CSP', async () => {
      const it1 = await f.app.inject({ method: 'GET', url: '/transparency' });
      assert.equal(it1.statusCode, 200);
      assert.ok(it1.body.includes('<html lang="it">') && it1.body.includes('Trasparenza'), 'Italian by default');
      assert.ok(it1.body.includes('href="/transparency?lang=en"'), 'a link to the English page');
      assert.match(String(it1.headers['content-security-policy']), /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]{44}'; /);
      assert.equal(it1.headers['x-frame-options'], 'DENY');
      const en = await f.app.inject({ method: 'GET', url: '/transparency', headers: { 'accept-language': 'en-GB,en;q=0.9' } });
      assert.ok(en.body.includes('<html lang="en">') && en.body.includes('Rights requests'), 'English from Accept-Language');
      assert.ok(en.body.includes('href="/transparency?lang=it"'));
      const q = await f.app.inject({ method: 'GET', url: '/transparency?lang=it', headers: { 'accept-language': 'en' } });
      assert.ok(q.body.includes('<html lang="it">'), '?lang wins over the header');
      for (const key of ['marketing', 'advertising', 'user.contact', 'legitimate_interests', 'rectification']) {
        for (const around of [`>${key}<`, `(${key}`, `${key},`, `"${key}"`]) assert.ok(!q.body.includes(around), `no internal key ${key} on the page`);
      }
    });

    it('takes what a stranger sends: unknown languages, junk parameters, long headers; refuses a bad JSON query', async () => {
      const junk = await f.app.inject({ method: 'GET', url: `/transparency?lang=%3Cscript%3E&utm_source=x&lang=en`, headers: { 'accept-language': `${'x,'.repeat(4000)}en` } });
      assert.equal(junk.statusCode, 200);
      assert.ok(!junk.body.includes('<script'), 'nothing of the query is echoed');
      const bad = await f.app.inject({ method: 'GET', url: '/transparency.json?lang=de' });
      assert.equal(bad.statusCode, 400);
      assert.equal(bad.json<{ error: { code: string } }>().error.code, 'FIDUCIA_VALIDATION');
      const extra = await f.app.inject({ method: 'GET', url: '/transparency.json?subject=x' });
      assert.equal(extra.statusCode, 400);
      const post = await f.app.inject({ method: 'POST', url: '/transparency.json', payload: {} });
      assert.equal(post.statusCode, 404);
    });
  });
});
