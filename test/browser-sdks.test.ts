// Segment's analytics.js (analytics-next) and RudderStack's JavaScript SDK (v3) in Chromium, on a shop served from
// another origin, loaded the way a shop loads them with only their settings URL pointed at Fiducia: the visitor
// accepts in Fiducia's widget, the SDK sends identify (with the shop server's userHash in the SDK's own context
// option), track and page, and the profile API returns what arrived. Nothing is fetched from anywhere else.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { userHash } from '../src/crypto/user-hash.ts';
import { browserSkip, launchBrowser, startListening, startShop } from './helpers/browser.ts';
import { ADMIN_TOKEN } from './helpers/harness.ts';

type Fid = Awaited<ReturnType<typeof startListening>>;
type Shop = Awaited<ReturnType<typeof startShop>>;
type Profile = { subjectId: string; traits: Record<string, unknown> };
type EventPage = { events: { type: string; event: string | null; properties: Record<string, unknown>; context: Record<string, unknown> }[] };

const require = createRequire(import.meta.url);
/** analytics.js as Segment's CDN serves it (the standalone build, which reads the snippet's settings). */
const SEGMENT_JS = readFileSync(join(dirname(require.resolve('@segment/analytics-next/package.json')), 'dist/umd/standalone.js'), 'utf8');
/** RudderStack's browser build with every plugin inside, so none is fetched from its CDN. */
const RUDDER_JS = readFileSync(join(dirname(require.resolve('@rudderstack/analytics-js/bundled')), '../umd/index.js'), 'utf8');

/**
 * A stand-in for Segment's snippet: the queueing `analytics` array and `load`, with `_cdn` (where settings come from)
 * set to Fiducia and the script served by the shop itself, at the path analytics.js reads its write key from.
 */
function segmentSnippet(fiducia: string, writeKey: string): string {
  return `(function () {
  var a = (window.analytics = window.analytics || []);
  if (a.initialize || a.invoked) return;
  a.invoked = true;
  a.methods = ['track', 'identify', 'page', 'group', 'alias', 'screen', 'ready', 'reset', 'on', 'once', 'off', 'debug', 'register', 'addSourceMiddleware'];
  a.methods.forEach(function (m) {
    a[m] = function () { var args = Array.prototype.slice.call(arguments); args.unshift(m); a.push(args); return a; };
  });
  a.load = function (key, options) {
    var s = document.createElement('script');
    s.async = true;
    s.src = '/analytics.js/v1/' + key + '/analytics.min.js';
    document.head.appendChild(s);
    a._loadOptions = options;
  };
  a._writeKey = '${writeKey}';
  a._cdn = '${fiducia}';
  a.load('${writeKey}');
})();`;
}

/** RudderStack's npm build, loaded once analytics is granted, with its data plane and config URL both Fiducia. */
function rudderSnippet(fiducia: string, writeKey: string): string {
  return `(function () {
  var s = document.createElement('script');
  s.src = '/rudderstack/rsa.min.js';
  s.onload = function () {
    var r = new window.rudderanalytics.RudderAnalytics();
    r.load('${writeKey}', '${fiducia}', {
      configUrl: '${fiducia}',
      // The anonymous id the widget recorded consent for (analytics.js's ajs_anonymous_id): one visitor, one profile.
      anonymousIdOptions: { autoCapture: { enabled: true, source: 'segment' } },
      polyfillIfRequired: false,
    });
    window.rudder = r;
  };
  document.head.appendChild(s);
})();`;
}

