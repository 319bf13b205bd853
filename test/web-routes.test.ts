// Serving the browser files: /widget.js (built in memory, gzip, ETag), the pages with their write key, CSP, language and /demo gating.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { createFiducia } from '../src/app.ts';
import { WRITE_KEY, eachDialect, startFiducia } from './helpers/harness.ts';

await eachDialect('web routes', (dialect) => {
  let f: Awaited<ReturnType<typeof startFiducia>>;
  before(async () => {
    f = await startFiducia(dialect, { demo: true });
  });
  after(async () => f.stop());

  const pageKey = (html: string) => /data-write-key="([^"]*)"/.exec(html)?.[1] ?? '';

  it('serves /widget.js gzip-compressed with an ETag, cacheable and embeddable from any origin', async () => {
    const plain = await f.app.inject({ method: 'GET', url: '/widget.js' });
    assert.equal(plain.statusCode, 200);
    assert.match(String(plain.headers['content-type']), /^text\/javascript/);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.match(plain.body, /fiducia-consent/);
    assert.equal(plain.headers['cross-origin-resource-policy'], 'cross-origin');
    const gz = await f.app.inject({ method: 'GET', url: '/widget.js', headers: { 'accept-encoding': 'gzip, br' } });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(gz.rawPayload).toString('utf8'), plain.body);
    assert.ok(gz.rawPayload.length < 6144);
    const etag = String(plain.headers.etag);
    const again = await f.app.inject({ method: 'GET', url: '/widget.js', headers: { 'if-none-match': etag } });
    assert.equal(again.statusCode, 304);
    for (const url of ['/privacy.js', '/demo.js', '/demo-ads.js', '/privacy.css', '/demo.css']) {
      const r = await f.app.inject({ method: 'GET', url });
      assert.equal(r.statusCode, 200, url);
    }
  });

  it('serves the privacy center with a strict CSP, in the language asked for, carrying a working write key', async () => {
    const en = await f.app.inject({ method: 'GET', url: '/privacy', headers: { 'accept-language': 'en-GB,en;q=0.9' } });
    assert.equal(en.statusCode, 200);
    assert.match(String(en.headers['content-type']), /^text\/html/);
    assert.match(String(en.headers['content-security-policy']), /script-src 'self'/);
    assert.doesNotMatch(String(en.headers['content-security-policy']), /unsafe-inline/);
    assert.match(en.body, /<html lang="en">/);
    assert.match((await f.app.inject({ method: 'GET', url: '/privacy?lang=it', headers: { 'accept-language': 'en' } })).body, /<html lang="it">/);
    assert.match((await f.app.inject({ method: 'GET', url: '/privacy' })).body, /<html lang="it">/, 'default: the configuration’s first language');
    const key = pageKey(en.body);
    assert.match(key, /^wkb_[A-Za-z0-9_-]{32}$/, 'a browser key');
    assert.equal(key, f.bootstrap.generated.browserWriteKey, 'the browser source the first start created');
    const consent = await f.app.inject({
      method: 'POST',
      url: '/v1/consent',
      headers: { authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` },
      payload: { anonymousId: 'pages-visitor', purposes: { analytics: true }, noticeVersion: '2026-11' },
    });
    assert.equal(consent.statusCode, 200, consent.body);
    await f.app.inject({ method: 'GET', url: '/demo' });
    const sources = await f.dbs.data.selectFrom('sources').select(['kind', 'public_key']).execute();
    assert.deepEqual(sources.map((s) => s.kind).sort(), ['browser', 'server'], 'one browser source, however many page views; the server key never reaches a page');
    for (const html of [en.body, (await f.app.inject({ method: 'GET', url: '/demo' })).body]) assert.ok(!html.includes(WRITE_KEY), 'no server key in a page');
  });

  it('the pages key is the same after a restart, follows a rotation, and /demo follows the demo option', async () => {
    const first = pageKey((await f.app.inject({ method: 'GET', url: '/demo' })).body);
    const restarted = await createFiducia({ ...f.store.options, demo: false });
    try {
      const privacy = await restarted.app.inject({ method: 'GET', url: '/privacy' });
      assert.equal(pageKey(privacy.body), first);
      const demo = await restarted.app.inject({ method: 'GET', url: '/demo' });
      assert.equal(demo.statusCode, 404);
      assert.equal(demo.json<{ error: { code: string } }>().error.code, 'FIDUCIA_NOT_FOUND');
      const id = (await restarted.dbs.data.selectFrom('sources').select('id').where('kind', '=', 'browser').executeTakeFirstOrThrow()).id;
      const rotated = await restarted.access.rotateSource(id, 'test');
      assert.ok(rotated, 'the browser source rotates');
      assert.equal(pageKey((await restarted.app.inject({ method: 'GET', url: '/privacy' })).body), rotated.writeKey, 'pages carry the new key at once');
    } finally {
      await restarted.close();
    }
  });
});
