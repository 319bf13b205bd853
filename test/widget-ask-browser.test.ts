// Fiducia.ask in real Chromium: the in-context question for one purpose — shown with the shop's reason, accessible in both
// languages, recorded with method in_context, never asked again once decided, asked again after a material notice change.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import { DEFAULT_CONFIG_PATH } from '../src/services/config/config-loader.ts';
import { axeViolations, browserSkip, describeViolations, launchBrowser, startListening, startShop } from './helpers/browser.ts';
import { ADMIN_TOKEN, WRITE_KEY } from './helpers/harness.ts';

type Fid = Awaited<ReturnType<typeof startListening>>;
type Shop = Awaited<ReturnType<typeof startShop>>;

const REASON = { en: 'To recommend your size we need to personalise the shop for you.', it: 'Per consigliarti la taglia dobbiamo personalizzare il negozio per te.' };

/** A shop page whose "Find my size" button asks for personalization; each answer is appended to `window.answers`. */
function shopPage(fiducia: string, opts: { lang?: 'it' | 'en'; attrs?: string } = {}): string {
  const lang = opts.lang ?? 'en';
  return `<!doctype html>
<html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Test shop</title>
<script src="${fiducia}/widget.js" data-write-key="${WRITE_KEY}" ${opts.attrs ?? 'data-in-context="personalization"'}></script>
</head><body><main><h1>Test shop</h1><p>Shoes, bags and books.</p>
<button id="size" type="button">${lang === 'it' ? 'Trova la mia taglia' : 'Find my size'}</button><p id="out"></p></main>
<script>
  window.answers = [];
  document.getElementById('size').addEventListener('click', function () {
    Fiducia.ask('personalization', { reason: ${JSON.stringify(REASON[lang])} }).then(function (yes) {
      window.answers.push(yes);
      document.getElementById('out').textContent = yes ? 'size: 42' : 'no recommendation';
    });
  });
</script></body></html>`;
}

function configWithNotice(version: string, material: boolean): string {
  const yaml = readFileSync(DEFAULT_CONFIG_PATH, 'utf8');
  const out = yaml
    .replace('current: "2026-11"', `current: "${version}"`)
    .replace('    - { version: "2026-11", material: false }\n', `    - { version: "2026-11", material: false }\n    - { version: "${version}", material: ${material} }\n`);
  assert.notEqual(out, yaml);
  return out;
}

const widget = (page: Page) => page.locator('fiducia-consent');
const dialog = (page: Page) => page.locator('fiducia-consent [role="dialog"]');
const button = (page: Page, name: string) => widget(page).getByRole('button', { name, exact: true });
const answers = (page: Page) => page.evaluate(() => (window as unknown as { answers: boolean[] }).answers);
const stored = (page: Page) => page.evaluate(() => JSON.parse(localStorage.getItem('fiducia_consent') ?? 'null') as { v: string; p: Record<string, boolean>; r?: string } | null);
const isConsentPost = (r: Request) => r.url().endsWith('/v1/consent') && r.method() === 'POST';
/** The element that has keyboard focus, looking into the widget's shadow root. */
const focusedText = (page: Page) =>
  page.evaluate(() => {
    const outer = document.activeElement;
    const el = outer?.shadowRoot?.activeElement ?? outer;
    return el?.getAttribute('role') === 'dialog' ? 'dialog' : (el?.textContent ?? '').trim();
  });

const skip = browserSkip();

