// The console's Overview page in Chromium: after messages (one with a property the collection rules drop) and a consent
// decision, an analyst signs in through the form and sees the charts (canvases) with their figures as tables, equal to
// what was sent; English and Italian, desktop 1280×800 and phone 390×844: axe 0 violations, nothing off-screen.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { ARTEFACTS, assertNoOverflow, assertNoViolations, browserSkip, launchBrowser, startListening } from './helpers/browser.ts';
import { consoleUser, signIn } from './helpers/console.ts';
import { ADMIN_TOKEN, basicAuth } from './helpers/harness.ts';

type Fid = Awaited<ReturnType<typeof startListening>>;

const skip = browserSkip();
const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 800, isMobile: false, hasTouch: false },
  { name: 'phone', width: 390, height: 844, isMobile: true, hasTouch: true },
] as const;
const WORDS = {
  en: { heading: 'Overview', messages: 'Messages per day, by outcome', fields: 'Fields dropped per reason, in the period', unknownProperty: 'property not in the tracking plan', consent: 'Consent rate per purpose, now', period: 'Period' },
  it: { heading: 'Panoramica', messages: 'Messaggi al giorno, per esito', fields: 'Campi scartati per motivo, nel periodo', unknownProperty: 'proprietà non prevista dal piano di tracciamento', consent: 'Tasso di consenso per finalità, oggi', period: 'Periodo' },
} as const;
/** Keys of the configuration and reason codes a person should not have to read. */
const INTERNAL = /\b(unknown_property|nothing_to_keep|no_basis|analytics|marketing|personalization)\b/;

interface Overview {
  daily: { day: string; stored: number; duplicate: number; dropped: number; droppedFields: number }[];
}

describe('console overview page in Chromium', { skip }, () => {
  let f: Fid;
  let browser: Browser;
  let who: { username: string; password: string };
  let expected: Overview;

  before(async () => {
    f = await startListening();
    browser = await launchBrowser();
    mkdirSync(ARTEFACTS, { recursive: true });
    const batch = await fetch(`${f.url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basicAuth() },
      body: JSON.stringify({
        batch: [
          { type: 'track', userId: 'cust-ovw-browser', event: 'Order Completed', messageId: 'm-ovwb-1', properties: { order_id: 'o-1', total: 10, gift_note: 'hello' } },
          { type: 'identify', userId: 'cust-ovw-browser', messageId: 'm-ovwb-2', traits: { email: 'ovwb@example.test' } },
          { type: 'page', anonymousId: 'anon-ovwb-nobody', name: 'Home', messageId: 'm-ovwb-3' },
        ],
      }),
    });
    assert.equal(batch.status, 200, await batch.text());
    const consent = await fetch(`${f.url}/v1/consent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basicAuth() },
      body: JSON.stringify({ anonymousId: 'anon-ovwb-a', purposes: { analytics: true }, noticeVersion: f.cfg.config.notice.current }),
    });
    assert.equal(consent.status, 200, await consent.text());
    const r = await fetch(`${f.url}/api/v1/overview`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expected = (await r.json()) as Overview;
    who = await consoleUser(f, 'analyst');
  });
  after(async () => {
    await browser?.close();
    await f?.stop();
  });

  /** The cells of the table captioned `caption`, row by row. */
  const tableRows = (page: Page, caption: string) =>
    page.locator('table', { has: page.locator('caption', { hasText: caption }) }).locator('tbody tr').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((c) => (c.textContent ?? '').trim())));

  for (const lang of ['en', 'it'] as const) {
    for (const vp of VIEWPORTS) {
      it(`${lang}, ${vp.name} ${vp.width}×${vp.height}: charts with their tables, the figures sent, no axe violations, nothing off-screen`, async () => {
        const W = WORDS[lang];
        const context = await browser.newContext({ bypassCSP: true, viewport: { width: vp.width, height: vp.height }, isMobile: vp.isMobile, hasTouch: vp.hasTouch });
        try {
          const page = await context.newPage();
          const errors: string[] = [];
          page.on('pageerror', (e) => errors.push(e.message));
          await signIn(page, f, who, lang);
          await page.getByRole('heading', { level: 1, name: W.heading }).waitFor();
          await page.locator('.overview figure canvas').first().waitFor();
          assert.equal(await page.locator('.overview figure canvas').count() >= 2, true, 'two charts: messages per day, drops per reason');
          const labels = await page.locator('.overview [role="img"]').evaluateAll((els) => els.map((e) => e.getAttribute('aria-label') ?? ''));
          assert.equal(labels.length, 2, 'each chart is a named image');
          assert.ok(labels.every((l) => l.length > 20), `chart names: ${labels.join(' | ')}`);
          // Every chart has its figures as a table: open them all.
          for (const summary of await page.locator('.overview details > summary').all()) await summary.click();

          const rows = await tableRows(page, W.messages);
          assert.equal(rows.length, 30, 'a row per day of the default 30');
          const today = expected.daily.at(-1)!;
          assert.deepEqual(rows[0]!.slice(1), [today.stored, today.duplicate, today.dropped, today.droppedFields].map(String), 'today, newest first');
          assert.deepEqual([today.stored, today.dropped], [2, 1], 'two stored, the page dropped');
          assert.ok(rows.slice(1).every((r) => r.slice(1).every((c) => c === '0')), 'the other days are zero');
          const drops = await tableRows(page, W.fields);
          assert.ok(drops.some((r) => r[0] === W.unknownProperty && r[1] === '1'), `the dropped property: ${JSON.stringify(drops)}`);
          const consent = await tableRows(page, W.consent);
          const analytics = f.cfg.purpose('analytics')!.name[lang];
          assert.ok(consent.some((r) => r[0] === analytics && r[1] === '1' && r[2] === '1' && r[3]!.includes('100')), `consent: ${JSON.stringify(consent)}`);
          assert.ok(!INTERNAL.test((await page.locator('main').textContent()) ?? ''), 'names, not keys or codes');

          await assertNoOverflow(page, `${lang} ${vp.name}`);
          await assertNoViolations(page, `${lang} ${vp.name}`);
          await page.screenshot({ path: `${ARTEFACTS}/overview-${lang}-${vp.name}.png`, fullPage: true });

          if (vp.name === 'phone') {
            // The period, kept in the address; the charts are drawn again at the same width.
            await page.getByRole('combobox', { name: W.period }).selectOption('7');
            await page.waitForFunction(() => location.hash.includes('days=7'));
            await page.waitForFunction((caption) => [...document.querySelectorAll('caption')].find((c) => c.textContent === caption)?.closest('table')?.querySelectorAll('tbody tr').length === 7, W.messages);
            await page.locator('.overview figure canvas').first().waitFor();
            await assertNoOverflow(page, `${lang} ${vp.name}, 7 days`);
            await page.reload();
            await page.locator('.overview figure canvas').first().waitFor();
            assert.equal(await page.getByRole('combobox', { name: W.period }).inputValue(), '7', 'the period survives a reload');
          }
          assert.deepEqual(errors, [], 'no script errors');
        } finally {
          await context.close();
        }
      });
    }
  }
});
