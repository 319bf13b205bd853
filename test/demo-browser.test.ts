// The demo shop (/demo) in Chromium: the newcomer's loop — banner, events with consent, profile, personalisation.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import { browserSkip, launchBrowser, startListening } from './helpers/browser.ts';
import { ADMIN_TOKEN } from './helpers/harness.ts';

type Fid = Awaited<ReturnType<typeof startListening>>;

const skip = browserSkip();

describe('demo shop in Chromium', { skip }, () => {
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

  async function open(): Promise<Page> {
    await context?.close();
    context = await browser.newContext();
    page = await context.newPage();
    await page.goto(`${f.url}/demo?lang=en`);
    await page.locator('fiducia-consent [role="dialog"]').waitFor();
    return page;
  }
  const widgetButton = (name: string) => page.locator('fiducia-consent').getByRole('button', { name, exact: true });
  const product = (name: string) => page.locator('#products li', { hasText: name });
  const pagesSource = async () => (await f.dbs.data.selectFrom('sources').select('id').where('kind', '=', 'browser').executeTakeFirstOrThrow()).id;
  const eventsOf = async (source: string) => f.dbs.data.selectFrom('events').select(['type', 'event_name', 'purposes']).where('source_id', '=', source).orderBy('id').execute();

  it('after "Reject all" the shop sends nothing: clicks are logged as not sent and the ad tag stays blocked', async () => {
    await open();
    const batches: Request[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/v1/batch')) batches.push(r);
    });
    await widgetButton('Reject all').click();
    await product('Trail runners').getByRole('button', { name: 'View' }).click();
    await product('Canvas tote').getByRole('button', { name: 'Add to cart' }).click();
    await page.waitForFunction(() => document.querySelectorAll('.log li').length >= 3);
    const log = await page.locator('.log li').allTextContents();
    assert.ok(log.every((l) => l.startsWith('✗ not sent')), log.join('\n'));
    await page.waitForTimeout(400); // longer than the sender's batching delay
    assert.deepEqual(batches.map((r) => r.url()), []);
    assert.equal(await page.locator('#ad-slot').getAttribute('data-loaded'), null);
    assert.deepEqual(await eventsOf(await pagesSource()), []);
  });

  it('with consent: page, track and identify reach Fiducia, and the profile read for personalisation personalises the page', async () => {
    await open();
    await widgetButton('Reject all').click();
    // Changing one's mind: the shop's own "Privacy choices" button ([data-fiducia-open]) reopens the preferences.
    await page.locator('#choices-button').click();
    await widgetButton('Accept all').click();
    await page.locator('#ad-slot[data-loaded="true"]').waitFor();
    const sent = page.waitForResponse((r) => r.url().includes('/v1/batch'));
    await product('Two-person tent').getByRole('button', { name: 'View' }).click();
    assert.equal((await sent).status(), 200);

    await page.getByLabel('E-mail').fill('ada@example.com');
    await page.getByLabel('First name').fill('Ada');
    await page.getByLabel('What do you like most?').selectOption('outdoor');
    await page.getByLabel(/Send me the newsletter/).check();
    const identified = page.waitForResponse((r) => r.url().includes('/v1/batch'));
    await page.getByRole('button', { name: 'Sign up' }).click();
    assert.equal((await identified).status(), 200);
    assert.equal((await page.evaluate(() => window.fiducia!.get())).marketing, true);

    const events = await eventsOf(await pagesSource());
    // The page view dropped before consent is counted once it is given, then the product view.
    assert.deepEqual(events.map((e) => `${e.type}:${e.event_name}`), ['page:Demo shop', 'track:Product Viewed']);
    assert.ok(JSON.parse(events[1]!.purposes).includes('analytics'));

    await page.getByLabel(/API token/).fill(ADMIN_TOKEN);
    await page.getByLabel('Read for purpose').selectOption('personalization');
    const profile = page.waitForResponse((r) => r.url().includes('/api/v1/profiles/'));
    await page.getByRole('button', { name: 'Load my profile' }).click();
    const r = await profile;
    if (r.status() === 404 && /no route/.test(await r.text())) return; // a server without the profile API: the loop ends at events
    assert.equal(r.status(), 200);
    await page.waitForFunction(() => /favoriteCategory/.test(document.getElementById('profile-output')?.textContent ?? ''));
    const shown = JSON.parse((await page.locator('#profile-output').textContent()) ?? '{}') as { traits: Record<string, unknown> };
    assert.equal(shown.traits.favoriteCategory, 'outdoor');
    assert.match((await page.locator('#recommended-note').textContent()) ?? '', /Because you like Outdoor \(from your Fiducia profile\)/);
    assert.deepEqual(await page.locator('#recommended h3').allTextContents(), ['Two-person tent', 'Hiking backpack']);
  });
});
