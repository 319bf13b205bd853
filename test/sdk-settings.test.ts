// The settings browser SDKs load before sending: Segment's `GET /v1/projects/:writeKey/settings` and RudderStack's
// `GET /sourceConfig/`. Known, active keys only; everything else gets one 4xx that tells nothing; CORS for shops.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { ADMIN_TOKEN, WRITE_KEY, basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';
import { assertCataloguedError } from './helpers/routes.ts';

type F = Awaited<ReturnType<typeof startFiducia>>;
type SegmentSettings = { integrations: Record<string, { apiKey: string; apiHost: string; protocol: string }>; metrics: { sampleRate: number; host: string }; remotePlugins: unknown[] };
type RudderConfig = { source: { id: string; enabled: boolean; workspaceId: string; config: Record<string, unknown>; destinations: unknown[] } };

const SHOP = 'https://shop.example';
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
// What RudderStack's SDK 3.x puts in the query (p, v, build, writeKey, lock flags).
const rudderQuery = (key: string) => `p=npm&v=3.34.1&build=modern&writeKey=${encodeURIComponent(key)}&lockIntegrationsVersion=false&lockPluginsVersion=false`;

await eachDialect('SDK settings endpoints', (dialect) => {
  let f: F;
  let browserKey: string;
  let revokedKey: string;
  before(async () => {
    f = await startFiducia(dialect);
    browserKey = f.bootstrap.generated.browserWriteKey!;
    const made = await f.app.inject({ method: 'POST', url: '/api/v1/sources', headers: admin, payload: { name: 'old shop', kind: 'browser' } });
    assert.equal(made.statusCode, 201, made.body);
    const created = made.json<{ id: string; writeKey: string }>();
    revokedKey = created.writeKey;
    assert.equal((await f.app.inject({ method: 'DELETE', url: `/api/v1/sources/${created.id}`, headers: admin })).statusCode, 204);
  });
  after(async () => f?.stop());

  const segment = (key: string, headers: Record<string, string> = {}) =>
    f.app.inject({ method: 'GET', url: `/v1/projects/${encodeURIComponent(key)}/settings`, headers: { host: 'cdp.shop.example:8443', origin: SHOP, ...headers } });
  const rudder = (auth: string | null, query = rudderQuery(browserKey), path = '/sourceConfig/') =>
    f.app.inject({ method: 'GET', url: `${path}?${query}`, headers: { origin: SHOP, ...(auth ? { authorization: auth } : {}) } });

  it('Segment: a browser or server key gets settings that send to this server, with no destinations and no telemetry', async () => {
    for (const key of [browserKey, WRITE_KEY]) {
      const r = await segment(key);
      assert.equal(r.statusCode, 200, r.body);
      const s = r.json<SegmentSettings>();
      assert.deepEqual(Object.keys(s.integrations), ['Segment.io'], 'no destination is loaded in the browser');
      assert.deepEqual({ ...s.integrations['Segment.io'] }, { apiKey: key, apiHost: 'cdp.shop.example:8443/v1', protocol: 'http', unbundledIntegrations: [], addBundledMetadata: true, maybeBundledConfigIds: {} });
      assert.equal(s.metrics.sampleRate, 0);
      assert.deepEqual(s.remotePlugins, []);
      assert.equal(r.headers['access-control-allow-origin'], SHOP, 'a shop page may read it');
      assert.equal(r.headers['cache-control'], 'private, max-age=300', 'built from Host: no shared cache');
    }
  });

  it('Segment: unknown, revoked and malformed keys all get the same 404; a Host that is no host name a 400', async () => {
    const bodies = new Set<string>();
    for (const key of ['wkb_unknown0000000000000000', revokedKey, 'k'.repeat(90)]) {
      const r = await segment(key);
      assert.equal(r.statusCode, 404, `${key.slice(0, 8)}: ${r.body}`);
      assertCataloguedError(r, 'unknown key');
      assert.ok(!r.body.includes(key), 'the key is not echoed');
      bodies.add(r.body);
    }
    assert.equal(bodies.size, 1, 'nothing tells a revoked key from one that never existed');
    for (const key of ['k'.repeat(300), 'a b', 'ä']) {
      const r = await segment(key);
      assert.ok(r.statusCode === 400 || r.statusCode === 404, `${key.slice(0, 8)}: ${r.statusCode}`);
      assertCataloguedError(r, 'malformed key');
    }
    for (const host of ['evil.example/<script>', 'a'.repeat(300), 'evil.example"']) {
      const r = await segment(browserKey, { host });
      assert.equal(r.statusCode, 400, `${host.slice(0, 20)}: ${r.statusCode} ${r.body}`);
      assertCataloguedError(r, 'bad Host');
    }
  });

  it('Segment: with FIDUCIA_PUBLIC_URL the answer names it whatever the Host, and may be cached', async () => {
    const g = await startFiducia(dialect, { publicUrl: 'https://cdp.example.org/fiducia/' });
    try {
      const r = await g.app.inject({ method: 'GET', url: `/v1/projects/${WRITE_KEY}/settings`, headers: { host: 'evil.example' } });
      assert.equal(r.statusCode, 200, r.body);
      const io = r.json<SegmentSettings>().integrations['Segment.io']!;
      assert.equal(io.apiHost, 'cdp.example.org/fiducia/v1');
      assert.equal(io.protocol, 'https');
      assert.equal(r.headers['cache-control'], 'public, max-age=300');
    } finally {
      await g.stop();
    }
  });

  it('RudderStack: the request the SDK makes gets a configuration it accepts (enabled, no destinations, no telemetry)', async () => {
    for (const path of ['/sourceConfig/', '/sourceConfig']) {
      const r = await rudder(basicAuth(browserKey), rudderQuery(browserKey), path);
      assert.equal(r.statusCode, 200, r.body);
      const { source } = r.json<RudderConfig>();
      assert.equal(source.enabled, true);
      assert.ok(source.id.length > 0 && source.workspaceId.length > 0, 'the SDK refuses a source without an id');
      assert.deepEqual(source.destinations, []);
      assert.deepEqual(source.config, { statsCollection: { errors: { enabled: false }, metrics: { enabled: false } } });
      assert.equal(r.headers['access-control-allow-origin'], SHOP);
      assert.equal(r.headers['cache-control'], 'private, max-age=300');
    }
  });

  it('RudderStack: no key, an unknown or revoked key or a bearer token is a 401; a query key that differs is a 400', async () => {
    for (const auth of [null, basicAuth('wkb_unknown0000000000000000'), basicAuth(revokedKey), `Bearer ${ADMIN_TOKEN}`]) {
      const r = await rudder(auth);
      assert.equal(r.statusCode, 401, `${auth?.slice(0, 10) ?? 'none'}: ${r.body}`);
      assertCataloguedError(r, 'refused key');
      assert.ok(!r.body.includes('source'), 'no configuration leaks');
    }
    const mismatch = await rudder(basicAuth(browserKey), rudderQuery(WRITE_KEY));
    assert.equal(mismatch.statusCode, 400, mismatch.body);
    const long = await rudder(basicAuth(browserKey), `${rudderQuery(browserKey)}&v=${'9'.repeat(300)}`);
    assert.equal(long.statusCode, 400, long.body);
    const many = await rudder(basicAuth(browserKey), Array.from({ length: 30 }, (_, i) => `x${i}=1`).join('&'));
    assert.equal(many.statusCode, 400, many.body);
  });

  it('preflights: the settings request and the SDKs\' own headers (AnonymousId, SentAt, Rsa-*, X-Retry-Count) are allowed from a shop', async () => {
    const pre = (url: string, method: string, headers: string) =>
      f.app.inject({ method: 'OPTIONS', url, headers: { origin: SHOP, 'access-control-request-method': method, 'access-control-request-headers': headers } });
    const config = await pre(`/sourceConfig/?${rudderQuery(browserKey)}`, 'GET', 'authorization');
    assert.equal(config.statusCode, 204, config.body);
    assert.equal(config.headers['access-control-allow-origin'], SHOP);
    const events = await pre('/v1/page', 'POST', 'anonymousid,authorization,content-type,sentat');
    assert.equal(events.statusCode, 204);
    const allowed = String(events.headers['access-control-allow-headers']).split(',').map((h) => h.trim());
    for (const h of ['AnonymousId', 'SentAt', 'Rsa-Retry-Attempt', 'Rsa-Retry-Reason', 'Rsa-Since-First-Attempt', 'Rsa-Since-Last-Attempt', 'Rsa-Recovered', 'X-Retry-Count']) {
      assert.ok(allowed.includes(h), `${h} in ${allowed.join(',')}`);
    }
    const notPublic = await pre('/sourceConfigs', 'GET', 'authorization');
    assert.equal(notPublic.headers['access-control-allow-origin'], undefined, 'only the settings path itself');
  });
});
