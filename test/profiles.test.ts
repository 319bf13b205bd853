// Purpose-bound profile reads end to end: per-purpose fields and withheld reasons, consent withdrawal, callers, audit.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ObjectionRepo } from '../src/store/objection-repo.ts';
import { ProfileRepo } from '../src/store/profile-repo.ts';
import { SubjectStateRepo } from '../src/store/subject-state-repo.ts';
import { writeHealthConfig } from './helpers/health-config.ts';
import { ADMIN_TOKEN, WRITE_KEY, basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';

type F = Awaited<ReturnType<typeof startFiducia>>;
type Profile = { subjectId: string; traits: Record<string, unknown>; withheld: { field: string; reason: string }[]; withheldOutsidePurpose: number; segments: unknown[]; computed: Record<string, unknown>; consents: Record<string, { status: string; noticeVersion: string; method: string; at: string; explicit: boolean }> };
type EventsPage = {
  subjectId: string;
  events: { id: string; type: string; event: string | null; properties: Record<string, unknown>; context: Record<string, unknown>; withheld: { field: string; reason: string }[]; withheldOutsidePurpose: number }[];
  withheld: { id: string; reason: string }[];
  withheldOutsidePurpose: number;
  nextCursor: string | null;
};

const uniq = (p: string): string => `${p}-${randomBytes(5).toString('hex')}`;
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 3));

/** Twenty traits, as the shipped tracking plan classifies them. */
function twentyTraits(n: string): Record<string, unknown> {
  return {
    email: `${n}@example.com`, phone: '+39 333 123 4567', address: { city: 'Milano' }, firstName: 'Ada', lastName: 'Lovelace', name: 'Ada Lovelace',
    birthday: '1990-12-10', age: 35, gender: 'f', language: 'it', username: n, company: 'ACME', title: 'CTO',
    favoriteCategory: 'shoes', interests: ['running'], lifestyle: 'sporty', attitudes: 'eco', newsletter: true, preferredChannel: 'email', lastCampaign: 'nov-sale',
  };
}
const PERSONALIZATION = ['age', 'attitudes', 'birthday', 'favoriteCategory', 'firstName', 'gender', 'interests', 'language', 'lastName', 'lifestyle', 'name', 'newsletter', 'preferredChannel'];
const MARKETING = ['attitudes', 'email', 'favoriteCategory', 'firstName', 'interests', 'lastCampaign', 'lastName', 'lifestyle', 'name', 'newsletter', 'phone', 'preferredChannel'];
const ANALYTICS = ['age', 'gender'];
const ALL = Object.keys(twentyTraits('x')).sort();
const minus = (a: readonly string[], b: readonly string[]) => a.filter((x) => !b.includes(x));

