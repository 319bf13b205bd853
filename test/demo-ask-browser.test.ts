// The demo's "Recommend for me" asks for personalisation in context (Fiducia.ask) — only when the visitor uses it, in
// the page's language — and stays off when the widget has no `ask` or the visitor says no.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { axeViolations, browserSkip, describeViolations, launchBrowser, startListening } from './helpers/browser.ts';
import { ADMIN_TOKEN } from './helpers/harness.ts';

type Fid = Awaited<ReturnType<typeof startListening>>;
type Asked = [string, { reason?: string } | undefined][];

const skip = browserSkip();

describe('demo shop: consent asked in context for recommendations', { skip }, () => {
  let f: Fid;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  before(async () => {
    f = await startListening();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await f?.stop();
  });

  /** The demo with the banner answered "reject all", so personalisation is off when the feature is first used. */
  async function openRejected(lang: 'it' | 'en'): Promise<Page> {
    await context?.close();
    context = await browser.newContext({ bypassCSP: true });
    page = await context.newPage();
    await page.goto(`${f.url}/demo?lang=${lang}`);
    await page.locator('#recommend-button').waitFor();
    await page.locator('fiducia-consent').getByRole('button', { name: lang === 'it' ? 'Rifiuta tutto' : 'Reject all', exact: true }).click();
    await page.waitForFunction(() => window.fiducia?.get().personalization === false);
    return page;
  }
  /** Stands in for the widget's `ask` so that the demo's side is tested on its own: records the calls, answers `answer`. */
  async function stubAsk(answer: boolean): Promise<void> {
    await page.evaluate((yes) => {
      const w = window as unknown as { asked: Asked; fiducia: Record<string, unknown> };
      w.asked = [];
      w.fiducia.ask = (purpose: string, options?: { reason?: string }) => {
        w.asked.push([purpose, options]);
        if (yes) window.fiducia!.set({ [purpose]: true });
        return Promise.resolve(yes);
      };
    }, answer);
  }
  const asked = () => page.evaluate(() => (window as unknown as { asked: Asked }).asked);
  const note = () => page.locator('#recommended-note');

  it('asks for personalization with the reason in Italian, only when "Consigliami" is used; a yes turns the feature on', async () => {
    await openRejected('it');
    await stubAsk(true);
    await page.locator('#products li').first().getByRole('button', { name: /^Vedi/ }).click();
    assert.deepEqual(await asked(), [], 'nothing is asked before the feature is used');
    await page.getByRole('button', { name: 'Consigliami' }).click();
    // The feature reads what Fiducia computed, with the visitor's own credential; a second use asks nothing.
    await note().filter({ hasText: 'Guarda qualche prodotto' }).waitFor();
    assert.deepEqual(await asked(), [['personalization', { reason: 'Per consigliarti taglie e prodotti ci serve la personalizzazione.' }]]);
    assert.equal(await page.locator('#profile-token, input[type="password"]').count(), 0, 'no token field');
    await page.getByRole('button', { name: 'Consigliami' }).click();
    await note().filter({ hasText: 'Guarda qualche prodotto' }).waitFor();
    assert.equal((await asked()).length, 1);
  });

  it('in English the reason is English; a no keeps the bestsellers and reads nothing', async () => {
    await openRejected('en');
    await stubAsk(false);
    const reads: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/v1/me/') || r.url().includes('/api/v1/profiles/')) reads.push(r.url());
    });
    await page.getByRole('button', { name: 'Recommend for me' }).click();
    await note().filter({ hasText: 'Without personalisation you see our bestsellers' }).waitFor();
    assert.deepEqual(await asked(), [['personalization', { reason: 'To recommend sizes and products we need personalisation.' }]]);
    assert.deepEqual(reads, []);
    assert.deepEqual(await page.locator('#recommended h3').allTextContents(), ['Trail runners', 'Leather loafers', 'Canvas tote']);
  });

  it('with a widget that has no ask(), the feature stays off and says how to turn it on', async () => {
    await openRejected('en');
    await page.evaluate(() => delete (window.fiducia as unknown as { ask?: unknown }).ask);
    await page.getByRole('button', { name: 'Recommend for me' }).click();
    await note().filter({ hasText: 'turn it on in “Privacy choices”' }).waitFor();
    assert.equal(await page.evaluate(() => window.fiducia!.get().personalization), false);
  });

  it('with the widget’s own ask(): the prompt shows the reason, is accessible, records in_context, and is not shown again', async () => {
    await openRejected('en');
    assert.equal(await page.evaluate(() => typeof window.Fiducia?.ask), 'function');
    const reason = 'To recommend sizes and products we need personalisation.';
    const widget = page.locator('fiducia-consent');
    const bannerReceipt = await page.evaluate(() => window.fiducia!.receipt());
    await page.getByRole('button', { name: 'Recommend for me' }).click();
    await widget.getByText(reason).waitFor();
    const v = await axeViolations(page);
    assert.equal(v.length, 0, describeViolations(v));
    await widget.getByRole('button', { name: 'Allow', exact: true }).click();
    await note().filter({ hasText: 'Browse a few products' }).waitFor();
    assert.equal(await page.evaluate(() => window.fiducia!.get().personalization), true);

    const id = encodeURIComponent(`anonymousId:${await page.evaluate(() => JSON.parse(localStorage.getItem('ajs_anonymous_id') ?? '""') as string)}`);
    const consentRecorded = async () => {
      const r = await f.app.inject({ url: `/api/v1/profiles/${id}?purpose=personalization`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      return r.statusCode === 200 ? (r.json<{ consents: Record<string, { status: string; method: string }> }>().consents.personalization ?? null) : null;
    };
    // The widget records the choice after it resolves: wait for the new receipt, not for a time.
    await page.waitForFunction((old) => ![undefined, old].includes(window.fiducia!.receipt()), bannerReceipt);
    assert.deepEqual(await consentRecorded().then((c) => c && { status: c.status, method: c.method }), { status: 'granted', method: 'in_context' });

    // Decided: the next use asks nothing and shows no prompt.
    await page.getByRole('button', { name: 'Recommend for me' }).click();
    await note().filter({ hasText: 'Browse a few products' }).waitFor();
    assert.equal(await widget.getByText(reason).isVisible(), false);
  });

  it('with the widget’s own ask(): “No thanks” keeps the feature off, and using it again shows no question', async () => {
    await openRejected('it');
    assert.equal(await page.evaluate(() => typeof window.Fiducia?.ask), 'function');
    const widget = page.locator('fiducia-consent');
    const reason = 'Per consigliarti taglie e prodotti ci serve la personalizzazione.';
    await page.getByRole('button', { name: 'Consigliami' }).click();
    await widget.getByText(reason).waitFor();
    await widget.getByRole('button', { name: 'No, grazie', exact: true }).click();
    await note().filter({ hasText: 'Senza personalizzazione vedi i più venduti' }).waitFor();
    // Count the demo's calls to the real ask() from here on: the next use calls it, and it answers without a question.
    await page.evaluate(() => {
      const w = window as unknown as { answered: boolean[]; fiducia: { ask(p: string, o?: object): Promise<boolean> } };
      const real = w.fiducia.ask.bind(w.fiducia);
      w.answered = [];
      w.fiducia.ask = (p, o) => real(p, o).then((yes) => (w.answered.push(yes), yes));
    });
    await page.getByRole('button', { name: 'Consigliami' }).click();
    await page.waitForFunction(() => (window as unknown as { answered: boolean[] }).answered.length === 1);
    assert.deepEqual(await page.evaluate(() => (window as unknown as { answered: boolean[] }).answered), [false]);
    assert.equal(await widget.getByText(reason).isVisible(), false, 'asked again after a no');
    assert.equal(await page.evaluate(() => window.fiducia!.get().personalization), false);
  });
});
