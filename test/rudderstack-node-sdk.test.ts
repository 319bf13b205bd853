// RudderStack's Node SDK with its defaults (gzip, a form content type, batching, retries), only its data plane pointed
// at a listening Fiducia: each call is then readable through the profile API. Then the gzip boundary under attack.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import Analytics from '@rudderstack/rudder-sdk-node';
import { MAX_BATCH_BYTES, MAX_MESSAGE_BYTES } from '../src/domain/segment-message.ts';
import { ADMIN_TOKEN, WRITE_KEY, basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';

type F = Awaited<ReturnType<typeof startFiducia>>;
type Profile = { subjectId: string; traits: Record<string, unknown> };
type EventPage = { events: { messageId: string; type: string; event: string | null; properties: Record<string, unknown> }[] };

// Values made up for this file, so a hit is never a coincidence.
const USER = 'rs-node-user-5150';
const EARLIER = 'rs-node-guest-5150';
const EMAIL = 'Orsola.Brivido@example.net';

await eachDialect('RudderStack Node SDK, default settings', (dialect) => {
  let f: F;
  let base: string;
  before(async () => {
    f = await startFiducia(dialect);
    base = await f.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => f?.stop());

  const read = async <T>(path: string): Promise<T> => {
    const r = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(r.status, 200, await r.clone().text());
    return (await r.json()) as T;
  };
  const profile = (identity: string, purpose: string) => read<Profile>(`/api/v1/profiles/${encodeURIComponent(identity)}?purpose=${purpose}`);

  it('delivers identify, track, page, screen, group and alias with the SDK untouched; every callback succeeds', async () => {
    const c = await fetch(`${base}/v1/consent`, {
      method: 'POST',
      headers: { authorization: basicAuth(), 'content-type': 'application/json' },
      body: JSON.stringify({ userId: USER, purposes: { analytics: true, personalization: true, marketing: true }, noticeVersion: '2026-11' }),
    });
    assert.equal(c.status, 200, await c.clone().text());

    // Nothing but the write key (a server source's) and the data plane: gzip, batching and retries stay as shipped.
    const client = new Analytics(WRITE_KEY, { dataPlaneUrl: base, logLevel: 'error' });
    const results: unknown[] = [];
    // The SDK calls back on a later tick than flush() resolves: wait for all six answers, however long they take.
    let allAnswered: () => void = () => undefined;
    const answered = new Promise<void>((resolve) => (allAnswered = resolve));
    const done = (err?: unknown) => {
      results.push(err ?? null);
      if (results.length === 6) allAnswered();
    };
    client.identify({ userId: USER, traits: { email: EMAIL, firstName: 'Orsola', favoriteCategory: 'kites' } }, done);
    client.track({ userId: USER, event: 'Product Viewed', properties: { product_id: 'kite-7', price: 42 } }, done);
    client.page({ userId: USER, name: 'Kites', properties: { url: 'https://shop.example/kites' } }, done);
    client.screen({ userId: USER, name: 'Cart' }, done);
    client.group({ userId: USER, groupId: 'kite-club', traits: { name: 'Kite club' } }, done);
    client.alias({ userId: USER, previousId: EARLIER }, done);
    await client.flush();
    await answered;
    assert.deepEqual(results, [null, null, null, null, null, null], 'every call was acknowledged');
  });

  it('the traits are on the profile, each for its purposes', async () => {
    const p = await profile(`userId:${USER}`, 'personalization');
    assert.equal(p.traits.favoriteCategory, 'kites');
    assert.equal(p.traits.firstName, 'Orsola');
    assert.equal(p.traits.email, undefined, 'email is not a personalization field');
    const m = await profile(`userId:${USER}`, 'marketing');
    assert.equal(m.traits.email, EMAIL);
    assert.equal(m.subjectId, p.subjectId);
  });

  it('the events are on the profile with their names and properties; alias linked the earlier id', async () => {
    const page = await read<EventPage>(`/api/v1/profiles/${encodeURIComponent(`userId:${USER}`)}/events?purpose=analytics&limit=50`);
    const seen = page.events.map((e) => `${e.type}:${e.event ?? ''}`).sort();
    for (const want of ['page:Kites', 'screen:Cart', 'track:Product Viewed']) assert.ok(seen.includes(want), `${want} in ${seen.join(', ')}`);
    const viewed = page.events.find((e) => e.event === 'Product Viewed');
    assert.equal(viewed?.properties.product_id, 'kite-7');
    // An earlier id no one holds was the visitor's anonymous id: alias links it to the user.
    const earlier = await profile(`anonymousId:${EARLIER}`, 'personalization');
    assert.equal(earlier.subjectId, (await profile(`userId:${USER}`, 'personalization')).subjectId, 'alias: one person');
  });

  // The boundary the SDK needs, attacked directly.
  const send = (body: Buffer, headers: Record<string, string>, url = '/v1/batch') =>
    f.app.inject({ method: 'POST', url, headers: { authorization: basicAuth(), ...headers }, payload: body });
  const errorCode = (r: { json(): unknown }) => (r.json() as { error: { code: string } }).error.code;
  const batch = (n = 1) => Buffer.from(JSON.stringify({ batch: Array.from({ length: n }, (_, i) => ({ type: 'track', userId: USER, event: `Gzip ${i}` })) }));

  it('accepts a gzip body under either content type, and the same bytes uncompressed', async () => {
    for (const type of ['application/x-www-form-urlencoded', 'application/json']) {
      const r = await send(gzipSync(batch()), { 'content-type': type, 'content-encoding': 'gzip' });
      assert.equal(r.statusCode, 200, `${type}: ${r.body}`);
    }
    const plain = await send(batch(), { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(plain.statusCode, 200, plain.body);
  });

  it('refuses a zip bomb at the decompressed limit: 413, and a single message route at its own (32 KB) limit', async () => {
    // 50 MB of zeros in about 50 KB: refused once the output passes the batch limit, without inflating the rest.
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x20));
    assert.ok(bomb.length < MAX_BATCH_BYTES, `the bomb itself is small (${bomb.length} bytes)`);
    const r = await send(bomb, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    assert.equal(r.statusCode, 413, r.body);
    assert.equal(errorCode(r), 'FIDUCIA_BODY_TOO_LARGE');
    const big = Buffer.from(JSON.stringify({ userId: USER, event: 'Big', properties: { pad: 'x'.repeat(MAX_MESSAGE_BYTES) } }));
    const single = await send(gzipSync(big), { 'content-type': 'application/json', 'content-encoding': 'gzip' }, '/v1/track');
    assert.equal(single.statusCode, 413, single.body);
    assert.ok(gzipSync(big).length < MAX_MESSAGE_BYTES, 'compressed, it was under the limit');
  });

  it('refuses broken gzip (400), other encodings (415), a wrong Content-Length (400) and an over-long compressed body (413)', async () => {
    const broken = gzipSync(batch()).subarray(0, 20);
    const r1 = await send(broken, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    assert.equal(r1.statusCode, 400, r1.body);
    assert.equal(errorCode(r1), 'FIDUCIA_INVALID_JSON');
    const notGzip = await send(batch(), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    assert.equal(notGzip.statusCode, 400, notGzip.body);
    for (const encoding of ['br', 'deflate', 'gzip, gzip', 'x'.repeat(100)]) {
      const r = await send(gzipSync(batch()), { 'content-type': 'application/json', 'content-encoding': encoding });
      assert.equal(r.statusCode, 415, `${encoding}: ${r.body}`);
      assert.equal(errorCode(r), 'FIDUCIA_UNSUPPORTED_MEDIA_TYPE');
    }
    const zipped = gzipSync(batch());
    const lying = await send(zipped, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': String(zipped.length + 5) });
    assert.ok(lying.statusCode === 400 || lying.statusCode === 413, `${lying.statusCode} ${lying.body}`);
    // Incompressible bytes over the limit are refused while being read, before any inflating.
    const noise = Buffer.from(Array.from({ length: MAX_BATCH_BYTES + 1024 }, (_, i) => (i * 7919) % 251));
    const tooLong = await send(noise, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    assert.equal(tooLong.statusCode, 413, tooLong.body);
  });

  it('a form-typed body must still be a JSON object (a real form is a 415), and a bad write key is refused whatever the encoding', async () => {
    const form = await send(Buffer.from('userId=x&event=y'), { 'content-type': 'application/x-www-form-urlencoded' }, '/v1/track');
    assert.equal(form.statusCode, 415, form.body);
    assert.equal(errorCode(form), 'FIDUCIA_UNSUPPORTED_MEDIA_TYPE');
    const broken = await send(Buffer.from('{"userId": "x", "event": '), { 'content-type': 'application/x-www-form-urlencoded' }, '/v1/track');
    assert.equal(broken.statusCode, 400, broken.body);
    assert.equal(errorCode(broken), 'FIDUCIA_INVALID_JSON');
    const r = await f.app.inject({ method: 'POST', url: '/v1/batch', headers: { authorization: basicAuth('not-a-key-0123456789'), 'content-type': 'application/json', 'content-encoding': 'gzip' }, payload: gzipSync(batch()) });
    assert.equal(r.statusCode, 401, r.body);
  });
});