await eachDialect('profile reads', (dialect) => {
  let f: F;
  before(async () => {
    f = await startFiducia(dialect);
  });
  after(async () => f.stop());

  const auth = (token = ADMIN_TOKEN) => ({ authorization: `Bearer ${token}` });
  const post = async (url: string, payload: object) => {
    const r = await f.app.inject({ method: 'POST', url, headers: { authorization: basicAuth() }, payload });
    assert.equal(r.statusCode, 200, r.body);
    return r;
  };
  const consent = (userId: string, purposes: Record<string, boolean>, extra: Record<string, unknown> = {}) => post('/v1/consent', { userId, purposes, noticeVersion: '2026-11', ...extra });
  const get = (url: string, token?: string) => f.app.inject({ method: 'GET', url, headers: token === undefined ? auth() : token === '' ? {} : auth(token) });
  const read = async (identity: string, purpose: string, token?: string): Promise<Profile> => {
    const r = await get(`/api/v1/profiles/${encodeURIComponent(identity)}?purpose=${purpose}`, token);
    assert.equal(r.statusCode, 200, r.body);
    return r.json() as Profile;
  };
  const token = async (role: string, purposes?: string[]): Promise<string> => {
    const r = await f.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: auth(), payload: { name: uniq(role), role, ...(purposes ? { purposes } : {}) } });
    assert.equal(r.statusCode, 201, r.body);
    return (r.json() as { token: string }).token;
  };
  // Through the audit log's own query API, so the test does not depend on how entries are stored.
  const auditCount = async (action: string) => (await f.audit.query({ action, limit: 100_000 })).entries.length;
  const withheldOf = (p: Profile) => Object.fromEntries(p.withheld.map((w) => [w.field, w.reason]));

  /** A customer who consented to analytics, personalization and marketing and has 20 traits. */
  const customer = async (): Promise<string> => {
    const u = uniq('u');
    await consent(u, { analytics: true, personalization: true, marketing: true });
    await post('/v1/identify', { userId: u, traits: twentyTraits(u) });
    return u;
  };

  it('the same profile read for personalization, marketing and analytics returns different fields with the right reasons', async () => {
    const u = await customer();
    const expected: [string, string[]][] = [['personalization', PERSONALIZATION], ['marketing', MARKETING], ['analytics', ANALYTICS]];
    const subjects = new Set<string>();
    for (const [purpose, fields] of expected) {
      const p = await read(`userId:${u}`, purpose);
      subjects.add(p.subjectId);
      assert.deepEqual(Object.keys(p.traits).sort(), fields, purpose);
      // Everything else is outside the purpose's categories: counted, not named (test/read-disclosure.test.ts).
      assert.deepEqual(p.withheld, [], purpose);
      assert.equal(p.withheldOutsidePurpose, ALL.length - fields.length, purpose);
      assert.deepEqual(Object.keys(p.consents), [purpose], 'only the choice about the purpose read');
      assert.equal(p.consents[purpose]?.status, 'granted');
      assert.equal(p.consents[purpose]?.noticeVersion, '2026-11');
    }
    assert.equal(subjects.size, 1);
    const p = await read(`userId:${u}`, 'personalization');
    assert.equal(p.traits.favoriteCategory, 'shoes');
    assert.deepEqual(p.traits.interests, ['running']);
    assert.equal(p.traits.email, undefined);
    // campaign engagement is covered only by marketing
    assert.equal((await read(`userId:${u}`, 'marketing')).traits.lastCampaign, 'nov-sale');
  });

  it('after POST /v1/consent withdraws personalization, the next personalization read drops those traits', async () => {
    const u = await customer();
    // Three product views: the shipped `engaged_browsers` segment and the `last_viewed_category` computed trait (personalization).
    const view = (category: string) => ({ type: 'track', userId: u, event: 'Product Viewed', properties: { product_id: 'p', category } });
    await post('/v1/batch', { batch: [view('bags'), view('shoes'), view('shoes')] });
    const before = await read(`userId:${u}`, 'personalization');
    assert.equal(Object.keys(before.traits).length, PERSONALIZATION.length);
    assert.deepEqual(before.segments, ['engaged_browsers']);
    assert.equal(before.computed.top_viewed_category, 'shoes');
    assert.deepEqual((await read(`userId:${u}`, 'marketing')).computed, {}, 'computed traits belong to their purpose');
    await tick();
    const r = await consent(u, { personalization: false });
    assert.equal((r.json() as { consents: Record<string, string> }).consents.personalization, 'withdrawn');
    const p = await read(`userId:${u}`, 'personalization');
    assert.deepEqual(p.traits, {});
    assert.deepEqual(p.segments, [], 'the subject leaves personalization segments');
    assert.deepEqual(p.computed, {});
    const reasons = withheldOf(p);
    for (const n of PERSONALIZATION) assert.equal(reasons[n], 'consent_withdrawn', n);
    for (const n of minus(ALL, PERSONALIZATION)) assert.equal(reasons[n], undefined, `${n} is not personalization's: not named`);
    assert.equal(p.withheldOutsidePurpose, ALL.length - PERSONALIZATION.length);
    assert.equal(p.consents.personalization?.status, 'withdrawn');
    // Other purposes are untouched.
    assert.deepEqual(Object.keys((await read(`userId:${u}`, 'marketing')).traits).sort(), MARKETING);
  });

  it('a purpose never consented to withholds with no_consent; a denial with consent_denied', async () => {
    const u = uniq('u');
    await consent(u, { marketing: false });
    await post('/v1/identify', { userId: u, traits: { email: `${u}@example.com`, firstName: 'Bo' } });
    const m = await read(`userId:${u}`, 'marketing');
    assert.deepEqual(m.traits, {});
    assert.deepEqual(withheldOf(m), { email: 'consent_denied', firstName: 'consent_denied' });
    const p = await read(`userId:${u}`, 'personalization');
    assert.deepEqual(withheldOf(p), { firstName: 'no_consent' });
    assert.equal(p.withheldOutsidePurpose, 1, 'the email is counted, not named');
    // service rests on the contract: no consent needed
    assert.deepEqual((await read(`userId:${u}`, 'service')).traits, { email: `${u}@example.com`, firstName: 'Bo' });
  });

  it('identity forms userId:, anonymousId: and email: find the same profile; unknown identities are 404, malformed ones 400', async () => {
    const u = uniq('u');
    const a = uniq('anon');
    await consent(u, { personalization: true });
    await post('/v1/identify', { userId: u, anonymousId: a, traits: { email: `${u}@Example.com`, firstName: 'Cy' } });
    const ids = new Set<string>();
    for (const identity of [`userId:${u}`, `anonymousId:${a}`, `email:${u}@example.com`, `email:  ${u.toUpperCase()}@EXAMPLE.COM `]) {
      ids.add((await read(identity, 'service')).subjectId);
    }
    assert.equal(ids.size, 1);
    const before = await auditCount('profile.read');
    const missing = await get(`/api/v1/profiles/userId:${uniq('nobody')}?purpose=personalization`);
    assert.equal(missing.statusCode, 404);
    assert.equal((missing.json() as { error: { code: string } }).error.code, 'FIDUCIA_NOT_FOUND');
    assert.equal(await auditCount('profile.read'), before + 1, 'the failed lookup is on record too');
    const bad = await get('/api/v1/profiles/shoeSize:42?purpose=personalization');
    assert.equal(bad.statusCode, 400);
    const unknownPurpose = await get(`/api/v1/profiles/userId:${u}?purpose=telepathy`);
    assert.equal(unknownPurpose.statusCode, 400);
    assert.equal((unknownPurpose.json() as { error: { code: string } }).error.code, 'FIDUCIA_UNKNOWN_PURPOSE');
    assert.equal((await get(`/api/v1/profiles/userId:${u}`)).statusCode, 400, 'purpose is required');
  });

  it('callers: 401 without or with a wrong token; analysts 403; a service token acts only for its purposes; dpo for any', async () => {
    const u = await customer();
    const url = (p: string) => `/api/v1/profiles/userId:${u}?purpose=${p}`;
    await f.authFailures.flush();
    const failed = await auditCount('auth.failed');
    const none = await get(url('personalization'), '');
    assert.equal(none.statusCode, 401);
    assert.equal((none.json() as { error: { code: string } }).error.code, 'FIDUCIA_UNAUTHORIZED');
    assert.equal((await get(url('personalization'), 'ft_not-a-real-token-at-all')).statusCode, 401);
    assert.equal((await get(`/api/v1/profiles/userId:${u}`, '')).statusCode, 401, '401 comes before query validation');
    // One summary per window and network (test/auth-failures.test.ts), written when the window closes.
    await f.authFailures.flush();
    assert.equal(await auditCount('auth.failed'), failed + 1);

    const denied = await auditCount('authz.denied');
    const analyst = await token('analyst');
    const a = await get(url('analytics'), analyst);
    assert.equal(a.statusCode, 403);
    assert.equal((a.json() as { error: { code: string } }).error.code, 'FIDUCIA_FORBIDDEN');

    const svc = await token('service', ['analytics']);
    const s = await get(url('personalization'), svc);
    assert.equal(s.statusCode, 403);
    const err = (s.json() as { error: { code: string; details: { reason: string } } }).error;
    assert.equal(err.code, 'FIDUCIA_PURPOSE_NOT_ALLOWED');
    assert.equal(err.details.reason, 'caller_not_allowed');
    assert.equal(await auditCount('authz.denied'), denied + 2);
    // The refusal does not reveal whether the identity exists: unknown people get the same 403.
    assert.equal((await get(`/api/v1/profiles/userId:${uniq('nobody')}?purpose=personalization`, svc)).statusCode, 403);
    assert.deepEqual(Object.keys((await read(`userId:${u}`, 'analytics', svc)).traits).sort(), ANALYTICS);

    const dpo = await token('dpo');
    for (const p of ['personalization', 'marketing', 'analytics', 'service']) await read(`userId:${u}`, p, dpo);
    const { entries } = await f.audit.query({ action: 'profile.read', limit: 4 });
    assert.deepEqual(entries.map((e) => e.details.role), ['dpo', 'dpo', 'dpo', 'dpo'], 'dpo reads are audited as such');
    assert.deepEqual(entries.map((e) => e.purpose).reverse(), ['personalization', 'marketing', 'analytics', 'service']);
  });

  it('every profile read leaves exactly one audit entry naming purpose, subject, returned and withheld fields', async () => {
    const u = await customer();
    for (const purpose of ['personalization', 'marketing', 'analytics']) {
      const before = (await f.audit.head()).size;
      const p = await read(`userId:${u}`, purpose);
      assert.equal((await f.audit.head()).size, before + 1, `one entry for the ${purpose} read`);
      const e = (await f.audit.query({ limit: 1 })).entries[0]!;
      assert.equal(e.index, before);
      assert.equal(e.action, 'profile.read');
      assert.equal(e.purpose, purpose);
      assert.equal(e.subjectId, p.subjectId);
      assert.equal(e.outcome, 'ok');
      assert.deepEqual([...e.fields].sort(), [...Object.keys(p.traits), ...Object.keys(p.computed).map((k) => `computed:${k}`)].sort());
      // The audit log names every field not returned (names, never values); the answer only those of the purpose.
      assert.deepEqual(JSON.parse(String(e.details.withheld)), Object.fromEntries(minus(ALL, Object.keys(p.traits)).map((n) => [n, 'category_not_in_purpose'])));
      assert.deepEqual(p.withheld, []);
      // names only, never values
      const text = JSON.stringify(e);
      assert.ok(!text.includes('Lovelace') && !text.includes('@example.com') && !text.includes('shoes'));
    }
  });

  it('restriction, objection and erasure markers withhold everything with their own reason', async () => {
    const u = await customer();
    const { subjectId } = await read(`userId:${u}`, 'service');
    const repo = new ProfileRepo(f.dbs.data);

    await new ObjectionRepo(f.dbs.data).object(subjectId, 'marketing', Date.now());
    const m = await read(`userId:${u}`, 'marketing');
    assert.deepEqual(m.traits, {});
    for (const n of MARKETING) assert.equal(withheldOf(m)[n], 'objection');
    assert.equal(Object.keys((await read(`userId:${u}`, 'personalization')).traits).length, PERSONALIZATION.length, 'an objection is per purpose');
    await new ObjectionRepo(f.dbs.data).lift(subjectId, 'marketing', Date.now());
    assert.deepEqual(Object.keys((await read(`userId:${u}`, 'marketing')).traits).sort(), MARKETING);

    await repo.restrict(subjectId, Date.now());
    for (const purpose of ['service', 'personalization']) {
      const p = await read(`userId:${u}`, purpose);
      assert.deepEqual(p.traits, {});
      assert.deepEqual(new Set(p.withheld.map((w) => w.reason)), new Set(['restricted']));
      assert.equal(p.withheld.length + p.withheldOutsidePurpose, ALL.length, 'every field named or counted');
    }
    await repo.liftRestriction(subjectId);
    await repo.markErased([subjectId], Date.now());
    const e = await read(`userId:${u}`, 'service');
    assert.deepEqual(e.traits, {});
    assert.deepEqual(new Set(e.withheld.map((w) => w.reason)), new Set(['erased']));
  });

  it('a read after a trait changes returns the new value, and nothing once the keys are destroyed, though earlier reads were cached', async () => {
    const u = await customer();
    const first = await read(`userId:${u}`, 'personalization');
    assert.equal(first.traits.firstName, 'Ada');
    assert.deepEqual((await read(`userId:${u}`, 'personalization')).traits, first.traits, 'the same answer twice');
    await tick();
    await post('/v1/identify', { userId: u, traits: { firstName: 'Grace', interests: ['chess', 'running'] } });
    const second = await read(`userId:${u}`, 'personalization');
    assert.equal(second.traits.firstName, 'Grace', 'the new value, not the one decrypted before');
    assert.deepEqual(second.traits.interests, ['chess', 'running']);
    assert.equal(second.traits.lastName, 'Lovelace', 'untouched traits unchanged');
    // Crypto-shredding alone (no erased marker yet): fields whose key is gone are withheld, none served from memory.
    await f.ring.destroy(first.subjectId);
    const third = await read(`userId:${u}`, 'personalization');
    assert.deepEqual(third.traits, {}, 'nothing decrypted before is returned');
    assert.equal(withheldOf(third).firstName, 'erased');
  });

  it('an objection follows the person when two profiles merge', async () => {
    const u = uniq('u');
    const a = uniq('anon');
    await post('/v1/consent', { anonymousId: a, purposes: { analytics: true }, noticeVersion: '2026-11' });
    await post('/v1/page', { anonymousId: a, name: 'Home', context: { ip: '203.0.113.7' } });
    const anonSubject = (await read(`anonymousId:${a}`, 'security')).subjectId;
    await new ObjectionRepo(f.dbs.data).object(anonSubject, 'security', Date.now());
    await post('/v1/identify', { userId: u, traits: { firstName: 'Di' } });
    await post('/v1/alias', { userId: u, previousId: a });
    const merged = await read(`userId:${u}`, 'security');
    assert.equal((await read(`anonymousId:${a}`, 'security')).subjectId, merged.subjectId, 'one person now');
    const st = await new SubjectStateRepo(f.dbs.data).stateOf(merged.subjectId);
    assert.deepEqual(st?.objections, ['security']);
  });

  it('a lookup that lands on a merged subject follows it to the survivor and reads the survivor', async () => {
    const u = await customer();
    const a = uniq('anon');
    await post('/v1/consent', { anonymousId: a, purposes: { personalization: true }, noticeVersion: '2026-11' });
    await post('/v1/page', { anonymousId: a, name: 'Home' });
    const anonSubject = (await read(`anonymousId:${a}`, 'personalization')).subjectId;
    await post('/v1/alias', { userId: u, previousId: a });
    const survivor = (await read(`userId:${u}`, 'personalization')).subjectId;
    const loser = [anonSubject, survivor].find((id) => id !== survivor);
    assert.ok(loser, 'the two profiles were merged into one');
    const row = await f.dbs.data.selectFrom('subjects').select('merged_into').where('id', '=', loser).executeTakeFirstOrThrow();
    assert.equal(row.merged_into, survivor);
    // As a lookup made just before the merge moved the identities would see it: the identity still on the merged subject.
    await f.dbs.data.updateTable('identities').set({ subject_id: loser }).where('kind', '=', 'anonymousId').where('subject_id', '=', survivor).execute();
    const p = await read(`anonymousId:${a}`, 'personalization');
    assert.equal(p.subjectId, survivor, 'the survivor is read');
    assert.deepEqual(Object.keys(p.traits).sort(), PERSONALIZATION, "the survivor's traits");
  });

  it('events: paged by cursor, filtered per event category and per field', async () => {
    const u = uniq('u');
    await consent(u, { analytics: true, marketing: true });
    await post('/v1/batch', {
      batch: [
        { type: 'track', userId: u, event: 'Product Viewed', properties: { product_id: 'p1', price: 10 }, context: { ip: '203.0.113.9', library: { name: 'analytics.js' }, device: { id: 'dev-1', model: 'Pixel' } } },
        { type: 'track', userId: u, event: 'Email Opened', properties: { campaign_id: 'c1', email_subject: 'Sale' } },
        { type: 'track', userId: u, event: 'Order Completed', properties: { order_id: 'o1', total: 99 } },
      ],
    });
    const page = async (purpose: string, q = '') => {
      const r = await get(`/api/v1/profiles/userId:${u}/events?purpose=${purpose}${q}`);
      assert.equal(r.statusCode, 200, r.body);
      return r.json() as EventsPage;
    };
    const analytics = await page('analytics');
    assert.deepEqual(analytics.events.map((e) => e.event), ['Product Viewed', 'Order Completed']);
    assert.deepEqual(analytics.withheld, [], 'Email Opened is marketing only: not listed...');
    assert.equal(analytics.withheldOutsidePurpose, 1, '...but counted');
    const viewed = analytics.events[0]!;
    assert.deepEqual(viewed.properties, { product_id: 'p1', price: 10 });
    // The IP (security only) is withheld; device.id is analytics; system.technical fields are not personal.
    assert.deepEqual(viewed.context, { library: { name: 'analytics.js' }, device: { id: 'dev-1', model: 'Pixel' } });
    assert.deepEqual(viewed.withheld, []);
    assert.equal(viewed.withheldOutsidePurpose, 1, 'the IP is counted, not named');

    const marketing = await page('marketing');
    assert.deepEqual(marketing.events.map((e) => e.event), ['Email Opened', 'Order Completed']);
    assert.equal(marketing.events[0]!.properties.email_subject, 'Sale');

    const p1 = await page('analytics', '&limit=2');
    assert.equal(p1.events.length + p1.withheld.length + p1.withheldOutsidePurpose, 2);
    assert.ok(p1.nextCursor);
    const p2 = await page('analytics', `&limit=2&cursor=${p1.nextCursor}`);
    assert.deepEqual([...p1.events, ...p2.events].map((e) => e.event), ['Product Viewed', 'Order Completed']);
    assert.equal(p2.nextCursor, null);
    assert.equal((await get(`/api/v1/profiles/userId:${u}/events?purpose=analytics&limit=0`)).statusCode, 400);

    // Withdrawing analytics withholds every event.
    await tick();
    await consent(u, { analytics: false });
    const after = await page('analytics');
    assert.deepEqual(after.events, []);
    assert.deepEqual(new Set(after.withheld.map((w) => w.reason)), new Set(['consent_withdrawn']));
    assert.equal(after.withheldOutsidePurpose, 1);

    const last = (await f.audit.query({ action: 'profile.events', limit: 1 })).entries[0]!;
    assert.equal(last.purpose, 'analytics');
    assert.deepEqual(last.fields, []);
    assert.equal(last.counts.withheldEvents, 3);
  });
});

