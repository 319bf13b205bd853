// The API reference: every operation of /openapi.json names itself (operationId), says what it does (summary) and how
// it is authenticated (security), and /docs renders that document in Chromium from Fiducia's own files only.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { browserSkip, launchBrowser, startListening } from './helpers/browser.ts';
import { startFiducia } from './helpers/harness.ts';

interface Op {
  operationId?: string;
  summary?: string;
  security?: Record<string, string[]>[];
}
interface Doc {
  paths: Record<string, Record<string, Op>>;
  components: { securitySchemes: Record<string, unknown> };
}

describe('OpenAPI document', () => {
  let f: Awaited<ReturnType<typeof startFiducia>>;
  before(async () => {
    f = await startFiducia('sqlite');
  });
  after(async () => f.close());

  it('gives every operation a unique operationId, a summary and a security requirement of a known scheme', async () => {
    const doc = (await f.app.inject({ url: '/openapi.json' })).json<Doc>();
    const ops = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ at: `${method.toUpperCase()} ${path}`, op })));
    assert.ok(ops.length > 50, `the document lists the API (${ops.length} operations)`);
    const problems: string[] = [];
    const ids = new Map<string, string>();
    for (const { at, op } of ops) {
      if (!op.operationId) problems.push(`${at}: no operationId`);
      else if (ids.has(op.operationId)) problems.push(`${at}: operationId ${op.operationId} also used by ${ids.get(op.operationId)}`);
      else ids.set(op.operationId, at);
      if (!op.summary || op.summary.length < 10) problems.push(`${at}: no summary`);
      if (!Array.isArray(op.security)) problems.push(`${at}: no security requirement (an empty list for a public operation)`);
      for (const req of op.security ?? []) for (const scheme of Object.keys(req)) if (!(scheme in doc.components.securitySchemes)) problems.push(`${at}: unknown scheme ${scheme}`);
    }
    assert.deepEqual(problems, []);
  });

  it('declares the write key on the collection routes and the token (or a console session) on the API', async () => {
    const doc = (await f.app.inject({ url: '/openapi.json' })).json<Doc>();
    const schemes = (path: string, method: string) => (doc.paths[path]?.[method]?.security ?? []).flatMap((r) => Object.keys(r));
    for (const path of ['/v1/identify', '/v1/track', '/v1/page', '/v1/batch', '/v1/t', '/v1/consent', '/v1/rights-requests']) assert.deepEqual(schemes(path, 'post'), ['writeKey'], path);
    assert.deepEqual(schemes('/api/v1/profiles/{identity}', 'get'), ['token', 'session']);
    assert.deepEqual(schemes('/api/v1/console/me', 'get'), ['session']);
    assert.deepEqual(schemes('/api/v1/console/login', 'post'), []);
    assert.deepEqual(schemes('/healthz', 'get'), []);
  });

  it('serves /docs with a CSP that loads nothing from elsewhere, and its document is /openapi.json', async () => {
    const page = await f.app.inject({ url: '/docs/' });
    assert.equal(page.statusCode, 200);
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self';/);
    assert.doesNotMatch(csp, /https?:|\*/, 'no other host in the policy');
    const json = (await f.app.inject({ url: '/docs/json' })).json<Doc>();
    const spec = (await f.app.inject({ url: '/openapi.json' })).json<Doc>();
    assert.deepEqual(Object.keys(json.paths).sort(), Object.keys(spec.paths).sort());
  });
});

const skip = browserSkip();
describe('/docs in Chromium', { skip }, () => {
  let browser: Browser;
  let f: Awaited<ReturnType<typeof startListening>>;
  before(async () => {
    browser = await launchBrowser();
    f = await startListening();
  });
  after(async () => {
    await browser?.close();
    await f?.close();
  });

  it('renders every operation with its summary, asking no other host for anything', async () => {
    const page = await browser.newPage();
    const elsewhere: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(f.url) && !r.url().startsWith('data:')) elsewhere.push(r.url());
    });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(`${f.url}/docs/`);
    const doc = (await f.app.inject({ url: '/openapi.json' })).json<Doc>();
    const count = Object.values(doc.paths).reduce((n, methods) => n + Object.keys(methods).length, 0);
    await page.locator('.opblock').nth(count - 1).waitFor();
    assert.equal(await page.locator('.opblock').count(), count);
    await page.getByText('Read one profile for a purpose: only what that purpose may see').first().waitFor();
    await page.locator('.opblock-summary-path', { hasText: '/v1/batch' }).first().waitFor();
    assert.deepEqual(elsewhere, []);
    assert.deepEqual(errors, [], 'no script errors and no CSP violations');
    await page.close();
  });
});