function shopPage(fiducia: string, writeKey: string, sdk: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Kites and more</title>
<script src="${fiducia}/widget.js" data-write-key="${writeKey}"></script>
<script type="text/plain" data-purpose="analytics">${sdk}</script>
</head><body><main><h1>Kites and more</h1><p>Kites, reels and tails.</p></main></body></html>`;
}

const skip = browserSkip();

// A bound on a hang (an SDK that never sends), not an assertion on speed.
describe('browser SDKs on a shop of another origin', { skip, timeout: 120_000 }, () => {
  let f: Fid;
  let shop: Shop;
  let browser: Browser;
  let context: BrowserContext | undefined;
  let writeKey: string;
  let secret: string;
  /** Every request the page made, as `METHOD url`. */
  let requests: string[];
  /** Fiducia's answers to the page, as `METHOD path status`. */
  let answers: string[];

  before(async () => {
    f = await startListening();
    writeKey = f.bootstrap.generated.browserWriteKey!;
    secret = f.bootstrap.generated.verificationSecret!;
    assert.ok(writeKey && secret, 'the first start made a browser source');
    shop = await startShop();
    shop.pages.set(`/analytics.js/v1/${writeKey}/analytics.min.js`, SEGMENT_JS);
    shop.pages.set('/rudderstack/rsa.min.js', RUDDER_JS);
    shop.pages.set('/segment', shopPage(f.url, writeKey, segmentSnippet(f.url, writeKey)));
    shop.pages.set('/rudderstack', shopPage(f.url, writeKey, rudderSnippet(f.url, writeKey)));
    browser = await launchBrowser();
  });
  after(async () => {
    await context?.close();
    await browser?.close();
    await shop?.close();
    await f?.stop();
  });

  /** A fresh visitor on a shop page, who accepts everything in the widget; resolves once the consent is on the server. */
  async function visitAndAccept(path: string): Promise<Page> {
    await context?.close();
    context = await browser.newContext();
    const page = await context.newPage();
    requests = [];
    answers = [];
    page.on('request', (r) => requests.push(`${r.method()} ${r.url()}`));
    page.on('response', (r) => {
      if (r.url().startsWith(f.url)) answers.push(`${r.request().method()} ${new URL(r.url()).pathname} ${r.status()}`);
    });
    await page.goto(shop.url + path);
    await page.locator('fiducia-consent').getByRole('button', { name: 'Accept all', exact: true }).click();
    await page.waitForFunction(() => !!(JSON.parse(localStorage.getItem('fiducia_consent') ?? '{}') as { r?: string }).r);
    return page;
  }

  const read = async <T>(path: string): Promise<T> => {
    const r = await fetch(`${f.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(r.status, 200, await r.clone().text());
    return (await r.json()) as T;
  };

  /** The profile the SDK's calls built: traits for personalization, events for analytics, one subject. */
  async function assertArrived(userId: string, category: string, product: string): Promise<EventPage['events']> {
    const id = encodeURIComponent(`userId:${userId}`);
    const p = await read<Profile>(`/api/v1/profiles/${id}?purpose=personalization`);
    assert.equal(p.traits.favoriteCategory, category, `the identify traits arrived: ${JSON.stringify(p.traits)}`);
    assert.equal(p.traits.firstName, 'Ilaria');
    const { events } = await read<EventPage>(`/api/v1/profiles/${id}/events?purpose=analytics&limit=50`);
    const viewed = events.find((e) => e.type === 'track' && e.event === 'Product Viewed');
    assert.equal(viewed?.properties.product_id, product, `the track arrived: ${JSON.stringify(events.map((e) => `${e.type}:${e.event}`))}`);
    assert.ok(events.some((e) => e.type === 'page'), 'the page call arrived');
    return events;
  }

  function assertOnlyTwoOrigins(): void {
    const elsewhere = requests.filter((r) => !r.includes(` ${shop.url}/`) && !r.includes(` ${f.url}/`));
    assert.deepEqual(elsewhere, [], 'nothing is fetched from a CDN or any other host');
  }

  it('Segment analytics.js: settings from Fiducia, identify with userHash, track and page all readable on the profile', async (t) => {
    const page = await visitAndAccept('/segment');
    const user = 'seg-browser-ilaria';
    const hash = userHash(secret, user);
    const sent = await page.evaluate(
      async ({ user, hash }) => {
        type Ctx = { event: { type: string } };
        const a = window as unknown as { analytics: { ready(cb: () => void): void; identify(...x: unknown[]): Promise<Ctx>; track(...x: unknown[]): Promise<Ctx>; page(...x: unknown[]): Promise<Ctx>; user(): { anonymousId(): string } } };
        await new Promise<void>((resolve) => a.analytics.ready(resolve));
        const done = await Promise.all([
          a.analytics.identify(user, { firstName: 'Ilaria', favoriteCategory: 'kites' }, { context: { fiducia: { userHash: hash } } }),
          a.analytics.track('Product Viewed', { product_id: 'kite-9', price: 31 }),
          a.analytics.page('Catalogue', 'Kites'),
        ]);
        return { types: done.map((c) => c.event.type), anonymousId: a.analytics.user().anonymousId(), widgetAnonymousId: JSON.parse(localStorage.getItem('ajs_anonymous_id') ?? 'null') as string };
      },
      { user, hash },
    );
    assert.deepEqual(sent.types, ['identify', 'track', 'page']);
    assert.equal(sent.anonymousId, sent.widgetAnonymousId, 'the widget and analytics.js share one visitor id');
    t.diagnostic(`analytics.js asked Fiducia: ${[...new Set(answers)].join(', ')}`);
    assert.ok(answers.includes(`GET /v1/projects/${writeKey}/settings 200`), `settings came from Fiducia: ${answers.join(', ')}`);
    for (const path of ['/v1/i', '/v1/t', '/v1/p']) assert.ok(answers.includes(`POST ${path} 200`), `${path} was accepted: ${answers.join(', ')}`);
    assert.ok(!answers.some((a) => / [45]\d\d$/.test(a)), `no request was refused: ${answers.join(', ')}`);
    assertOnlyTwoOrigins();
    const events = await assertArrived(user, 'kites', 'kite-9');
    assert.equal(events.find((e) => e.type === 'page')?.properties.path, '/segment', 'page properties as analytics.js collects them');
  });

  it('RudderStack JavaScript SDK: source config from Fiducia, identify with userHash, track and page all readable on the profile', async (t) => {
    const page = await visitAndAccept('/rudderstack');
    const user = 'rs-browser-ilaria';
    const hash = userHash(secret, user);
    const ids = await page.evaluate(
      async ({ user, hash }) => {
        type Rudder = { ready(cb: () => void): void; identify(...x: unknown[]): void; track(...x: unknown[]): void; page(...x: unknown[]): void; getAnonymousId(): string };
        const w = window as unknown as { rudder?: Rudder };
        while (!w.rudder) await new Promise((resolve) => setTimeout(resolve, 20));
        const r = w.rudder;
        await new Promise<void>((resolve) => r.ready(resolve));
        r.identify(user, { firstName: 'Ilaria', favoriteCategory: 'reels' }, { context: { fiducia: { userHash: hash } } });
        r.track('Product Viewed', { product_id: 'reel-3', price: 12 });
        r.page('Catalogue', 'Reels');
        return { anonymousId: r.getAnonymousId(), widgetAnonymousId: JSON.parse(localStorage.getItem('ajs_anonymous_id') ?? 'null') as string };
      },
      { user, hash },
    );
    assert.equal(ids.anonymousId, ids.widgetAnonymousId, 'RudderStack picked up the visitor id the widget recorded consent for');
    // RudderStack's SDK sends from a queue, one request per call: wait until Fiducia has answered all three.
    await waitFor(() => ['identify', 'track', 'page'].every((type) => answers.includes(`POST /v1/${type} 200`)));
    t.diagnostic(`the RudderStack SDK asked Fiducia: ${[...new Set(answers)].join(', ')}`);
    assert.ok(answers.some((a) => a.startsWith('GET /sourceConfig/ 200')), `the source config came from Fiducia: ${answers.join(', ')}`);
    assert.ok(!answers.some((a) => / [45]\d\d$/.test(a)), `no request was refused: ${answers.join(', ')}`);
    assertOnlyTwoOrigins();
    await assertArrived(user, 'reels', 'reel-3');
  });
});

/** Resolves once `check` holds; responses arrive on their own schedule, so this waits on them, not on a clock. */
async function waitFor(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 25));
}
