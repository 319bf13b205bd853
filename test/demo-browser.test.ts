// The demo shop (/demo) in Chromium: the newcomer's loop — banner, events with consent, profile, personalisation from
// Fiducia's computed traits, consent asked in context.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import { browserSkip, launchBrowser, startListening } from './helpers/browser.ts';
import { allowPersonalization } from './helpers/demo.ts';
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

  async function open(lang: 'it' | 'en' = 'en'): Promise<Page> {
    await context?.close();
    context = await browser.newContext();
    page = await context.newPage();
    await page.goto(`${f.url}/demo?lang=${lang}`);
    await page.locator('fiducia-consent [role="dialog"]').waitFor();
    await page.locator('#recommend-button').waitFor();
    return page;
  }
  const widgetButton = (name: string) => page.locator('fiducia-consent').getByRole('button', { name, exact: true });
  const product = (name: string) => page.locator('#products li', { hasText: name });
  const pagesSource = async () => (await f.dbs.data.selectFrom('sources').select('id').where('kind', '=', 'browser').executeTakeFirstOrThrow()).id;
  const eventsOf = async (source: string) => f.dbs.data.selectFrom('events').select(['type', 'event_name', 'purposes']).where('source_id', '=', source).orderBy('id').execute();
  const pageAnonymousId = () => page.evaluate(() => JSON.parse(localStorage.getItem('ajs_anonymous_id') ?? '""') as string);
  /** Fiducia's own answer for this visitor, read by the test with the admin token (not through the page, which has none). */
  async function profileFor(purpose: string) {
    const id = encodeURIComponent(`anonymousId:${await pageAnonymousId()}`);
    const r = await f.app.inject({ url: `/api/v1/profiles/${id}?purpose=${purpose}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(r.statusCode, 200, r.body);
    return r.json<{ traits: Record<string, unknown>; computed: Record<string, unknown>; consents: Record<string, { method: string }> }>();
  }
  /** Views a product and waits until Fiducia stored the batch (it answers after the commit). */
  async function view(name: string): Promise<void> {
    const stored = page.waitForResponse((r) => r.url().includes('/v1/batch'));
    await product(name).getByRole('button', { name: 'View' }).click();
    assert.equal((await stored).status(), 200);
  }

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
    // Personalisation is in the list only where the banner asked for it (a widget without in-context asking).
    assert.match((await page.locator('#consent-state').textContent()) ?? '', /^Not allowed: Analytics, (Personalisation, )?Direct marketing, Personalised advertising\.$/);
  });

  it('with consent: page, track and identify reach Fiducia, and the profile panel shows the personalisation read in words', async () => {
    await open();
    await widgetButton('Reject all').click();
    // Changing one's mind: the shop's own "Privacy choices" button ([data-fiducia-open]) reopens the preferences.
    await page.locator('#choices-button').click();
    await widgetButton('Accept all').click();
    await page.locator('#ad-slot[data-loaded="true"]').waitFor();
    await allowPersonalization(page, 'en');
    await view('Two-person tent');

    await page.getByLabel('E-mail').fill('ada@example.com');
    await page.getByLabel('First name').fill('Ada');
    await page.getByLabel('What do you like most?').selectOption('books');
    await page.getByLabel(/Send me the newsletter/).check();
    const identified = page.waitForResponse((r) => r.url().includes('/v1/batch'));
    await page.getByRole('button', { name: 'Sign up' }).click();
    assert.equal((await identified).status(), 200);
    assert.equal((await page.evaluate(() => window.fiducia!.get())).marketing, true);

    const events = await eventsOf(await pagesSource());
    // The page view dropped before consent is counted once it is given, then the product view.
    assert.deepEqual(events.map((e) => `${e.type}:${e.event_name}`), ['page:Demo shop', 'track:Product Viewed']);
    assert.ok(JSON.parse(events[1]!.purposes).includes('analytics'), events[1]!.purposes);

    // No token anywhere on the page: the panel reads with a key only this browser holds.
    assert.equal(await page.getByLabel(/token/i).count(), 0, 'no token field');
    assert.equal(await page.locator('input[type="password"]').count(), 0, 'no secret field of any kind');
    assert.doesNotMatch(await page.locator('body').innerText(), /API token|token API/);
    const reads: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/v1/me/profile')) reads.push(r.headers().authorization ?? '');
    });
    await page.getByRole('button', { name: 'Load my profile' }).click();
    const out = page.locator('#profile-output');
    await out.getByText('Favourite category').waitFor();
    const text = await out.innerText();
    assert.match(text, /Read for: Personalisation\. Your consent: given\./);
    assert.match(text, /Favourite category\s+Books/);
    // The computed traits by their names, with the value Fiducia computed from the one view.
    assert.match(text, /Most viewed category\s+Outdoor/);
    assert.match(text, /Last viewed category\s+Outdoor/);
    assert.doesNotMatch(text, /personalization|favoriteCategory|top_viewed_category/, text);
    // The raw answer stays one click away for developers.
    await out.getByText('The API’s answer (JSON)').click();
    const raw = JSON.parse((await out.locator('pre').textContent()) ?? '{}') as { computed: Record<string, unknown>; traits: Record<string, unknown> };
    assert.equal(raw.computed.top_viewed_category, 'outdoor');
    // The visitor's own trait, through the visitor's own credential, never the admin token.
    assert.equal(raw.traits.favoriteCategory, 'books');
    assert.ok(reads.length > 0 && reads.every((a) => a.startsWith('Bearer fv1.') && !a.includes(ADMIN_TOKEN)), reads.join('\n'));
    const subjectOfPage = (await profileFor('personalization')) as unknown as { subjectId: string };
    assert.equal((raw as unknown as { subjectId: string }).subjectId, subjectOfPage.subjectId, 'the profile shown is this visitor’s');
  });

  it('the recommendations follow the category Fiducia computed from the views, not the page’s own guess', async () => {
    await open();
    await widgetButton('Accept all').click();
    await allowPersonalization(page, 'en');
    await page.locator('#recommended-note', { hasText: 'Browse a few products' }).waitFor();
    // Told "books" in the form, then viewed shoes three times and a tent last: the most viewed category wins.
    await page.getByLabel('E-mail').fill('bea@example.com');
    await page.getByLabel('What do you like most?').selectOption('books');
    await page.getByRole('button', { name: 'Sign up' }).click();
    for (const name of ['Trail runners', 'Leather loafers', 'Trail runners', 'Two-person tent']) await view(name);
    const computed = (await profileFor('personalization')).computed;
    assert.deepEqual([computed.top_viewed_category, computed.last_viewed_category], ['shoes', 'outdoor']);
    const note = page.locator('#recommended-note');
    await note.filter({ hasText: 'Picked from the category you viewed most (computed by Fiducia): Shoes.' }).waitFor();
    assert.deepEqual(await page.locator('#recommended h3').allTextContents(), ['Trail runners', 'Leather loafers']);

    // Views that reach Fiducia without the page knowing (another device, the shop's server): the page still follows
    // Fiducia's computation, because it reads it instead of counting clicks itself.
    const writeKey = await page.locator('script[data-write-key]').getAttribute('data-write-key');
    const anonymousId = await pageAnonymousId();
    const batch = [0, 1, 2, 3].map((i) => ({
      type: 'track',
      event: 'Product Viewed',
      anonymousId,
      messageId: `elsewhere-${i}`,
      properties: { product_id: 'p6', name: 'Italian cookbook', category: 'books', price: 28 },
    }));
    const sent = await fetch(`${f.url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}` },
      body: JSON.stringify({ batch }),
    });
    assert.equal(sent.status, 200, await sent.text());
    assert.equal((await profileFor('personalization')).computed.top_viewed_category, 'books');
    await page.getByRole('button', { name: 'Recommend for me' }).click();
    await note.filter({ hasText: 'Picked from the category you viewed most (computed by Fiducia): Books.' }).waitFor();
    assert.deepEqual(await page.locator('#recommended h3').allTextContents(), ['Italian cookbook']);

    // Withdrawn: the same list for everyone again, at once.
    await page.locator('#choices-button').click();
    await widgetButton('Reject all').click();
    await note.filter({ hasText: 'Our bestsellers' }).waitFor();
    assert.deepEqual(await page.locator('#recommended h3').allTextContents(), ['Trail runners', 'Leather loafers', 'Canvas tote']);
  });
});
