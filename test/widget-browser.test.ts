// The consent widget in real Chromium, embedded by a shop on another origin: accessibility, equal choices, enforcement, GPC,
// persistence and re-prompting, keyboard use, Consent Mode and the JS API, a phone's screen.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import { DEFAULT_CONFIG_PATH } from '../src/services/config/config-loader.ts';
import { axeViolations, browserSkip, describeViolations, launchBrowser, startListening, startShop } from './helpers/browser.ts';
import { WRITE_KEY } from './helpers/harness.ts';

type Fid = Awaited<ReturnType<typeof startListening>>;
type Shop = Awaited<ReturnType<typeof startShop>>;

/** A shop page: the widget, an analytics snippet and an ad pixel held back until their purposes are granted. */
function shopPage(fiducia: string, opts: { lang?: string; attrs?: string } = {}): string {
  return `<!doctype html>
<html lang="${opts.lang ?? 'en'}"><head><meta charset="utf-8"><title>Test shop</title>
<script>window.dataLayer = window.dataLayer || [];</script>
<script src="${fiducia}/widget.js" data-write-key="${WRITE_KEY}" data-gcm ${opts.attrs ?? ''}></script>
<script type="text/plain" data-purpose="analytics">
  window.analyticsRan = true;
  fetch('${fiducia}/v1/track', { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Basic ' + btoa('${WRITE_KEY}:') },
    body: JSON.stringify({ anonymousId: 'shop-snippet', event: 'Product Viewed', properties: { product_id: 'p1' } }) });
</script>
<script type="text/plain" data-purpose="advertising" src="${fiducia}/ads-pixel.js"></script>
</head><body><main><h1>Test shop</h1><p id="content">Shoes, bags and books.</p><button id="before" type="button">Browse</button></main></body></html>`;
}

const isAnalytics = (r: Request) => /\/v1\/(track|page|batch|identify)|ads-pixel/.test(r.url());
const dialog = (page: Page) => page.locator('fiducia-consent [role="dialog"]');
const button = (page: Page, name: string) => page.locator('fiducia-consent').getByRole('button', { name, exact: true });
const ready = (page: Page) => page.waitForFunction(() => !!window.fiducia && Object.keys(window.fiducia.get()).length > 0);
const choices = (page: Page) => page.evaluate(() => window.fiducia!.get());
const stored = (page: Page) => page.evaluate(() => JSON.parse(localStorage.getItem('fiducia_consent') ?? 'null') as { v: string; p: Record<string, boolean>; r?: string } | null);

/** The element that has keyboard focus, looking into the widget's shadow root. */
const focused = (page: Page) =>
  page.evaluate(() => {
    const outer = document.activeElement;
    const el = outer?.shadowRoot?.activeElement ?? outer;
    if (!el) return null;
    const cs = getComputedStyle(el);
    return { tag: el.tagName, text: (el.textContent ?? '').trim(), role: el.getAttribute('role'), checked: (el as HTMLInputElement).checked, outline: `${cs.outlineStyle} ${cs.outlineWidth}` };
  });

async function consentRecorded(page: Page, f: Fid): Promise<{ purpose: string; status: string; method: string }[]> {
  await page.waitForFunction(() => !!(JSON.parse(localStorage.getItem('fiducia_consent') ?? '{}') as { r?: string }).r);
  const receipt = (await stored(page))!.r!;
  const r = await fetch(`${f.url}/v1/consent/receipt/${receipt}`);
  assert.equal(r.status, 200);
  const body = (await r.json()) as { choices: { purpose: string; status: string; method: string }[] };
  return body.choices.sort((a, b) => a.purpose.localeCompare(b.purpose));
}

function configWithNotice(version: string, material: boolean): string {
  const yaml = readFileSync(DEFAULT_CONFIG_PATH, 'utf8');
  const out = yaml
    .replace('current: "2026-11"', `current: "${version}"`)
    .replace('    - { version: "2026-11", material: false }\n', `    - { version: "2026-11", material: false }\n    - { version: "${version}", material: ${material} }\n`);
  assert.notEqual(out, yaml);
  return out;
}

const skip = browserSkip();

