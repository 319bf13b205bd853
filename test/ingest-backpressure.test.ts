// Backpressure on both databases: with a tight bound, batches sent all at once are partly refused with 429 and
// Retry-After; every acknowledged message is stored, no refused one is, and a refused batch sent again is taken.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import { ADMIN_TOKEN, basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';

const AUTH = { authorization: basicAuth() };
const PER_BATCH = 20;
const BATCHES = 40;

await eachDialect('ingestion backpressure', (dialect) => {
  let f: Awaited<ReturnType<typeof startFiducia>>;
  before(async () => {
    f = await startFiducia(dialect, { ingestAdmission: { maxQueueMs: 1, minQueued: PER_BATCH } });
  });
  after(async () => {
    await f.stop();
  });

  it('refuses past the bound with 429 and Retry-After, and stores exactly what it acknowledged', async () => {
    const anon = `visitor-${randomUUID()}`;
    const consent = await f.app.inject({ method: 'POST', url: '/v1/consent', headers: AUTH, payload: { anonymousId: anon, purposes: { analytics: true }, noticeVersion: f.cfg.config.notice.current } });
    assert.equal(consent.statusCode, 200, consent.body);
    const batch = (b: number) => ({
      batch: Array.from({ length: PER_BATCH }, (_, i) => ({ type: 'track', anonymousId: anon, event: 'Product Viewed', messageId: `bp-${anon}-${b}-${i}`, properties: { product_id: `p${i}` } })),
    });
    const answers = await Promise.all(Array.from({ length: BATCHES }, (_, b) => f.app.inject({ method: 'POST', url: '/v1/batch', headers: AUTH, payload: batch(b) })));
    const accepted = answers.flatMap((r, b) => (r.statusCode === 200 ? [b] : []));
    const refused = answers.flatMap((r, b) => (r.statusCode === 429 ? [b] : []));
    assert.equal(accepted.length + refused.length, BATCHES, answers.map((r) => r.statusCode).join(','));
    assert.ok(accepted.length >= 1 && refused.length >= 1, `some taken (${accepted.length}), some refused (${refused.length})`);
    for (const b of refused) {
      const r = answers[b]!;
      assert.match(String(r.headers['retry-after']), /^[1-9][0-9]?$/, 'Retry-After in whole seconds');
      const body = r.json<{ error: { code: string; details: { reason: string } } }>();
      assert.equal(body.error.code, 'FIDUCIA_RATE_LIMITED');
      assert.equal(body.error.details.reason, 'overloaded');
    }
    const stored = async () =>
      (await f.dbs.data.selectFrom('events').select('message_id').where('message_id', 'like', `bp-${anon}-%`).execute()).map((e) => e.message_id);
    const ids = new Set(await stored());
    assert.equal(ids.size, accepted.length * PER_BATCH, 'every acknowledged message is stored');
    for (const b of refused) assert.ok(!ids.has(`bp-${anon}-${b}-0`), `refused batch ${b} stored nothing`);
    // An SDK sends a refused batch again after Retry-After; one at a time, each is taken.
    for (const b of refused) {
      const again = await f.app.inject({ method: 'POST', url: '/v1/batch', headers: AUTH, payload: batch(b) });
      assert.equal(again.statusCode, 200, again.body);
    }
    assert.equal(new Set(await stored()).size, BATCHES * PER_BATCH, 'everything is stored once sent again');
    const metrics = await f.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const counter = (name: string) => Number(metrics.body.split('\n').find((l) => l.startsWith(`${name} `))?.split(' ')[1]);
    assert.equal(counter('fiducia_ingest_refused_requests_total'), refused.length, 'every refusal is counted');
    // A batch refused before its body was read has no known size: the messages counter holds the others'.
    assert.ok(counter('fiducia_ingest_refused_messages_total') <= refused.length * PER_BATCH);
    assert.equal(counter('fiducia_ingest_refused_messages_total') % PER_BATCH, 0);
  });

  it('refuses before reading the body when the queue is at its bound (the body is not even parsed)', async () => {
    f.ingest.admission.enter(100_000); // work queued as if by others
    try {
      const broken = await f.app.inject({ method: 'POST', url: '/v1/batch', headers: { ...AUTH, 'content-type': 'application/json' }, payload: '{"batch": [' });
      assert.equal(broken.statusCode, 429, 'a body that does not parse is not read: 429, not 400');
      assert.ok(Number(broken.headers['retry-after']) >= 1);
      const track = await f.app.inject({ method: 'POST', url: '/v1/t', headers: AUTH, payload: { type: 'track', anonymousId: 'a', event: 'x' } });
      assert.equal(track.statusCode, 429, 'the single-call routes too');
      const consent = await f.app.inject({ method: 'POST', url: '/v1/consent', headers: AUTH, payload: { anonymousId: `visitor-${randomUUID()}`, purposes: { analytics: true }, noticeVersion: f.cfg.config.notice.current } });
      assert.equal(consent.statusCode, 200, 'consent is not refused');
    } finally {
      f.ingest.admission.leave(100_000);
    }
    const after = await f.app.inject({ method: 'POST', url: '/v1/batch', headers: { ...AUTH, 'content-type': 'application/json' }, payload: '{"batch": [' });
    assert.equal(after.statusCode, 400, 'with the queue drained the same body is read, and refused as malformed');
  });

  it('never refuses a consent choice, however full the queue', async () => {
    const anon = `visitor-${randomUUID()}`;
    const big = { batch: Array.from({ length: PER_BATCH * 3 }, (_, i) => ({ type: 'track', anonymousId: anon, event: 'Product Viewed', messageId: `bq-${anon}-${i}` })) };
    const [first, , choice] = await Promise.all([
      f.app.inject({ method: 'POST', url: '/v1/batch', headers: AUTH, payload: big }),
      f.app.inject({ method: 'POST', url: '/v1/batch', headers: AUTH, payload: big }),
      f.app.inject({ method: 'POST', url: '/v1/consent', headers: AUTH, payload: { anonymousId: anon, purposes: { analytics: false }, noticeVersion: f.cfg.config.notice.current } }),
    ]);
    assert.equal(first.statusCode, 200, 'a batch into an empty queue is taken whatever its size');
    assert.equal(choice.statusCode, 200, choice.body);
  });
});
