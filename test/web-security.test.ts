// Web hardening: CORS only where browsers of other origins must call, security headers on every answer, pages that
// keep working under their CSP, and client addresses taken from X-Forwarded-For only as far as proxies are trusted.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { createFiducia, optionsFromEnv } from '../src/app.ts';
import type { Dialect } from '../src/store/database.ts';
import { browserSkip, launchBrowser, startListening } from './helpers/browser.ts';
import { ADMIN_TOKEN, WRITE_KEY, basicAuth, eachDialect, freshStore, startFiducia } from './helpers/harness.ts';
import { CaptureMailer, seedSubject, staff, staffRequest, type Running } from './helpers/rights.ts';

const EVIL = 'https://evil.example';

/** Every `access-control-allow-*` header of an answer. */
const allowHeaders = (r: LightMyRequestResponse) => Object.keys(r.headers).filter((h) => h.startsWith('access-control-allow'));

/** The `'sha256-…'` source of each `<style>` element in a document's head, computed here independently of the server. */
function styleHashes(html: string): string[] {
  const head = html.slice(0, html.indexOf('</head>'));
  return [...head.matchAll(/<style>([^<]*)<\/style>/g)].map((m) => `'sha256-${createHash('sha256').update(m[1] ?? '').digest('base64')}'`);
}

function assertHtmlHardened(name: string, r: LightMyRequestResponse): void {
  assert.equal(r.statusCode, 200, `${name}: ${r.body.slice(0, 200)}`);
  assert.match(String(r.headers['content-type']), /^text\/html/, `${name} is HTML`);
  const csp = String(r.headers['content-security-policy'] ?? '');
  assert.match(csp, /(^|;\s*)frame-ancestors 'none'(;|$)/, `${name}: CSP ${csp}`);
  assert.match(csp, /(^|;\s*)default-src 'none'(;|$)/, `${name}: CSP ${csp}`);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/, `${name}: CSP ${csp}`);
  assert.equal(r.headers['x-content-type-options'], 'nosniff', `${name}: nosniff`);
  assert.equal(r.headers['x-frame-options'], 'DENY', `${name}: x-frame-options`);
}

/** A generated document (package, record of processing, notice): nothing but its own head styles may load. */
function assertDocumentCsp(name: string, r: LightMyRequestResponse): void {
  assertHtmlHardened(name, r);
  const csp = String(r.headers['content-security-policy']);
  assert.doesNotMatch(csp, /script-src|connect-src|'self'/, `${name} loads nothing: ${csp}`);
  const hashes = styleHashes(r.body);
  assert.ok(hashes.length > 0, `${name} has its own stylesheet`);
  for (const h of hashes) assert.ok(csp.includes(h), `${name}: its style ${h} is allowed by ${csp}`);
}