describe('consent widget in Chromium', { skip }, () => {
  let f: Fid;
  let shop: Shop;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  before(async () => {
    f = await startListening();
    shop = await startShop();
    shop.pages.set('/', shopPage(f.url));
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await shop?.close();
    await f?.stop();
  });

  /** A fresh visitor (empty storage) on the shop page; `init` is script text run before the page's own (a string:
   *  functions would be serialized with the test transpiler's helpers in them). */
  async function visit(path = '/', init?: string): Promise<Page> {
    await context?.close();
    context = await browser.newContext();
    if (init) await context.addInitScript({ content: init });
    page = await context.newPage();
    await page.goto(shop.url + path);
    return page;
  }

  it('first layer: a labelled modal dialog with accept, reject and customize of equal prominence; 0 axe violations', async () => {
    await visit();
    await dialog(page).waitFor();
    assert.equal(await dialog(page).getAttribute('aria-modal'), 'true');
    const title = await page.locator('fiducia-consent #ft').textContent();
    assert.equal(title, 'Your privacy choices');
    assert.match((await dialog(page).textContent()) ?? '', /Analytics, Personalisation, Direct marketing, Personalised advertising/);
    const looks = await Promise.all(
      ['Accept all', 'Reject all', 'Customize'].map((name) =>
        button(page, name).evaluate((b) => {
          const cs = getComputedStyle(b);
          const r = b.getBoundingClientRect();
          return { look: [cs.backgroundColor, cs.color, cs.fontSize, cs.fontWeight, cs.borderTopWidth, cs.borderTopColor, cs.padding].join('|'), w: Math.round(r.width), h: Math.round(r.height) };
        }),
      ),
    );
    assert.equal(new Set(looks.map((l) => l.look)).size, 1, `same colour, weight and size: ${JSON.stringify(looks)}`);
    assert.equal(new Set(looks.map((l) => `${l.w}x${l.h}`)).size, 1, `same box: ${JSON.stringify(looks)}`);
    const violations = await axeViolations(page);
    assert.deepEqual(violations, [], describeViolations(violations));
  });

  it('preferences layer: one switch per consent purpose, all off; the other purposes as information with their legal basis; 0 axe violations', async () => {
    await visit();
    await button(page, 'Customize').click();
    const switches = page.locator('fiducia-consent').getByRole('switch');
    assert.equal(await switches.count(), 4);
    for (const name of ['Analytics', 'Personalisation', 'Direct marketing', 'Personalised advertising']) {
      const s = page.locator('fiducia-consent').getByRole('switch', { name });
      assert.equal(await s.isChecked(), false, `${name} is off by default`);
    }
    const text = (await dialog(page).textContent()) ?? '';
    assert.match(text, /Providing the service \(always active\).*Legal basis: contract/);
    assert.match(text, /Security and fraud prevention \(always active\).*Legal basis: legitimate interests/);
    assert.equal(await page.locator('fiducia-consent').getByRole('switch', { name: 'Providing the service' }).count(), 0);
    const violations = await axeViolations(page);
    assert.deepEqual(violations, [], describeViolations(violations));
  });

  it('one click on "Reject all" refuses everything, and afterwards no analytics request leaves the page', async () => {
    await visit();
    const requests: Request[] = [];
    page.on('request', (r) => requests.push(r));
    const posted = page.waitForRequest((r) => r.url().endsWith('/v1/consent') && r.method() === 'POST');
    await button(page, 'Reject all').click();
    const body = (await posted).postDataJSON() as { purposes: Record<string, boolean>; method: string; noticeVersion: string };
    assert.deepEqual(body.purposes, { analytics: false, personalization: false, marketing: false, advertising: false });
    assert.equal(body.method, 'banner');
    assert.equal(await dialog(page).isVisible(), false);
    assert.deepEqual(await choices(page), { service: true, security: true, analytics: false, personalization: false, marketing: false, advertising: false });
    assert.deepEqual(await consentRecorded(page, f), [
      { purpose: 'advertising', status: 'denied', method: 'banner' },
      { purpose: 'analytics', status: 'denied', method: 'banner' },
      { purpose: 'marketing', status: 'denied', method: 'banner' },
      { purpose: 'personalization', status: 'denied', method: 'banner' },
    ]);
    // Navigate within the page and wait: the held-back analytics snippet and ad pixel never run.
    await page.locator('#before').click();
    await page.waitForTimeout(300);
    assert.deepEqual(requests.filter(isAnalytics).map((r) => r.url()), []);
    assert.equal(await page.evaluate(() => (window as unknown as { analyticsRan?: boolean }).analyticsRan), undefined);
    assert.equal(await page.locator('script[data-purpose][type="text/plain"]').count(), 2, 'both blocks are still inert');
  });

  it('with Global Privacy Control, sale/share purposes are shown off and stay off even on "Accept all"', async () => {
    await visit('/', "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get() { return true; } });");
    await dialog(page).waitFor();
    assert.match((await dialog(page).textContent()) ?? '', /Global Privacy Control.*Personalised advertising/);
    await button(page, 'Customize').click();
    const ads = page.locator('fiducia-consent').getByRole('switch', { name: 'Personalised advertising' });
    assert.equal(await ads.isDisabled(), true);
    assert.equal(await ads.isChecked(), false);
    assert.match((await page.locator('fiducia-consent #p-advertising').textContent()) ?? '', /Off because of Global Privacy Control/);
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await button(page, 'Accept all').click();
    const c = await choices(page);
    assert.equal(c.advertising, false);
    assert.equal(c.analytics, true);
    assert.deepEqual(await consentRecorded(page, f), [
      { purpose: 'advertising', status: 'denied', method: 'gpc' },
      { purpose: 'analytics', status: 'granted', method: 'banner' },
      { purpose: 'marketing', status: 'granted', method: 'banner' },
      { purpose: 'personalization', status: 'granted', method: 'banner' },
    ]);
    await page.waitForFunction(() => (window as unknown as { analyticsRan?: boolean }).analyticsRan === true);
    assert.ok(!requests.some((u) => u.includes('ads-pixel')), 'the advertising tag is never loaded');
  });

  it('the choice survives a reload; a material notice change asks again, a non-material one does not', async () => {
    await visit();
    await button(page, 'Accept all').click();
    await consentRecorded(page, f);
    await page.reload();
    await ready(page);
    assert.equal(await dialog(page).isVisible(), false, 'no banner after a reload');
    assert.equal((await choices(page)).analytics, true);
    await page.waitForFunction(() => (window as unknown as { analyticsRan?: boolean }).analyticsRan === true);
    assert.equal(await button(page, 'Privacy choices').isVisible(), true, 'the way back is on the page');

    const dir = mkdtempSync(join(tmpdir(), 'fiducia-notice-'));
    const servers: Fid[] = [];
    try {
      for (const [version, material] of [['2027-01', false], ['2027-02', true]] as const) {
        writeFileSync(join(dir, `${version}.yaml`), configWithNotice(version, material));
        const g = await startListening({ configPath: join(dir, `${version}.yaml`) });
        servers.push(g);
        shop.pages.set(`/${version}`, shopPage(g.url));
      }
      // Same shop origin (same stored choice), served by a Fiducia whose notice changed without a material change.
      await page.goto(`${shop.url}/2027-01`);
      await ready(page);
      assert.equal(await dialog(page).isVisible(), false);
      assert.equal((await choices(page)).analytics, true);
      // A material change: the stored choice no longer holds, everything is off until the visitor decides again.
      await page.goto(`${shop.url}/2027-02`);
      await dialog(page).waitFor();
      assert.equal((await choices(page)).analytics, false);
      assert.equal(await page.evaluate(() => (window as unknown as { analyticsRan?: boolean }).analyticsRan), undefined);
      const posted = page.waitForRequest((r) => r.url().endsWith('/v1/consent') && r.method() === 'POST');
      await button(page, 'Reject all').click();
      assert.equal(((await posted).postDataJSON() as { noticeVersion: string }).noticeVersion, '2027-02');
      assert.equal((await stored(page))?.v, '2027-02');
    } finally {
      for (const g of servers) await g.stop();
      rmSync(dir, { recursive: true, force: true });
      shop.pages.delete('/2027-01');
      shop.pages.delete('/2027-02');
    }
  });

  it('keyboard only: focus enters the dialog, Tab is trapped, focus is visible, switches toggle, and the way back works', async () => {
    await visit();
    await dialog(page).waitFor();
    await page.waitForFunction(() => document.querySelector('fiducia-consent')?.shadowRoot?.activeElement?.getAttribute('role') === 'dialog');
    const order: string[] = [];
    for (let i = 0; i < 5; i++) {
      await page.keyboard.press('Tab');
      const el = await focused(page);
      order.push(el?.text ?? '');
      assert.equal(el?.outline, 'solid 3px', `visible focus on ${el?.text}`);
    }
    assert.deepEqual(order, ['Accept all', 'Reject all', 'Customize', 'Privacy center', 'Accept all'], 'Tab cycles inside the dialog');
    await page.keyboard.press('Shift+Tab');
    assert.equal((await focused(page))?.text, 'Privacy center');
    await page.keyboard.press('Escape');
    assert.equal(await dialog(page).isVisible(), true, 'Escape does not dismiss an unanswered question');

    await page.keyboard.press('Shift+Tab');
    assert.equal((await focused(page))?.text, 'Customize');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Tab');
    const first = await focused(page);
    assert.equal(first?.role, 'switch');
    assert.equal(first?.outline, 'solid 3px');
    await page.keyboard.press('Space');
    assert.equal((await focused(page))?.checked, true);
    for (let i = 0; i < 12 && (await focused(page))?.text !== 'Save choices'; i++) await page.keyboard.press('Tab');
    assert.equal((await focused(page))?.text, 'Save choices');
    await page.keyboard.press('Enter');
    assert.equal(await dialog(page).isVisible(), false);
    assert.deepEqual(await choices(page), { service: true, security: true, analytics: true, personalization: false, marketing: false, advertising: false });

    // The way back: the floating button, reached with Tab, reopens the preferences as they are.
    for (let i = 0; i < 6 && (await focused(page))?.text !== 'Privacy'; i++) await page.keyboard.press('Tab');
    assert.equal((await focused(page))?.text, 'Privacy');
    await page.keyboard.press('Enter');
    await dialog(page).waitFor();
    assert.equal(await page.locator('fiducia-consent').getByRole('switch', { name: 'Analytics' }).isChecked(), true);
    await page.keyboard.press('Escape');
    assert.equal(await dialog(page).isVisible(), false, 'Escape closes once a choice exists');
    assert.equal((await focused(page))?.text, 'Privacy', 'focus returns to where it was');
  });

  it('showing the dialog moves nothing on the page (fixed overlay: no layout shift)', async () => {
    await visit(
      '/',
      `window.shifts = [];
       new PerformanceObserver(function (list) { for (const e of list.getEntries()) window.shifts.push(e.value); })
         .observe({ type: 'layout-shift', buffered: true });`,
    );
    const box = () => page.locator('#content').evaluate((el) => JSON.stringify(el.getBoundingClientRect()));
    await dialog(page).waitFor();
    const withDialog = await box();
    const scroll = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight].join('x'));
    await page.evaluate(() => new Promise(requestAnimationFrame));
    assert.deepEqual(await page.evaluate(() => (window as unknown as { shifts: number[] }).shifts), [], 'no layout-shift entries');
    await button(page, 'Reject all').click();
    assert.equal(await box(), withDialog);
    assert.equal(await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight].join('x')), scroll);
  });

  it('Consent Mode v2: denied by default, then updated through the mapping; the JS API gets, sets and notifies', async () => {
    await visit();
    await button(page, 'Customize').click();
    await page.locator('fiducia-consent').getByRole('switch', { name: 'Analytics' }).check();
    await button(page, 'Save choices').click();
    const consentCalls = () =>
      page.evaluate(() => (window.dataLayer ?? []).map((a) => Array.from(a as ArrayLike<unknown>)).filter((a) => a[0] === 'consent') as [string, string, Record<string, unknown>][]);
    const calls = await consentCalls();
    assert.equal(calls[0]?.[1], 'default');
    assert.equal(calls[0]?.[2].analytics_storage, 'denied');
    assert.equal(calls[0]?.[2].ad_storage, 'denied');
    assert.equal(calls[0]?.[2].wait_for_update, 500);
    const update = calls.at(-1)!;
    assert.equal(update[1], 'update');
    assert.deepEqual(update[2], {
      ad_storage: 'denied',
      ad_user_data: 'denied',
      ad_personalization: 'denied',
      analytics_storage: 'granted',
      personalization_storage: 'denied',
      functionality_storage: 'granted',
      security_storage: 'granted',
    });
    await page.waitForFunction(() => (window as unknown as { analyticsRan?: boolean }).analyticsRan === true);

    // set() merges, records with method api, notifies listeners and activates what is now granted.
    const pixel = page.waitForRequest((r) => r.url().includes('ads-pixel'));
    const seen = await page.evaluate(
      () =>
        new Promise<Record<string, boolean>[]>((resolve) => {
          const events: Record<string, boolean>[] = [];
          window.fiducia!.on('change', (c) => {
            events.push(c);
            if (events.length === 2) resolve(events);
          });
          window.fiducia!.set({ advertising: true });
        }),
    );
    assert.equal(seen[0]?.advertising, false, 'a new listener is told the current choices at once');
    assert.equal(seen[1]?.advertising, true);
    assert.equal(seen[1]?.analytics, true, 'set() keeps the other choices');
    await pixel;
    assert.deepEqual((await consentRecorded(page, f)).find((c) => c.purpose === 'advertising'), { purpose: 'advertising', status: 'granted', method: 'api' });
    assert.equal((await consentCalls()).at(-1)?.[2].ad_storage, 'granted');
  });

  it('Italian from the page language; data-lang overrides it', async () => {
    shop.pages.set('/it', shopPage(f.url, { lang: 'it-IT' }));
    shop.pages.set('/it-en', shopPage(f.url, { lang: 'it', attrs: 'data-lang="en"' }));
    await visit('/it');
    await dialog(page).waitFor();
    assert.equal(await page.locator('fiducia-consent #ft').textContent(), 'Le tue scelte sulla privacy');
    assert.equal(await button(page, 'Rifiuta tutto').isVisible(), true);
    assert.match((await dialog(page).textContent()) ?? '', /Statistiche, Personalizzazione, Marketing diretto, Pubblicità personalizzata/);
    assert.equal(await page.locator('fiducia-consent').getAttribute('lang'), 'it');
    await visit('/it-en');
    await dialog(page).waitFor();
    assert.equal(await page.locator('fiducia-consent #ft').textContent(), 'Your privacy choices');
  });

  /** The dialog's box against what the visitor sees (the visual viewport), in CSS pixels. */
  const onScreen = (p: Page) =>
    dialog(p).evaluate((el) => {
      const r = el.getBoundingClientRect();
      const v = window.visualViewport!;
      const inside = r.left >= v.offsetLeft - 1 && r.top >= v.offsetTop - 1 && r.right <= v.offsetLeft + v.width + 1 && r.bottom <= v.offsetTop + v.height + 1;
      return { inside, box: [r.left, r.top, r.right, r.bottom].map(Math.round).join(','), view: [v.offsetLeft, v.offsetTop, v.width, v.height].map(Math.round).join(',') };
    });

  it('on a 390×844 phone: the banner is on screen, nothing overflows, every button can be tapped without forcing; also on a page wider than the screen', async () => {
    const phone = (body: string) =>
      shopPage(f.url).replace('<meta charset="utf-8">', '<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">').replace('</main>', `${body}</main>`);
    shop.pages.set('/phone', phone(`<p>${'Shoes, bags and books. '.repeat(200)}</p>`));
    // A page that is itself too wide: on a phone its fixed layers get a layout viewport larger than the screen.
    shop.pages.set('/wide', phone('<form style="width:640px"><label>Email <input style="width:600px"></label></form>'));
    for (const path of ['/phone', '/wide']) {
      await context?.close();
      context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
      page = await context.newPage();
      await page.goto(shop.url + path);
      await dialog(page).waitFor();
      const first = await onScreen(page);
      assert.ok(first.inside, `${path}: banner ${first.box} inside the visible area ${first.view}`);
      if (path === '/phone') assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth), 'no horizontal overflow');
      // trial: every actionability check of a real tap (visible, stable, not covered by the backdrop), without the tap.
      for (const name of ['Accept all', 'Reject all']) await button(page, name).click({ trial: true });
      await button(page, 'Customize').tap();
      await page.locator('fiducia-consent').getByRole('switch', { name: 'Analytics' }).tap();
      for (const name of ['Accept all', 'Reject all']) await button(page, name).click({ trial: true });
      const prefs = await onScreen(page);
      assert.ok(prefs.inside, `${path}: preferences ${prefs.box} inside the visible area ${prefs.view}`);
      await page.locator('fiducia-consent a', { hasText: 'Privacy center' }).click({ trial: true });
      await button(page, 'Save choices').tap();
      await dialog(page).waitFor({ state: 'hidden' });
      assert.equal((await choices(page)).analytics, true, `${path}: the tapped switch was saved`);
      if (path === '/phone') assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth), 'no horizontal overflow');
      await button(page, 'Privacy choices').tap();
      await dialog(page).waitFor();
    }
  });

  it("shares analytics.js's anonymousId, or creates one where analytics.js will find it", async () => {
    await visit('/', `localStorage.setItem('ajs_anonymous_id', JSON.stringify('ajs-visitor-42'));`);
    let posted = page.waitForRequest((r) => r.url().endsWith('/v1/consent') && r.method() === 'POST');
    await button(page, 'Reject all').click();
    assert.equal(((await posted).postDataJSON() as { anonymousId: string }).anonymousId, 'ajs-visitor-42');

    await visit();
    posted = page.waitForRequest((r) => r.url().endsWith('/v1/consent') && r.method() === 'POST');
    await button(page, 'Reject all').click();
    const created = ((await posted).postDataJSON() as { anonymousId: string }).anonymousId;
    assert.match(created, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(await page.evaluate(() => localStorage.getItem('ajs_anonymous_id')), JSON.stringify(created));
  });
});
