// Segments and computed traits end to end: incremental membership on ingestion, consent withdrawal, purpose-bound
// listings (analyst counts only, service tokens bound to their purposes), API definitions, decay, and recompute.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { createFiducia } from '../src/app.ts';
import { ObjectionRepo } from '../src/store/objection-repo.ts';
import { ProfileRepo } from '../src/store/profile-repo.ts';
import { ANALYST_MINIMUM_COUNT } from '../src/http/routes/segments.ts';
import { ADMIN_TOKEN, basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';

const DAY = 86_400_000;

await eachDialect('segments', (dialect) => {
  let f: Awaited<ReturnType<typeof startFiducia>>;
  // A pinned clock half-way through a UTC day, so that "N days ago" never straddles midnight during the run.
  let now = Math.floor(Date.now() / DAY) * DAY + DAY / 2;
  const tokens: Record<string, string> = {};

  const inject = (method: 'GET' | 'POST' | 'DELETE', url: string, token: string | null, payload?: unknown) =>
    f.app.inject({ method, url, headers: token ? { authorization: `Bearer ${token}` } : {}, ...(payload === undefined ? {} : { payload: payload as object }) });
  const consent = async (anonymousId: string, purposes: Record<string, boolean>) => {
    const r = await f.app.inject({ method: 'POST', url: '/v1/consent', headers: { authorization: basicAuth() }, payload: { anonymousId, purposes, noticeVersion: '2026-11' } });
    assert.equal(r.statusCode, 200, r.body);
  };
  const batch = async (messages: Record<string, unknown>[]) => {
    const r = await f.app.inject({ method: 'POST', url: '/v1/batch', headers: { authorization: basicAuth() }, payload: { batch: messages } });
    assert.equal(r.statusCode, 200, r.body);
  };
  const view = (anonymousId: string, daysAgo: number, category: string) => ({
    type: 'track', anonymousId, event: 'Product Viewed', properties: { product_id: `p-${category}`, category }, timestamp: new Date(now - daysAgo * DAY).toISOString(),
  });
  const orderOf = (anonymousId: string, daysAgo: number, total: number) => ({
    type: 'track', anonymousId, event: 'Order Completed', properties: { order_id: `o-${Math.random()}`, total, currency: 'EUR' }, timestamp: new Date(now - daysAgo * DAY).toISOString(),
  });
  const subjectOf = async (anonymousId: string): Promise<string> => {
    const r = await inject('GET', `/api/v1/profiles/anonymousId:${anonymousId}?purpose=analytics`, ADMIN_TOKEN);
    assert.equal(r.statusCode, 200, r.body);
    return (r.json() as { subjectId: string }).subjectId;
  };
  const members = async (segment: string, purpose: string, token = ADMIN_TOKEN): Promise<string[]> => {
    const r = await inject('GET', `/api/v1/segments/${segment}/members?purpose=${purpose}&limit=1000`, token);
    assert.equal(r.statusCode, 200, r.body);
    return (r.json() as { members: { subjectId: string }[] }).members.map((m) => m.subjectId);
  };

  before(async () => {
    f = await startFiducia(dialect, { segmentsClock: () => now, segmentRefreshMs: 0 });
    for (const [name, role, purposes] of [['analyst', 'analyst', undefined], ['svcAnalytics', 'service', ['analytics']], ['svcPerso', 'service', ['personalization']]] as const) {
      const r = await inject('POST', '/api/v1/tokens', ADMIN_TOKEN, { name, role, ...(purposes ? { purposes } : {}) });
      assert.equal(r.statusCode, 201, r.body);
      tokens[name] = (r.json() as { token: string }).token;
    }
  });
  after(async () => f.stop());

  describe('incremental membership', () => {
    it('a subject enters "viewed ≥ 3 products in 7 days" with the third view, and gets computed traits', async () => {
      await consent('seg-a', { analytics: true, personalization: true });
      await batch([view('seg-a', 1, 'shoes'), view('seg-a', 2, 'bags'), view('seg-a', 9, 'hats')]);
      const subject = await subjectOf('seg-a');
      assert.ok(!(await members('engaged_browsers', 'personalization')).includes(subject), 'two views in the window are not enough');
      await batch([view('seg-a', 0, 'shoes')]);
      assert.ok((await members('engaged_browsers', 'personalization')).includes(subject));
      const profile = await inject('GET', '/api/v1/profiles/anonymousId:seg-a?purpose=personalization', tokens.svcPerso!);
      assert.deepEqual((profile.json() as { segments: string[] }).segments, ['engaged_browsers']);
      assert.deepEqual({ ...(await f.segments.computedTraitsFor(subject, 'personalization')) }, { last_viewed_category: 'shoes', top_viewed_category: 'shoes' });
      // The aggregates are stored encrypted: no category name in the clear.
      const row = await f.dbs.data.selectFrom('segment_states').select('state_enc').where('subject_id', '=', subject).executeTakeFirstOrThrow();
      assert.ok(!Buffer.from(row.state_enc).toString('latin1').includes('shoes'));
    });

    it('withdrawing personalization takes the subject out of its segments and computed traits; a new grant brings it back', async () => {
      const subject = await subjectOf('seg-a');
      await consent('seg-a', { personalization: false });
      assert.ok(!(await members('engaged_browsers', 'personalization')).includes(subject));
      assert.deepEqual({ ...(await f.segments.computedTraitsFor(subject, 'personalization')) }, {});
      const profile = await inject('GET', '/api/v1/profiles/anonymousId:seg-a?purpose=personalization', ADMIN_TOKEN);
      assert.deepEqual((profile.json() as { segments: string[] }).segments, []);
      // Events collected meanwhile under analytics are still stored; with consent again they count again.
      await consent('seg-a', { personalization: true });
      assert.ok((await members('engaged_browsers', 'personalization')).includes(subject));
      assert.equal((await f.segments.computedTraitsFor(subject, 'personalization')).last_viewed_category, 'shoes');
    });

    it('purchase total ≥ 100 in 90 days, and the analytics computed traits', async () => {
      await consent('seg-b', { analytics: true, personalization: true });
      await batch([orderOf('seg-b', 10, 60), orderOf('seg-b', 120, 500)]);
      const subject = await subjectOf('seg-b');
      assert.ok(!(await members('big_spenders', 'personalization')).includes(subject), 'the order of 120 days ago is outside the window');
      await batch([orderOf('seg-b', 1, 40.5)]);
      assert.ok((await members('big_spenders', 'personalization')).includes(subject));
      assert.deepEqual({ ...(await f.segments.computedTraitsFor(subject, 'analytics')) }, { orders_365d: 3, order_total_365d: 600.5 });
    });

    it('a trait segment follows both the trait and the consent of its purpose', async () => {
      await consent('seg-c', { personalization: true });
      await batch([{ type: 'identify', anonymousId: 'seg-c', traits: { newsletter: true } }]);
      const subject = await subjectOf('seg-c');
      assert.ok(!(await members('newsletter_subscribers', 'marketing')).includes(subject), 'no marketing consent yet');
      await consent('seg-c', { marketing: true });
      assert.ok((await members('newsletter_subscribers', 'marketing')).includes(subject));
      await batch([{ type: 'identify', anonymousId: 'seg-c', traits: { newsletter: false } }]);
      assert.ok(!(await members('newsletter_subscribers', 'marketing')).includes(subject));
    });

    it('memberships decay with time and the daily refresh applies it', async () => {
      await consent('seg-d', { personalization: true });
      await batch([view('seg-d', 0, 'a'), view('seg-d', 1, 'b'), view('seg-d', 1, 'c')]);
      const subject = await subjectOf('seg-d');
      assert.ok((await members('engaged_browsers', 'personalization')).includes(subject));
      now += 7 * DAY;
      try {
        assert.equal(await f.segments.refreshIfDue(), true);
        assert.equal(await f.segments.refreshIfDue(), false, 'once a day');
        assert.ok(!(await members('engaged_browsers', 'personalization')).includes(subject));
        assert.equal((await f.segments.computedTraitsFor(subject, 'personalization')).last_viewed_category, 'a', 'a 30-day window still holds it');
      } finally {
        now -= 7 * DAY;
        await f.segments.recompute();
      }
    });
  });

  describe('purpose-bound reads', () => {
    it('lists members page by page, one audit entry per listing', async () => {
      const count = async () => Number((await f.dbs.data.selectFrom('audit_entries').select((eb) => eb.fn.countAll<number>().as('n')).where('action', '=', 'segment.members').executeTakeFirstOrThrow()).n);
      const before = await count();
      const first = await inject('GET', '/api/v1/segments/engaged_browsers/members?purpose=personalization&limit=1', tokens.svcPerso!);
      assert.equal(first.statusCode, 200, first.body);
      const page = first.json() as { members: unknown[]; nextCursor: string | null };
      assert.equal(page.members.length, 1);
      assert.equal(await count(), before + 1);
      if (page.nextCursor) {
        const next = await inject('GET', `/api/v1/segments/engaged_browsers/members?purpose=personalization&limit=1&cursor=${page.nextCursor}`, tokens.svcPerso!);
        assert.equal(next.statusCode, 200, next.body);
        assert.notDeepEqual(next.json(), page);
      }
    });

    it('hides restricted or objecting subjects at once, and a refresh removes their membership', async () => {
      const subject = await subjectOf('seg-a');
      const state = new ProfileRepo(f.dbs.data);
      const rows = async () => (await f.dbs.data.selectFrom('segment_members').select('subject_id').where('segment_id', '=', 'engaged_browsers').where('subject_id', '=', subject).execute()).length;
      assert.ok((await members('engaged_browsers', 'personalization')).includes(subject));
      await state.restrict(subject, now);
      assert.ok(!(await members('engaged_browsers', 'personalization')).includes(subject), 'restricted: not listed');
      await f.segments.refreshSubjects(f.dbs.store, [subject]);
      assert.equal(await rows(), 0, 'restricted: membership removed on refresh');
      await state.liftRestriction(subject);
      await f.segments.refreshSubjects(f.dbs.store, [subject]);
      assert.equal(await rows(), 1);
      await new ObjectionRepo(f.dbs.data).object(subject, 'personalization', now);
      assert.ok(!(await members('engaged_browsers', 'personalization')).includes(subject), 'objection: not listed');
      await new ObjectionRepo(f.dbs.data).lift(subject, 'personalization', now);
      assert.ok((await members('engaged_browsers', 'personalization')).includes(subject));
    });

    it('analysts get counts only, never subject ids, and no count below the minimum', async () => {
      const urls = ['/api/v1/segments/engaged_browsers/members?purpose=personalization', '/api/v1/segments/engaged_browsers/count?purpose=personalization'];
      const analystSees = async () =>
        Promise.all(
          urls.map(async (url) => {
            const r = await inject('GET', url, tokens.analyst!);
            assert.equal(r.statusCode, 200, r.body);
            return r.json() as Record<string, unknown>;
          }),
        );
      const below = (await members('engaged_browsers', 'personalization')).length;
      assert.ok(below > 0 && below < ANALYST_MINIMUM_COUNT, `${below} members at first`);
      for (const body of await analystSees()) {
        assert.deepEqual(body, { id: 'engaged_browsers', purpose: 'personalization', count: null, belowMinimum: ANALYST_MINIMUM_COUNT, aggregateOnly: true });
      }
      // Staff see the exact count whatever it is.
      const staff = await inject('GET', urls[1]!, ADMIN_TOKEN);
      assert.deepEqual(staff.json(), { id: 'engaged_browsers', purpose: 'personalization', count: below });
      // Enough members the shop's server vouched for (a userId it sent): the analyst gets the exact count.
      // Anonymous members alone never lift it over the minimum (test/read-disclosure.test.ts).
      for (let i = 0; i < ANALYST_MINIMUM_COUNT; i++) {
        await consent(`seg-k${i}`, { personalization: true });
        await batch([view(`seg-k${i}`, 0, 'a'), view(`seg-k${i}`, 1, 'b'), view(`seg-k${i}`, 1, 'c')].map((m) => ({ ...m, userId: `seg-k-user${i}` })));
      }
      const admin = await members('engaged_browsers', 'personalization');
      assert.ok(admin.length >= ANALYST_MINIMUM_COUNT, `${admin.length} members now`);
      for (const body of await analystSees()) assert.deepEqual(body, { id: 'engaged_browsers', purpose: 'personalization', count: admin.length, aggregateOnly: true });
      assert.equal((await inject('GET', '/api/v1/profiles/anonymousId:seg-a?purpose=personalization', tokens.analyst!)).statusCode, 403);
    });

    it('a service token bound to analytics gets 403 on a personalization segment', async () => {
      const r1 = await inject('GET', '/api/v1/segments/engaged_browsers/members?purpose=personalization', tokens.svcAnalytics!);
      assert.equal(r1.statusCode, 403, r1.body);
      assert.equal((r1.json() as { error: { code: string } }).error.code, 'FIDUCIA_PURPOSE_NOT_ALLOWED');
      // Naming its own purpose does not help: the segment serves personalization.
      const r2 = await inject('GET', '/api/v1/segments/engaged_browsers/members?purpose=analytics', tokens.svcAnalytics!);
      assert.equal(r2.statusCode, 403, r2.body);
      assert.equal((r2.json() as { error: { details: { reason: string } } }).error.details.reason, 'segment_purpose_mismatch');
      assert.equal((await inject('GET', '/api/v1/segments/engaged_browsers/members?purpose=personalization', null)).statusCode, 401);
      const list = (await inject('GET', '/api/v1/segments', tokens.svcAnalytics!)).json() as { segments: { id: string; purpose: string }[] };
      assert.deepEqual(new Set(list.segments.map((s) => s.purpose)), new Set(['analytics']));
    });
  });

  describe('definitions through the API', () => {
    it('validates, stores and builds a new segment over existing data', async () => {
      const def = { key: 'shoe_lovers', purpose: 'personalization', condition: { event: 'Product Viewed', withinDays: 30, where: [{ property: 'category', op: '=', value: 'shoes' }], count: { op: '>=', value: 2 } } };
      assert.equal((await inject('POST', '/api/v1/segments', tokens.analyst!, def)).statusCode, 403);
      const bad = await inject('POST', '/api/v1/segments', ADMIN_TOKEN, { ...def, purpose: 'marketing' });
      assert.equal(bad.statusCode, 400, bad.body);
      assert.match(bad.body, /may not see/);
      const created = await inject('POST', '/api/v1/segments', ADMIN_TOKEN, def);
      assert.equal(created.statusCode, 201, created.body);
      assert.equal((created.json() as { origin: string }).origin, 'api');
      assert.equal((await inject('POST', '/api/v1/segments', ADMIN_TOKEN, def)).statusCode, 409);
      await f.segments.settled();
      const one = (await inject('GET', '/api/v1/segments/shoe_lovers', tokens.svcPerso!)).json() as { status: string };
      assert.equal(one.status, 'ready');
      assert.deepEqual(await members('shoe_lovers', 'personalization'), [await subjectOf('seg-a')]);
      assert.equal((await inject('DELETE', '/api/v1/segments/engaged_browsers', ADMIN_TOKEN)).statusCode, 409, 'configuration segments are changed in the configuration');
      assert.equal((await inject('DELETE', '/api/v1/segments/shoe_lovers', ADMIN_TOKEN)).statusCode, 204);
      assert.equal((await inject('GET', '/api/v1/segments/shoe_lovers/members?purpose=personalization', ADMIN_TOKEN)).statusCode, 404);
    });
  });

  describe('two processes on one database', { skip: dialect === 'sqlite' ? 'one process per SQLite file' : false }, () => {
    it('concurrent commits and a recompute for the same subjects lose no update', async () => {
      const other = await createFiducia({ ...f.store.options, segmentsClock: () => now, segmentRefreshMs: 0 });
      try {
        const ids = ['mp-0', 'mp-1', 'mp-2'];
        for (const id of ids) await consent(id, { analytics: true, personalization: true });
        const send = (app: typeof f.app, i: number) =>
          app.inject({ method: 'POST', url: '/v1/batch', headers: { authorization: basicAuth() }, payload: { batch: ids.flatMap((id) => [view(id, i % 3, ['shoes', 'bags'][i % 2]!), orderOf(id, i % 5, 10 + i)]) } });
        // Ingestion in both processes while one of them recomputes: state rows are locked, so nothing is lost.
        const [replies] = await Promise.all([Promise.all(Array.from({ length: 12 }, (_, i) => send(i % 2 === 0 ? f.app : other.app, i))), other.segments.recompute()]);
        for (const r of replies) assert.equal(r.statusCode, 200, r.body);
        const subject = await subjectOf('mp-0');
        assert.equal((await f.segments.computedTraitsFor(subject, 'analytics')).orders_365d, 12, 'every order counted once');
        const before = { ...(await f.segments.computedTraitsFor(subject, 'analytics')) };
        await f.segments.recompute();
        assert.deepEqual({ ...(await f.segments.computedTraitsFor(subject, 'analytics')) }, before);
      } finally {
        await other.close();
      }
    });
  });

  describe('recompute', () => {
    it('gives the same memberships and computed traits as incremental updates (random event sequences)', async () => {
      const snapshot = async () => {
        const rows = await f.dbs.data.selectFrom('segment_members').select(['segment_id', 'subject_id']).orderBy('segment_id').orderBy('subject_id').execute();
        const subjects = await f.dbs.data.selectFrom('subjects').select('id').where('merged_into', 'is', null).orderBy('id').execute();
        const computed: Record<string, unknown> = {};
        for (const { id } of subjects) for (const p of ['analytics', 'personalization']) computed[`${id}/${p}`] = { ...(await f.segments.computedTraitsFor(id, p)) };
        return { members: rows.map((r) => `${r.segment_id}/${r.subject_id}`), computed };
      };
      const step = fc.oneof(
        fc.record({ kind: fc.constant('view' as const), who: fc.nat(3), daysAgo: fc.integer({ min: 0, max: 12 }), category: fc.constantFrom('shoes', 'bags', 'hats') }),
        fc.record({ kind: fc.constant('order' as const), who: fc.nat(3), daysAgo: fc.integer({ min: 0, max: 100 }), total: fc.integer({ min: 1, max: 90 }) }),
        fc.record({ kind: fc.constant('consent' as const), who: fc.nat(3), personalization: fc.boolean() }),
      );
      let run = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(fc.array(step, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 4 }), async (batches) => {
          const id = (who: number) => `rc-${run}-${who}`;
          run++;
          for (let who = 0; who < 4; who++) await consent(id(who), { analytics: true, personalization: true });
          for (const b of batches) {
            const msgs = [];
            for (const s of b) {
              if (s.kind === 'view') msgs.push(view(id(s.who), s.daysAgo, s.category));
              else if (s.kind === 'order') msgs.push(orderOf(id(s.who), s.daysAgo, s.total));
              else await consent(id(s.who), { personalization: s.personalization });
            }
            if (msgs.length > 0) await batch(msgs);
          }
          const incremental = await snapshot();
          await f.segments.recompute();
          assert.deepEqual(await snapshot(), incremental);
        }),
        { numRuns: 6 },
      );
    });
  });
});