await eachDialect('web security headers', (dialect: Dialect) => {
  let f: Running;
  const mail = new CaptureMailer();
  before(async () => {
    f = await startFiducia(dialect, { demo: true, mailer: mail, rightsSweepMs: 0 });
  });
  after(async () => f.stop());

  it('answers no CORS preflight for the staff API, and the preflights of the public routes', async () => {
    const preflight = (url: string, headers = 'authorization, content-type', method = 'POST') =>
      f.app.inject({ method: 'OPTIONS', url, headers: { origin: EVIL, 'access-control-request-method': method, 'access-control-request-headers': headers } });
    for (const url of ['/api/v1/tokens', '/api/v1/profiles/userId:u1?purpose=analytics', '/api/v1/rights-requests', '/api/v1/ropa', '/api/v1/audit/verify']) {
      const r = await preflight(url);
      assert.deepEqual(allowHeaders(r), [], `OPTIONS ${url} from another origin: ${JSON.stringify(r.headers)}`);
      assert.notEqual(r.statusCode, 204, `OPTIONS ${url} is not a successful preflight`);
    }
    // Requests themselves (a simple GET needs no preflight) carry no CORS headers either.
    const read = await f.app.inject({ method: 'GET', url: '/api/v1/ropa', headers: { origin: EVIL, authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(read.statusCode, 200, read.body);
    assert.deepEqual(allowHeaders(read), [], 'a staff answer is not readable from another origin');

    for (const url of ['/v1/track', '/v1/batch', '/v1/identify', '/v1/consent', '/v1/rights-requests', '/v1/rights-requests/00000000-0000-4000-8000-000000000000/verify']) {
      const r = await preflight(url);
      assert.equal(r.statusCode, 204, `OPTIONS ${url}: ${r.body}`);
      assert.equal(r.headers['access-control-allow-origin'], EVIL, `OPTIONS ${url} allows the shop's origin`);
      assert.match(String(r.headers['access-control-allow-headers']), /authorization/i, `OPTIONS ${url} allows the write key header`);
    }
    const config = await preflight('/v1/consent/config', 'sec-gpc', 'GET');
    assert.equal(config.headers['access-control-allow-origin'], EVIL, 'the consent configuration is public');
    const tracked = await f.app.inject({ method: 'POST', url: '/v1/track', headers: { origin: EVIL, authorization: basicAuth() }, payload: { anonymousId: 'cors-1', event: 'Product Viewed' } });
    assert.equal(tracked.statusCode, 200, tracked.body);
    assert.equal(tracked.headers['access-control-allow-origin'], EVIL, 'browser SDKs read the answer');
  });

  it('sends every HTML answer with a CSP that forbids framing, nosniff and X-Frame-Options', async () => {
    const get = (url: string, headers: Record<string, string> = {}) => f.app.inject({ method: 'GET', url, headers });
    for (const url of ['/privacy', '/privacy?lang=it', '/demo']) {
      const r = await get(url);
      assertHtmlHardened(url, r);
      assert.match(String(r.headers['content-security-policy']), /script-src 'self'/, `${url} runs its own scripts`);
    }
    assertDocumentCsp('record of processing', await get('/api/v1/ropa?format=html', staff));
    assertDocumentCsp('notice table', await get('/api/v1/ropa/purposes?format=html&lang=en'));

    const ada = await seedSubject(f, 'websec', 2);
    const request = await staffRequest(f, { type: 'access', identity: `userId:${ada.userId}` });
    assertDocumentCsp('access package (staff)', await get(`/api/v1/rights-requests/${request.id}/export?format=html`, staff));

    const asked = await f.app.inject({ method: 'POST', url: '/v1/rights-requests', headers: { authorization: basicAuth() }, payload: { email: ada.email, type: 'access', language: 'en' }, remoteAddress: '198.51.100.200' });
    assert.equal(asked.statusCode, 202, asked.body);
    const id = asked.json<{ id: string }>().id;
    const verified = await f.app.inject({ method: 'POST', url: `/v1/rights-requests/${id}/verify`, headers: { authorization: basicAuth() }, payload: { code: mail.codeFor(ada.email) }, remoteAddress: '198.51.100.200' });
    assert.equal(verified.statusCode, 200, verified.body);
    const link = mail.linkFor(ada.email);
    assert.ok(link, 'the outcome email carries a download link');
    const url = new URL(link);
    // The emailed link of an access request opens the readable page itself.
    assert.equal(url.searchParams.get('format'), 'html');
    assertDocumentCsp('access package (self-service download)', await get(`${url.pathname}${url.search}`));
  });

  it('sends nosniff with every JSON answer, errors included', async () => {
    const answers: [string, Promise<LightMyRequestResponse>][] = [
      ['healthz', f.app.inject({ method: 'GET', url: '/healthz' })],
      ['consent config', f.app.inject({ method: 'GET', url: '/v1/consent/config', headers: { origin: EVIL } })],
      ['ropa json', f.app.inject({ method: 'GET', url: '/api/v1/ropa', headers: staff })],
      ['openapi', f.app.inject({ method: 'GET', url: '/openapi.json' })],
      ['401', f.app.inject({ method: 'GET', url: '/api/v1/ropa' })],
      ['404', f.app.inject({ method: 'GET', url: '/nothing-here' })],
      ['400', f.app.inject({ method: 'POST', url: '/v1/track', headers: { authorization: basicAuth() }, payload: { event: 'no identity' } })],
      ['415', f.app.inject({ method: 'POST', url: '/v1/track', headers: { authorization: basicAuth(), 'content-type': 'text/plain' }, payload: 'x' })],
      ['track', f.app.inject({ method: 'POST', url: '/v1/track', headers: { authorization: basicAuth() }, payload: { anonymousId: 'a-json', event: 'Product Viewed' } })],
      ['refused preflight', f.app.inject({ method: 'OPTIONS', url: '/api/v1/tokens', headers: { origin: EVIL, 'access-control-request-method': 'POST' } })],
    ];
    for (const [name, p] of answers) {
      const r = await p;
      assert.match(String(r.headers['content-type']), /^application\/json/, `${name} is JSON (${r.statusCode})`);
      assert.equal(r.headers['x-content-type-options'], 'nosniff', `${name} (${r.statusCode}) carries nosniff`);
      assert.match(String(r.headers['content-security-policy']), /default-src 'none'/, `${name}: nothing loads from a JSON answer`);
    }
  });

  it("lets shops of other origins load the widget and its bundles (CORP cross-origin); everything else stays same-origin", async () => {
    for (const name of ['widget.js', 'privacy.js', 'privacy.css', 'demo.js', 'demo-ads.js', 'demo.css']) {
      const r = await f.app.inject({ method: 'GET', url: `/${name}` });
      assert.equal(r.statusCode, 200, `${name}: ${r.statusCode}`);
      assert.equal(r.headers['cross-origin-resource-policy'], 'cross-origin', `${name} loads from other origins`);
      assert.equal(r.headers['x-content-type-options'], 'nosniff', `${name}: nosniff`);
    }
    for (const url of ['/privacy', '/v1/consent/config', '/healthz']) {
      const r = await f.app.inject({ method: 'GET', url });
      assert.equal(r.headers['cross-origin-resource-policy'], 'same-origin', `${url}: ${String(r.headers['cross-origin-resource-policy'])}`);
    }
  });
});

/** A Fiducia with `trustProxy`, plus a route that reports `req.ip` (registered before the app is ready). */
async function withTrust(trustProxy: string | number | string[]) {
  const f = await startFiducia('sqlite', { trustProxy });
  f.app.get('/test/ip', async (req) => ({ ip: req.ip }));
  const ip = async (xff: string | undefined, remoteAddress = '127.0.0.1') => {
    const r = await f.app.inject({ method: 'GET', url: '/test/ip', headers: xff === undefined ? {} : { 'x-forwarded-for': xff }, remoteAddress });
    return r.json<{ ip: string }>().ip;
  };
  return { f, ip };
}

await eachDialect('trusted proxies and the consent proof', (dialect: Dialect) => {
  it('with one trusted hop, the proof keeps the address the proxy added, not one the client wrote', async () => {
    const f = await startFiducia(dialect, { trustProxy: '1' });
    try {
      const r = await f.app.inject({
        method: 'POST',
        url: '/v1/consent',
        headers: { authorization: basicAuth(), 'x-forwarded-for': '6.6.6.6, 203.0.113.9' },
        payload: { anonymousId: 'proxy-1', purposes: { analytics: true }, noticeVersion: f.cfg.config.notice.current },
        remoteAddress: '127.0.0.1',
      });
      assert.equal(r.statusCode, 200, r.body);
      const { receiptId } = r.json<{ receiptId: string }>();
      const rows = await f.dbs.data.selectFrom('consents').select('ip_truncated').where('receipt_id', '=', receiptId).execute();
      assert.ok(rows.length > 0, 'the consent is stored');
      assert.deepEqual([...new Set(rows.map((x) => x.ip_truncated))], ['203.0.113.0']);
    } finally {
      await f.stop();
    }
  });
});

describe('FIDUCIA_TRUST_PROXY', () => {
  it('a hop count trusts that many proxies from the socket inwards', async () => {
    const one = await withTrust('1');
    try {
      assert.equal(await one.ip('6.6.6.6, 203.0.113.9'), '203.0.113.9', 'the right-most address is the one our proxy added');
      assert.equal(await one.ip('203.0.113.9'), '203.0.113.9');
      assert.equal(await one.ip(undefined), '127.0.0.1', 'no header: the socket peer');
    } finally {
      await one.f.stop();
    }
    const two = await withTrust(2);
    try {
      assert.equal(await two.ip('6.6.6.6, 198.51.100.7, 203.0.113.9'), '198.51.100.7');
    } finally {
      await two.f.stop();
    }
  });

  it('a list of addresses and CIDRs trusts only those proxies', async () => {
    const t = await withTrust('127.0.0.1, 10.0.0.0/8');
    try {
      assert.equal(await t.ip('6.6.6.6, 203.0.113.9'), '203.0.113.9', 'the first untrusted address from the right');
      assert.equal(await t.ip('6.6.6.6, 203.0.113.9, 10.1.2.3'), '203.0.113.9', 'through a chain of trusted proxies');
      assert.equal(await t.ip('6.6.6.6', '198.51.100.50'), '198.51.100.50', 'a peer that is not a trusted proxy is the client, whatever it writes');
    } finally {
      await t.f.stop();
    }
    const list = await withTrust(['::1', '127.0.0.0/8']);
    try {
      assert.equal(await list.ip('6.6.6.6, 203.0.113.9'), '203.0.113.9');
    } finally {
      await list.f.stop();
    }
  });

  it('is off by default and when unset in the environment', async () => {
    assert.equal(optionsFromEnv({}).trustProxy, undefined);
    assert.equal(optionsFromEnv({ FIDUCIA_TRUST_PROXY: '2' }).trustProxy, '2');
    const off = await startFiducia('sqlite');
    off.app.get('/test/ip', async (req) => ({ ip: req.ip }));
    try {
      const r = await off.app.inject({ method: 'GET', url: '/test/ip', headers: { 'x-forwarded-for': '6.6.6.6' }, remoteAddress: '127.0.0.1' });
      assert.equal(r.json<{ ip: string }>().ip, '127.0.0.1');
    } finally {
      await off.stop();
    }
  });

  it('refuses to trust every hop, and values it cannot read, before opening anything', async () => {
    for (const bad of ['true', 'all', '*', 'TRUE', ' all ', '0.0.0.0/0', '::/0', 'yes', '1.5', '-1', '127.0.0.1,', 'not-an-address', '10.0.0.0/33', '100']) {
      const store = freshStore('sqlite', { trustProxy: bad });
      try {
        await assert.rejects(createFiducia(store.options), /FIDUCIA_TRUST_PROXY/, `${JSON.stringify(bad)} is refused`);
      } finally {
        await store.cleanup();
      }
    }
  });

  it('stops `fiducia start` with a clear message', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'fiducia-trust-'));
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start'], {
        cwd: join(import.meta.dirname, '..'),
        env: { ...process.env, FIDUCIA_TRUST_PROXY: 'all', FIDUCIA_DATA_DIR: dataDir, FIDUCIA_ADMIN_TOKEN: ADMIN_TOKEN, FIDUCIA_WRITE_KEY: WRITE_KEY, PORT: '0', DATABASE_URL: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      // A guard, not a measurement: a server that starts anyway would otherwise keep the test waiting.
      const guard = setTimeout(() => child.kill('SIGTERM'), 60_000);
      const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      clearTimeout(guard);
      assert.equal(code, 1, `exit code; stderr: ${stderr}`);
      assert.match(stderr, /FIDUCIA_TRUST_PROXY=all/, stderr);
      assert.match(stderr, /every/, stderr);
      assert.doesNotMatch(stderr, /\n\s+at /, `no stack trace: ${stderr}`);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

const skip = browserSkip();

describe('pages under their CSP in Chromium', { skip }, () => {
  let f: Awaited<ReturnType<typeof startListening>>;
  let browser: Browser;
  before(async () => {
    f = await startListening();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await f?.stop();
  });

  /** Opens `url` in a fresh context that enforces CSP and collects every violation, from the console and from the DOM event. */
  async function open(url: string, extraHTTPHeaders: Record<string, string> = {}) {
    const context = await browser.newContext({ extraHTTPHeaders });
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });
    await page.exposeFunction('reportCspViolation', (v: string) => void violations.push(v));
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        (window as unknown as { reportCspViolation(v: string): void }).reportCspViolation(`${e.violatedDirective} blocked ${e.blockedURI}`);
      });
    });
    const response = await page.goto(url);
    assert.ok(response, `${url} answered`);
    return { page, response, violations, close: () => context.close() };
  }
  const assertFrameDenied = (url: string, headers: Record<string, string>) => {
    assert.equal(headers['x-frame-options'], 'DENY', `${url}: x-frame-options`);
    assert.match(headers['content-security-policy'] ?? '', /frame-ancestors 'none'/, `${url}: CSP`);
  };
  const widgetButton = (page: Page, name: string) => page.locator('fiducia-consent').getByRole('button', { name, exact: true });

  it('/privacy loads, shows the widget and the rights form, with no CSP violation', async () => {
    const o = await open(`${f.url}/privacy?lang=en`);
    try {
      assertFrameDenied('/privacy', await o.response.allHeaders());
      await widgetButton(o.page, 'Accept all').click();
      await o.page.locator('#rights-title').waitFor();
      assert.deepEqual(o.violations, [], 'the privacy center works under its CSP');
    } finally {
      await o.close();
    }
  });

  it('/demo loads, with its consented ad tag, with no CSP violation', async () => {
    const o = await open(`${f.url}/demo?lang=en`);
    try {
      assertFrameDenied('/demo', await o.response.allHeaders());
      await widgetButton(o.page, 'Accept all').click();
      await o.page.locator('#ad-slot[data-loaded]').waitFor();
      assert.deepEqual(o.violations, [], 'the demo shop works under its CSP');
    } finally {
      await o.close();
    }
  });

  it('generated documents render their own styles under default-src none', async () => {
    for (const path of ['/api/v1/ropa?format=html', '/api/v1/ropa/purposes?format=html&lang=en']) {
      const o = await open(`${f.url}${path}`, { authorization: `Bearer ${ADMIN_TOKEN}` });
      try {
        assertFrameDenied(path, await o.response.allHeaders());
        const collapse = await o.page.evaluate(() => getComputedStyle(document.querySelector('table') ?? document.body).borderCollapse);
        assert.equal(collapse, 'collapse', `${path}: the head stylesheet applies`);
        assert.deepEqual(o.violations, [], `${path} renders under its CSP`);
      } finally {
        await o.close();
      }
    }
  });

  it('a shop page of another origin (requiring CORP) loads the widget, and cannot call the staff API', async () => {
    // The shop sends COEP require-corp: every no-cors load, such as the widget's script, must allow cross-origin use.
    const shopServer = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cross-origin-embedder-policy': 'require-corp' });
      res.end(`<!doctype html><html lang="en"><head><title>Shop</title><script src="${f.url}/widget.js" data-write-key="${WRITE_KEY}" defer></script></head><body><p>Shop</p></body></html>`);
    });
    await new Promise<void>((resolve) => shopServer.listen(0, '127.0.0.1', resolve));
    const o = await open(`http://127.0.0.1:${(shopServer.address() as AddressInfo).port}/shop`);
    try {
      await o.page.locator('fiducia-consent [role="dialog"]').waitFor();
      await widgetButton(o.page, 'Reject all').click();
      // A page holding a staff token still cannot make the browser send it to /api/*: the preflight is refused.
      const outcome = await o.page.evaluate(async ([url, token]) => {
        try {
          const r = await fetch(`${url}/api/v1/tokens`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'from-shop', role: 'admin' }) });
          return `status ${r.status}`;
        } catch (err) {
          return `refused: ${String(err)}`;
        }
      }, [f.url, ADMIN_TOKEN] as const);
      assert.match(outcome, /^refused/, outcome);
      const tokens = await f.app.inject({ method: 'GET', url: '/api/v1/tokens', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      assert.ok(!tokens.body.includes('from-shop'), 'the cross-origin POST never reached the server');
      assert.deepEqual(o.violations, [], 'nothing is reported on the shop page');
    } finally {
      await o.close();
      await new Promise<void>((resolve) => shopServer.close(() => resolve()));
    }
  });
});