// Special categories: a configuration with a consent-based purpose covering health data.
await eachDialect('profile reads of special categories', (dialect) => {
  let f: F;
  let dir: string;
  before(async () => {
    const cfg = writeHealthConfig();
    dir = cfg.dir;
    f = await startFiducia(dialect, { configPath: cfg.path });
  });
  after(async () => {
    await f.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = async (url: string, payload: object) => {
    const r = await f.app.inject({ method: 'POST', url, headers: { authorization: basicAuth() }, payload });
    assert.equal(r.statusCode, 200, r.body);
    return r;
  };
  const read = async (u: string): Promise<Profile> => {
    const r = await f.app.inject({ method: 'GET', url: `/api/v1/profiles/userId:${u}?purpose=wellness`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(r.statusCode, 200, r.body);
    return r.json() as Profile;
  };

  describe('explicit consent', () => {
    it('a health trait needs explicit consent, to be collected and to be read; lifestyle needs ordinary consent', async () => {
      const u = uniq('u');
      await post('/v1/consent', { userId: u, purposes: { wellness: true }, noticeVersion: '2026-11' });
      await post('/v1/identify', { userId: u, traits: { healthGoal: 'sleep better', lifestyle: 'sporty' } });
      const plain = await read(u);
      // Collection already refused the health trait: ordinary consent does not cover Art. 9 data.
      assert.deepEqual(plain.traits, { lifestyle: 'sporty' });
      assert.deepEqual(plain.withheld, []);
      assert.equal(plain.consents.wellness?.explicit, false);
      assert.equal((await f.dbs.data.selectFrom('traits').select('name').where('name', '=', 'healthGoal').execute()).length, 0);

      await tick();
      await post('/v1/consent', { userId: u, purposes: { wellness: true }, noticeVersion: '2026-11', explicit: true });
      const row = await f.dbs.data.selectFrom('consents').select(['explicit', 'status']).where('purpose', '=', 'wellness').orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow();
      assert.equal(Number(row.explicit), 1);
      await post('/v1/identify', { userId: u, traits: { healthGoal: 'sleep better' } });
      const explicit = await read(u);
      assert.deepEqual(explicit.traits, { healthGoal: 'sleep better', lifestyle: 'sporty' });
      assert.deepEqual(explicit.withheld, []);
      assert.equal(explicit.consents.wellness?.explicit, true);

      // A later grant that is not explicit replaces the explicit one: the stored health trait is withheld.
      await tick();
      await post('/v1/consent', { userId: u, purposes: { wellness: true }, noticeVersion: '2026-11' });
      const downgraded = await read(u);
      assert.deepEqual(downgraded.traits, { lifestyle: 'sporty' });
      assert.deepEqual(downgraded.withheld, [{ field: 'healthGoal', reason: 'special_category_needs_explicit_consent' }]);

      // Saying no later withdraws both.
      await tick();
      await post('/v1/consent', { userId: u, purposes: { wellness: false }, noticeVersion: '2026-11', explicit: true });
      assert.deepEqual((await read(u)).withheld.map((w) => w.reason), ['consent_withdrawn', 'consent_withdrawn']);
    });
  });
});

// The documented example (docs/personalization.md) against a listening Fiducia: it must keep working.
await eachDialect('personalization example', (dialect) => {
  let f: F;
  let url: string;
  before(async () => {
    f = await startFiducia(dialect);
    url = await f.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => f.stop());

  it('examples/personalize.mjs --demo adapts the page, and falls back once consent is withdrawn', async () => {
    const child = spawn(process.execPath, [new URL('../examples/personalize.mjs', import.meta.url).pathname, '--demo'], {
      env: { ...process.env, FIDUCIA_URL: url, FIDUCIA_ADMIN_TOKEN: ADMIN_TOKEN, FIDUCIA_WRITE_KEY: WRITE_KEY },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    assert.equal(code, 0, err);
    const [unknown, personalized, withdrawn] = out.split('\n--- ').slice(1);
    assert.match(unknown!, /<h1>Welcome!<\/h1>/);
    assert.match(personalized!, /Welcome back, Giulia!/);
    assert.match(personalized!, /Featured: shoes/, 'the most viewed category (a computed trait) wins over the stated favourite');
    // The email is not personalization's: counted, not named.
    assert.match(personalized!, /withheld: none; outside the purpose: 1/);
    assert.doesNotMatch(personalized!, /Subscribe to our newsletter/);
    assert.match(withdrawn!, /<h1>Welcome!<\/h1>/);
    assert.match(withdrawn!, /firstName \(consent_withdrawn\)/);
  });
});
