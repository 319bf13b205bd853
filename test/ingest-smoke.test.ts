import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';

await eachDialect('ingestion smoke', (dialect) => {
  let f: Awaited<ReturnType<typeof startFiducia>>;
  before(async () => {
    f = await startFiducia(dialect);
  });
  after(async () => f.stop());

  it('stores an identify and a consented track', async () => {
    const consent = await f.app.inject({
      method: 'POST',
      url: '/v1/consent',
      headers: { authorization: basicAuth() },
      payload: { anonymousId: 'anon-1', purposes: { analytics: true, personalization: true, marketing: false }, noticeVersion: '2026-11' },
    });
    assert.equal(consent.statusCode, 200, consent.body);
    const r = await f.app.inject({
      method: 'POST',
      url: '/v1/batch',
      headers: { authorization: basicAuth() },
      payload: {
        batch: [
          { type: 'identify', userId: 'u1', anonymousId: 'anon-1', traits: { email: 'Ada@Example.com', firstName: 'Ada', favoriteCategory: 'shoes', lastCampaign: 'nov' } },
          { type: 'track', userId: 'u1', event: 'Product Viewed', properties: { product_id: 'p1', price: 10 } },
          { type: 'page', anonymousId: 'anon-1', name: 'Home', properties: { url: 'https://shop/' } },
        ],
      },
    });
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual(r.json(), { success: true });
    const traits = await f.dbs.data.selectFrom('traits').select(['name', 'purposes']).orderBy('name').execute();
    assert.deepEqual(traits.map((t) => t.name), ['email', 'favoriteCategory', 'firstName']);
    const events = await f.dbs.data.selectFrom('events').select(['type', 'event_name', 'subject_id']).execute();
    assert.equal(events.length, 2);
    const subjects = await f.dbs.data.selectFrom('subjects').select('id').where('merged_into', 'is', null).execute();
    assert.equal(subjects.length, 1);
  });
});
