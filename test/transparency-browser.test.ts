// The transparency page in Chromium, Italian and English, on a phone (390×844) and a desktop: axe-core 0 violations,
// nothing wider than the screen, no internal keys, no English on the Italian page, its style allowed by its own CSP.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { ARTEFACTS, assertNoOverflow, axeViolations, browserSkip, describeViolations, launchBrowser, startListening } from './helpers/browser.ts';
import { basicAuth } from './helpers/harness.ts';

type Fid = Awaited<ReturnType<typeof startListening>>;

const skip = browserSkip();

const VIEWPORTS = [
  { name: 'phone', width: 390, height: 844, isMobile: true, hasTouch: true },
  { name: 'desktop', width: 1280, height: 900, isMobile: false, hasTouch: false },
] as const;
/** Keys of the configuration and the code that a person should never read (on either page). */
const INTERNAL = /\b(legitimate_interests|legal_obligation|vital_interests|third_party|user\.[a-z_.]+|fewerThan|medianAnswerHours|grantedPercent|null|undefined|NaN)\b|\[object/;
/** Purpose and request keys: English words, so looked for on the Italian page only. */
const KEYS_IT = /\b(personalization|analytics|advertising|rectification|portability|erasure|objection|restriction|access)\b/i;
/** English the Italian page must not show. */
const ENGLISH = /\b(the|and|of|your|we|rights?|requests?|consent|breach(es)?|purposes?|received|answered|median|about|fewer|than|hours?|days?|signed|key|log|none|shown|measures)\b/i;
const TITLE = { it: 'Trasparenza', en: 'Transparency' } as const;

describe('transparency page in Chromium', { skip }, () => {
  let f: Fid;
  let browser: Browser;

  before(async () => {
    f = await startListening();
    // Some figures to show: consents of a few visitors (fewer than the threshold for one purpose, more for another).
    for (let i = 0; i < 7; i++) {
      const r = await f.app.inject({
        method: 'POST', url: '/v1/consent', headers: { authorization: basicAuth() },
        payload: { anonymousId: `b-${i}`, purposes: { marketing: i % 2 === 0, ...(i < 2 ? { advertising: true } : {}) }, noticeVersion: f.cfg.config.notice.current },
      });
      assert.equal(r.statusCode, 200, r.body);
    }
    browser = await launchBrowser();
    mkdirSync(ARTEFACTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await f?.stop();
  });


  /** The text a person reads, less names from the configuration, commands and codes (marked translate="no", code, pre) and the language switch. */
  const wordsOf = (page: Page) =>
    page.evaluate(() => {
      const body = document.body.cloneNode(true) as HTMLElement;
      for (const x of body.querySelectorAll('[translate="no"], code, pre, nav')) x.remove();
      return body.innerText;
    });

  for (const lang of ['it', 'en'] as const) {
    for (const vp of VIEWPORTS) {
      it(`${lang}, ${vp.name} ${vp.width}×${vp.height}: fits, reads in words, has no axe violations`, async () => {
        // bypassCSP only lets the test inject axe-core; the page itself has no script.
        const context = await browser.newContext({ bypassCSP: true, viewport: { width: vp.width, height: vp.height }, isMobile: vp.isMobile, hasTouch: vp.hasTouch });
        try {
          const page = await context.newPage();
          const res = await page.goto(`${f.url}/transparency?lang=${lang}`);
          assert.equal(res?.status(), 200);
          await page.getByRole('heading', { level: 1, name: new RegExp(TITLE[lang]) }).waitFor();
          await assertNoOverflow(page, `${lang} ${vp.name}`);
          const v = await axeViolations(page);
          assert.equal(v.length, 0, `${lang} ${vp.name}:\n${describeViolations(v)}`);
          const words = await wordsOf(page);
          const key = INTERNAL.exec(words);
          assert.equal(key, null, `${lang} ${vp.name}: internal key “${key?.[0]}” on screen`);
          if (lang === 'it') {
            const k = KEYS_IT.exec(words);
            assert.equal(k, null, `key “${k?.[0]}” on the Italian page`);
            const en = ENGLISH.exec(words);
            assert.equal(en, null, `English “${en?.[0]}” on the Italian page`);
          }
          await page.screenshot({ path: `${ARTEFACTS}/transparency-${lang}-${vp.width}x${vp.height}.png`, fullPage: true });
        } finally {
          await context.close();
        }
      });
    }
  }

  it('switches language with its link, and its style runs under its own CSP (no bypass)', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'it-IT' });
    try {
      const page = await context.newPage();
      const blocked: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') blocked.push(m.text());
      });
      await page.goto(`${f.url}/transparency`, { waitUntil: 'load' });
      assert.equal(await page.evaluate(() => document.documentElement.lang), 'it', 'Italian for an Italian browser');
      assert.equal(await page.evaluate(() => getComputedStyle(document.querySelector('header')!).display), 'flex', 'the hashed style applies');
      assert.deepEqual(blocked, [], 'no CSP violation');
      await page.getByRole('link', { name: 'English' }).click();
      await page.getByRole('heading', { level: 1, name: /Transparency/ }).waitFor();
      assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
      await page.getByRole('link', { name: 'Italiano' }).click();
      await page.getByRole('heading', { level: 1, name: /Trasparenza/ }).waitFor();
    } finally {
      await context.close();
    }
  });
});