describe('Fiducia.ask in Chromium', { skip }, () => {
  let f: Fid;
  let shop: Shop;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  before(async () => {
    f = await startListening();
    shop = await startShop();
    shop.pages.set('/', shopPage(f.url));
    shop.pages.set('/it', shopPage(f.url, { lang: 'it' }));
    shop.pages.set('/plain', shopPage(f.url, { attrs: '' }));
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await shop?.close();
    await f?.stop();
  });

  /** A fresh visitor (empty storage); `init` is script text run before the page's own. */
  async function visit(path = '/', init?: string, phone = false): Promise<Page> {
    await context?.close();
    context = await browser.newContext(phone ? { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } : {});
    if (init) await context.addInitScript({ content: init });
    page = await context.newPage();
    await page.goto(shop.url + path);
    return page;
  }

  /** What the server recorded for this visitor: the latest consent for personalization, read through the profile API. */
  async function recorded(): Promise<{ status: string; method: string } | undefined> {
    await page.waitForFunction(() => !!(JSON.parse(localStorage.getItem('fiducia_consent') ?? '{}') as { r?: string }).r);
    const anon = await page.evaluate(() => JSON.parse(localStorage.getItem('ajs_anonymous_id') ?? 'null') as string);
    const r = await fetch(`${f.url}/api/v1/profiles/anonymousId:${encodeURIComponent(anon)}?purpose=personalization`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(r.status, 200);
    const c = ((await r.json()) as { consents: Record<string, { status: string; method: string }> }).consents.personalization;
    return c && { status: c.status, method: c.method };
  }

  /** Answers the banner (which leaves personalization to be asked in context) with "Reject all". */
  async function answerBanner(name = 'Reject all'): Promise<void> {
    await dialog(page).waitFor();
    const posted = page.waitForRequest(isConsentPost);
    await button(page, name).click();
    await posted;
    await dialog(page).waitFor({ state: 'hidden' });
  }

  it('the banner leaves an in-context purpose out; asking shows a labelled dialog with the reason and the purpose in words; 0 axe violations', async () => {
    await visit();
    await dialog(page).waitFor();
    const banner = (await dialog(page).textContent()) ?? '';
    assert.match(banner, /Analytics, Direct marketing, Personalised advertising/);
    assert.doesNotMatch(banner, /Personalisation/, 'data-in-context="personalization" is asked later, not in the banner');
    const posted = page.waitForRequest(isConsentPost);
    await button(page, 'Reject all').click();
    assert.deepEqual(((await posted).postDataJSON() as { purposes: Record<string, boolean> }).purposes, { analytics: false, marketing: false, advertising: false });
    await dialog(page).waitFor({ state: 'hidden' });

    await page.locator('#size').click();
    await dialog(page).waitFor();
    assert.equal(await dialog(page).getAttribute('aria-modal'), 'true');
    assert.equal(await widget(page).getByRole('dialog', { name: 'Allow “Personalisation”?' }).count(), 1, 'accessible name from the heading');
    const text = (await dialog(page).textContent()) ?? '';
    assert.ok(text.includes(REASON.en), `the shop's reason is shown: ${text}`);
    assert.doesNotMatch(text, /personalization/, 'no internal key on screen');
    assert.equal(await focusedText(page), 'dialog', 'focus moves into the dialog, no answer preselected');
    const looks = await Promise.all(
      ['Allow', 'No thanks'].map((name) =>
        button(page, name).evaluate((b) => {
          const cs = getComputedStyle(b);
          const r = b.getBoundingClientRect();
          return [cs.backgroundColor, cs.color, cs.fontWeight, cs.padding, Math.round(r.width), Math.round(r.height)].join('|');
        }),
      ),
    );
    assert.equal(new Set(looks).size, 1, `two equally easy answers: ${JSON.stringify(looks)}`);
    const violations = await axeViolations(page);
    assert.deepEqual(violations, [], describeViolations(violations));
  });

  it('"Allow" resolves true and records personalization with method in_context; a second ask resolves without a question, also after a reload', async () => {
    await visit();
    await answerBanner();
    await page.locator('#size').click();
    const posted = page.waitForRequest(isConsentPost);
    await button(page, 'Allow').click();
    const body = (await posted).postDataJSON() as { purposes: Record<string, boolean>; method: string };
    assert.deepEqual(body.purposes, { personalization: true }, 'only the purpose asked about is recorded');
    assert.equal(body.method, 'in_context');
    await page.waitForFunction(() => (window as unknown as { answers: boolean[] }).answers.length === 1);
    assert.deepEqual(await answers(page), [true]);
    assert.equal(await page.locator('#out').textContent(), 'size: 42');
    assert.deepEqual(await recorded(), { status: 'granted', method: 'in_context' });
    assert.equal((await page.evaluate(() => window.fiducia!.get())).personalization, true);
    assert.equal(await dialog(page).isVisible(), false);

    const posts: string[] = [];
    page.on('request', (r) => (isConsentPost(r) ? posts.push(r.url()) : undefined));
    await page.locator('#size').click();
    await page.waitForFunction(() => (window as unknown as { answers: boolean[] }).answers.length === 2);
    assert.deepEqual(await answers(page), [true, true]);
    assert.equal(await dialog(page).isVisible(), false, 'not asked again');
    await page.reload();
    await page.waitForFunction(() => !!window.fiducia && Object.keys(window.fiducia.get()).length > 0);
    assert.equal(await dialog(page).isVisible(), false, 'no banner and no question after a reload');
    await page.locator('#size').click();
    await page.waitForFunction(() => (window as unknown as { answers: boolean[] }).answers.length === 1);
    assert.deepEqual(await answers(page), [true]);
    assert.equal(await dialog(page).isVisible(), false);
    assert.deepEqual(posts, [], 'nothing recorded again');
  });

  it('Italian: the question, its answers and the purpose in Italian, no English and no keys; "No, grazie" records a denial; 0 axe violations', async () => {
    await visit('/it');
    await answerBanner('Rifiuta tutto');
    await page.locator('#size').click();
    await dialog(page).waitFor();
    assert.equal(await widget(page).getByRole('dialog', { name: 'Consenti “Personalizzazione”?' }).count(), 1);
    const text = (await dialog(page).textContent()) ?? '';
    assert.ok(text.includes(REASON.it), text);
    assert.match(text, /Puoi cambiare idea quando vuoi/);
    assert.match(text, /Centro privacy/);
    assert.doesNotMatch(text, /\b(Allow|No thanks|You|your|privacy choices|personalization|Personalisation)\b/, `no English, no keys: ${text}`);
    const violations = await axeViolations(page);
    assert.deepEqual(violations, [], describeViolations(violations));
    const posted = page.waitForRequest(isConsentPost);
    await button(page, 'No, grazie').click();
    assert.equal(((await posted).postDataJSON() as { method: string }).method, 'in_context');
    await page.waitForFunction(() => (window as unknown as { answers: boolean[] }).answers.length === 1);
    assert.deepEqual(await answers(page), [false]);
    assert.deepEqual(await recorded(), { status: 'denied', method: 'in_context' });
    await page.locator('#size').click();
    await page.waitForFunction(() => (window as unknown as { answers: boolean[] }).answers.length === 2);
    assert.deepEqual(await answers(page), [false, false], 'a "no" is an answer too: not asked again');
    assert.equal(await dialog(page).isVisible(), false);
  });

  it('keyboard: Tab stays inside, Escape dismisses without an answer (resolves false, records nothing), focus returns; a later ask asks again', async () => {
    await visit();
    await answerBanner();
    await page.locator('#size').focus();
    await page.keyboard.press('Enter');
    await dialog(page).waitFor();
    assert.equal(await focusedText(page), 'dialog');
    const order: string[] = [];
    for (let i = 0; i < 4; i++) {
      await page.keyboard.press('Tab');
      order.push(await focusedText(page));
    }
    assert.deepEqual(order, ['Allow', 'No thanks', 'Privacy center', 'Allow']);
    const posts: string[] = [];
    page.on('request', (r) => (isConsentPost(r) ? posts.push(r.url()) : undefined));
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => (window as unknown as { answers: boolean[] }).answers.length === 1);
    assert.deepEqual(await answers(page), [false]);
    assert.equal(await dialog(page).isVisible(), false);
    assert.equal(await focusedText(page), 'Find my size', 'focus goes back to the button that asked');
    assert.equal((await stored(page))?.p.personalization, undefined, 'dismissal is not a choice');
    await page.keyboard.press('Enter');
    await dialog(page).waitFor();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => (window as unknown as { answers: boolean[] }).answers.length === 2);
    assert.deepEqual(await answers(page), [false, true]);
    assert.equal(posts.length, 1, 'only the answer was recorded');
  });

  it('concurrent asks for one purpose share one question; an unknown purpose rejects and shows nothing; no-consent and GPC purposes answer at once; open() over a question settles it', async () => {
    await visit('/', "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get() { return true; } });");
    await answerBanner();
    const both = page.evaluate(() => Promise.all([window.Fiducia!.ask('personalization', { reason: 'one' }), window.fiducia!.ask('personalization', { reason: 'two' })]));
    await dialog(page).waitFor();
    assert.equal(await widget(page).getByRole('button', { name: 'Allow', exact: true }).count(), 1, 'one question');
    await button(page, 'Allow').click();
    assert.deepEqual(await both, [true, true]);
    assert.equal(await dialog(page).isVisible(), false, 'not shown a second time');

    const unknown = await page.evaluate(() => window.Fiducia!.ask('nonexistent').then(
      (v) => `resolved ${String(v)}`,
      (e: Error) => e.message,
    ));
    assert.equal(unknown, 'Fiducia.ask: unknown purpose "nonexistent"');
    assert.equal(await dialog(page).isVisible(), false);
    assert.deepEqual(await page.evaluate(() => Promise.all([window.Fiducia!.ask('advertising'), window.Fiducia!.ask('service')])), [false, true]);
    assert.equal(await dialog(page).isVisible(), false, 'GPC: never asked to sell or share');

    // The page opening the preferences over an open question ends it unanswered: the promise settles, nothing hangs.
    await page.evaluate(() => {
      const s = JSON.parse(localStorage.getItem('fiducia_consent')!) as { p: Record<string, boolean> };
      delete s.p.personalization;
      localStorage.setItem('fiducia_consent', JSON.stringify(s));
    });
    await page.reload();
    await page.waitForFunction(() => !!window.fiducia && Object.keys(window.fiducia.get()).length > 0);
    const pending = page.evaluate(() => window.Fiducia!.ask('personalization', { reason: 'three' }));
    await button(page, 'Allow').waitFor();
    await page.evaluate(() => window.fiducia!.open());
    assert.equal(await pending, false);
    assert.equal(await widget(page).getByRole('switch', { name: 'Personalisation' }).isVisible(), true, 'the preferences are open');
  });

  it('a purpose decided in the banner is never asked; asking while the banner is open asks first, then the banner asks the rest', async () => {
    await visit('/plain');
    await dialog(page).waitFor();
    assert.match((await dialog(page).textContent()) ?? '', /Analytics, Personalisation, Direct marketing/);
    const first = page.evaluate(() => window.Fiducia!.ask('personalization', { reason: 'now' }));
    await button(page, 'No thanks').waitFor();
    await button(page, 'Allow').click();
    assert.equal(await first, true);
    // Back to the banner, which now names only what is still undecided, and leaves the answer alone.
    await button(page, 'Accept all').waitFor();
    const rest = (await dialog(page).textContent()) ?? '';
    assert.match(rest, /Analytics, Direct marketing, Personalised advertising/);
    assert.doesNotMatch(rest, /Personalisation/);
    const posted = page.waitForRequest(isConsentPost);
    await button(page, 'Reject all').click();
    const body = (await posted).postDataJSON() as { purposes: Record<string, boolean>; method: string };
    assert.deepEqual(body.purposes, { analytics: false, marketing: false, advertising: false }, 'the in-context answer is not recorded again as a banner choice');
    assert.equal(body.method, 'banner');
    assert.deepEqual(await recorded(), { status: 'granted', method: 'in_context' });
    assert.deepEqual((await stored(page))?.p, { analytics: false, personalization: true, marketing: false, advertising: false });

    await visit('/plain');
    await answerBanner('Accept all');
    assert.equal(await page.evaluate(() => window.Fiducia!.ask('personalization', { reason: 'again?' })), true);
    assert.equal(await dialog(page).isVisible(), false, 'decided in the banner: no question');
  });

  it('asks again after a material notice change, not after a non-material one', async () => {
    await visit();
    await answerBanner();
    await page.locator('#size').click();
    await button(page, 'Allow').click();
    await recorded();
    const dir = mkdtempSync(join(tmpdir(), 'fiducia-notice-'));
    const servers: Fid[] = [];
    try {
      for (const [version, material] of [['2027-01', false], ['2027-02', true]] as const) {
        writeFileSync(join(dir, `${version}.yaml`), configWithNotice(version, material));
        const g = await startListening({ configPath: join(dir, `${version}.yaml`) });
        servers.push(g);
        shop.pages.set(`/${version}`, shopPage(g.url));
      }
      await page.goto(`${shop.url}/2027-01`);
      await page.waitForFunction(() => !!window.fiducia && Object.keys(window.fiducia.get()).length > 0);
      await page.locator('#size').click();
      await page.waitForFunction(() => (window as unknown as { answers: boolean[] }).answers.length === 1);
      assert.deepEqual(await answers(page), [true]);
      assert.equal(await dialog(page).isVisible(), false, 'non-material change: no question');

      await page.goto(`${shop.url}/2027-02`);
      await answerBanner();
      await page.locator('#size').click();
      await dialog(page).waitFor();
      assert.equal(await widget(page).getByRole('dialog', { name: 'Allow “Personalisation”?' }).count(), 1, 'material change: asked again');
      const posted = page.waitForRequest(isConsentPost);
      await button(page, 'No thanks').click();
      const body = (await posted).postDataJSON() as { noticeVersion: string; method: string; purposes: Record<string, boolean> };
      assert.deepEqual([body.noticeVersion, body.method, body.purposes], ['2027-02', 'in_context', { personalization: false }]);
      assert.deepEqual(await answers(page), [false]);
    } finally {
      for (const g of servers) await g.stop();
      rmSync(dir, { recursive: true, force: true });
      shop.pages.delete('/2027-01');
      shop.pages.delete('/2027-02');
    }
  });

  it('on a 390×844 phone the question is on screen, nothing overflows, and both answers can be tapped without forcing', async () => {
    await visit('/', undefined, true);
    await answerBanner();
    await page.locator('#size').tap();
    await dialog(page).waitFor();
    const box = await dialog(page).boundingBox();
    assert.ok(box && box.x >= 0 && box.y >= 0 && box.x + box.width <= 390 && box.y + box.height <= 844, `inside the viewport: ${JSON.stringify(box)}`);
    assert.deepEqual(await page.evaluate(() => [document.documentElement.scrollWidth <= innerWidth, innerWidth]), [true, 390]);
    await button(page, 'No thanks').click({ trial: true });
    await button(page, 'Allow').tap();
    await page.waitForFunction(() => (window as unknown as { answers: boolean[] }).answers.length === 1);
    assert.deepEqual(await answers(page), [true]);
  });
});
