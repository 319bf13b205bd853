// The pages a person reads — privacy center, the code step, the status of a request, their data after an access request,
// the record of processing — in Chromium on a phone (390×844) and a desktop, in Italian and English: nothing overflows
// sideways, every control can be tapped without forcing, axe finds nothing, and no internal key or English leaks into Italian.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { assertNoOverflow, assertNoViolations, browserSkip, launchBrowser, startListening } from './helpers/browser.ts';
import { ADMIN_TOKEN } from './helpers/harness.ts';
import { CaptureMailer, seedSubject, type Seeded } from './helpers/rights.ts';

type Fid = Awaited<ReturnType<typeof startListening>>;
type Lang = 'it' | 'en';

const skip = browserSkip();

const VIEWPORTS = [
  { name: 'phone', viewport: { width: 390, height: 844 } },
  { name: 'desktop', viewport: { width: 1280, height: 900 } },
] as const;

/** The texts each language uses on these pages (buttons, labels, statuses). */
const UI = {
  it: {
    reject: 'Rifiuta tutto',
    email: 'Il tuo indirizzo e-mail',
    type: 'Che cosa desideri?',
    details: 'Dettagli (facoltativo)',
    send: 'Invia la richiesta',
    code: 'Codice ricevuto via e-mail',
    confirm: 'Conferma la richiesta',
    dataTitle: 'I tuoi dati personali',
    completed: 'completata',
    inProgress: 'in corso',
    favourite: 'Categoria preferita',
    viewed: 'Prodotto visto',
    month: /entro un mese/,
    ropaTitle: 'Registro delle attività di trattamento (art. 30 GDPR)',
  },
  en: {
    reject: 'Reject all',
    email: 'Your e-mail address',
    type: 'What would you like?',
    details: 'Details (optional)',
    send: 'Send request',
    confirm: 'Confirm request',
    code: 'Code from the e-mail',
    dataTitle: 'Your personal data',
    completed: 'completed',
    inProgress: 'in progress',
    favourite: 'Favourite category',
    viewed: 'Product viewed',
    month: /within one month/,
    ropaTitle: 'Record of processing activities (Art. 30 GDPR)',
  },
} as const;

/** Keys of the configuration and of the engine that a person must never read (whole words, case as written). */
const INTERNAL_KEYS = [
  'user.contact', 'user.behavior', 'user.preference', 'favoriteCategory', 'firstName', 'lastName', 'userId', 'anonymousId', 'verified_hash',
  'awaiting_verification', 'in_progress', 'preference_center', 'third_party', 'legitimate_interests', 'data_privacy_framework', 'Product Viewed', 'Order Completed',
];
/** Keys that are also English words: a leak only in the Italian version. */
const ENGLISH_KEYS = ['service', 'security', 'analytics', 'personalization', 'marketing', 'advertising', 'completed', 'granted', 'processor', 'track'];

/** Words of the English version that must not appear in the Italian one. */
const ENGLISH_WORDS = [
  'Your', 'your', 'the', 'and', 'with', 'Request', 'request', 'Confirmed', 'Download', 'Purpose', 'Legal basis', 'Recipients', 'Retention',
  'Contract', 'Consent', 'Analytics', 'Personalisation', 'Providing the service', 'Direct marketing', 'Product viewed', 'Order completed',
  'Favourite category', 'Controller', 'Payment service provider', 'Shipping carrier', 'Email service provider', 'days', 'months', 'years',
  'Ireland', 'Germany', 'United States', 'Encryption', 'entries', 'passed', 'Kept for', 'Nobody', 'Save', 'Send', 'Confirm', 'Language',
  'in progress', 'waiting', 'received', 'rejected', 'Decision', 'shop’s',
];

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** Each of `words` that occurs in `text` as a whole word. */
function found(text: string, words: readonly string[]): string[] {
  return words.filter((w) => new RegExp(`(?<![\\p{L}\\p{N}_.])${escape(w)}(?![\\p{L}\\p{N}_])`, 'u').test(text));
}

describe('the pages a person reads, on a phone and a desktop, in Italian and English', { skip }, () => {
  let f: Fid;
  let browser: Browser;
  let context: BrowserContext | undefined;
  let ada: Seeded;
  const mail = new CaptureMailer();

  before(async () => {
    f = await startListening({ mailer: mail });
    browser = await launchBrowser();
    ada = await seedSubject(f, 'phone', 4);
  });
  after(async () => {
    await context?.close();
    await browser?.close();
    await f?.stop();
  });
  // All requests come from 127.0.0.1 for the same address: each test starts with fresh rate-limit windows.
  beforeEach(async () => {
    await f.dbs.data.deleteFrom('rate_limit_windows').execute();
  });

  /** A fresh visitor at this size (CSP bypassed so that axe can be injected; the CSP itself is tested elsewhere). */
  async function fresh(viewport: { width: number; height: number }, lang: Lang, headers: Record<string, string> = {}): Promise<Page> {
    await context?.close();
    context = await browser.newContext({ viewport, bypassCSP: true, locale: lang === 'it' ? 'it-IT' : 'en-GB', extraHTTPHeaders: headers });
    return context.newPage();
  }


  /** Every visible control of the page passes Playwright's actionability checks (visible, stable, enabled, not covered). */
  async function tappable(page: Page, where: string): Promise<number> {
    const controls = page.locator('main button, main input, main select, main textarea, main a, main [tabindex="0"], header a');
    let n = 0;
    for (const c of await controls.all()) {
      // Hidden parts (the code form before a request) and disabled buttons (a request being sent) are not meant to be tapped.
      if (!(await c.isVisible()) || !(await c.isEnabled())) continue;
      const error = await c.click({ trial: true, timeout: 5000 }).then(() => null, (err: Error) => err.message.split('\n')[0]);
      if (error !== null) assert.fail(`${where}: ${await c.evaluate((e) => e.outerHTML.slice(0, 120))} cannot be tapped: ${error}`);
      n++;
    }
    return n;
  }

  /** Italian text: no internal key and none of the English version's words. */
  function italianOnly(text: string, where: string): void {
    assert.deepEqual(found(text, [...INTERNAL_KEYS, ...ENGLISH_KEYS]), [], `${where} shows internal keys`);
    assert.deepEqual(found(text, ENGLISH_WORDS), [], `${where} shows English`);
  }
  function noKeys(text: string, where: string): void {
    assert.deepEqual(found(text, INTERNAL_KEYS), [], `${where} shows internal keys`);
  }

  async function openCenter(page: Page, lang: Lang): Promise<void> {
    await page.goto(`${f.url}/privacy?lang=${lang}`);
    await page.locator('#rights-title').waitFor();
    // The banner's own button, tapped without forcing.
    await page.locator('fiducia-consent').getByRole('button', { name: UI[lang].reject }).click();
    await page.locator('fiducia-consent [role="dialog"]').waitFor({ state: 'hidden' });
  }

  async function askAndConfirm(page: Page, lang: Lang, type: string, details?: string): Promise<void> {
    const t = UI[lang];
    await page.getByLabel(t.email).click();
    await page.getByLabel(t.email).fill(ada.email);
    await page.getByLabel(t.type).selectOption(type);
    if (details) await page.getByLabel(t.details).fill(details);
    await page.getByRole('button', { name: t.send }).click();
    await page.getByLabel(t.code).waitFor();
  }

  for (const { name, viewport } of VIEWPORTS) {
    for (const lang of ['it', 'en'] as const) {
      it(`${name}, ${lang}: privacy center, code step and the person's data after an access request`, async () => {
        const t = UI[lang];
        const page = await fresh(viewport, lang);
        await openCenter(page, lang);
        await assertNoOverflow(page, 'privacy center');
        assert.ok((await tappable(page, 'privacy center')) >= 8, 'switches, save, the request form and the language links');
        // Switches and the select are really tapped, and the page still fits.
        const firstSwitch = page.getByRole('switch').first();
        await firstSwitch.click();
        await firstSwitch.click();
        await assertNoViolations(page, 'privacy center');
        const center = await page.locator('body').innerText();
        if (lang === 'it') italianOnly(center, 'privacy center');
        else noKeys(center, 'privacy center');

        await askAndConfirm(page, lang, 'access');
        await assertNoOverflow(page, 'code step');
        await tappable(page, 'code step');
        await assertNoViolations(page, 'code step');
        if (lang === 'it') italianOnly(await page.locator('body').innerText(), 'code step');

        await page.getByLabel(t.code).fill(mail.codeFor(ada.email));
        await page.getByRole('button', { name: t.confirm }).click();
        await page.waitForURL(/\/download\?/);
        await page.getByRole('heading', { level: 1, name: t.dataTitle }).waitFor();
        const data = await page.locator('body').innerText();
        // Their data, in words: a trait value they sent, its field name, an event in words, the status in words.
        assert.ok(data.includes(String(ada.traits.favoriteCategory)), 'a trait value the person sent is on the page');
        assert.ok(data.includes(t.favourite), 'the field name in words');
        assert.ok(data.includes(t.viewed), 'the event in words');
        assert.ok(data.includes(`: ${t.completed}.`), `the status in words: ${data.slice(0, 200)}`);
        assert.doesNotMatch(data, t.month, 'no "we will answer within a month" once completed');
        await assertNoOverflow(page, 'data view');
        await tappable(page, 'data view');
        await assertNoViolations(page, 'data view');
        if (lang === 'it') italianOnly(data, 'data view');
        else noKeys(data, 'data view');
        // The file is still there for portability.
        const json = page.getByRole('link', { name: /JSON/ });
        const response = await page.request.get(new URL((await json.getAttribute('href'))!, page.url()).toString());
        assert.equal(response.status(), 200);
        assert.equal(((await response.json()) as { traits: { name: string; value: unknown }[] }).traits.find((x) => x.name === 'favoriteCategory')?.value, ada.traits.favoriteCategory);
      });
    }
  }

  for (const lang of ['it', 'en'] as const) {
    it(`${lang}: a request that needs staff says "${UI[lang].inProgress}" and when it will be answered`, async () => {
      const t = UI[lang];
      const page = await fresh(VIEWPORTS[0].viewport, lang);
      await openCenter(page, lang);
      await askAndConfirm(page, lang, 'rectification', lang === 'it' ? 'Il mio cognome è sbagliato' : 'My last name is wrong');
      await page.getByLabel(t.code).fill(mail.codeFor(ada.email));
      await page.getByRole('button', { name: t.confirm }).click();
      const status = page.locator('#request-status');
      await page.waitForFunction((words) => (document.getElementById('request-status')?.textContent ?? '').includes(words), t.inProgress);
      const text = (await status.textContent()) ?? '';
      assert.match(text, t.month);
      await assertNoOverflow(page, 'status');
      await assertNoViolations(page, 'status');
      if (lang === 'it') italianOnly(await page.locator('main').innerText(), 'status');
      else noKeys(text, 'status');
    });

    for (const { name, viewport } of VIEWPORTS) {
      it(`${name}, ${lang}: the record of processing and the notice's purpose table`, async () => {
        const page = await fresh(viewport, lang, { authorization: `Bearer ${ADMIN_TOKEN}` });
        await page.goto(`${f.url}/api/v1/ropa?format=html&lang=${lang}`);
        await page.getByRole('heading', { level: 1, name: UI[lang].ropaTitle }).waitFor();
        assert.equal(await page.getAttribute('html', 'lang'), lang);
        await assertNoOverflow(page, 'record of processing');
        await tappable(page, 'record of processing');
        await assertNoViolations(page, 'record of processing');
        const ropa = await page.locator('body').innerText();
        if (lang === 'it') italianOnly(ropa, 'record of processing');
        else noKeys(ropa, 'record of processing');

        await page.goto(`${f.url}/api/v1/ropa/purposes?format=html&lang=${lang}`);
        await assertNoOverflow(page, 'notice table');
        await assertNoViolations(page, 'notice table');
        const notice = await page.locator('body').innerText();
        if (lang === 'it') italianOnly(notice, 'notice table');
        else noKeys(notice, 'notice table');
      });
    }
  }

  it('picks the record of processing’s language from Accept-Language when no lang is given', async () => {
    const get = (accept: string) => f.app.inject({ method: 'GET', url: '/api/v1/ropa?format=html', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'accept-language': accept } });
    assert.match((await get('en-GB,en;q=0.9')).body, /<html lang="en">.*Record of processing activities/s);
    assert.match((await get('it-IT,it;q=0.9,en;q=0.5')).body, /<html lang="it">.*Registro delle attività di trattamento/s);
    // Neither of ours: the configuration's first language (it).
    assert.match((await get('de-DE')).body, /<html lang="it">/);
    // An explicit choice wins; an unknown one is refused.
    assert.match((await f.app.inject({ method: 'GET', url: '/api/v1/ropa?format=html&lang=en', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'accept-language': 'it' } })).body, /<html lang="en">/);
    assert.equal((await f.app.inject({ method: 'GET', url: '/api/v1/ropa?format=html&lang=fr', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).statusCode, 400);
    // A huge header is read only so far.
    assert.match((await get(`${'x'.repeat(10_000)},en`)).body, /<html lang="it">/);
  });
});
