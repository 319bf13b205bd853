// What a purpose-bound read discloses beyond its purpose (finding 8), and whether subjects sent through a public
// (browser) key can unmask a small analyst count (finding 7). Both must answer: nothing, and no.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { userHash } from '../src/crypto/user-hash.ts';
import { ANALYST_MINIMUM_COUNT } from '../src/domain/aggregate-disclosure.ts';
import { SegmentRepo } from '../src/store/segment-repo.ts';
import { writeHealthConfig } from './helpers/health-config.ts';
import { ADMIN_TOKEN, basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';

type F = Awaited<ReturnType<typeof startFiducia>>;
type Profile = {
  traits: Record<string, unknown>;
  withheld: { field: string; reason: string }[];
  withheldOutsidePurpose: number;
  consents: Record<string, { status: string }>;
};

const uniq = (p: string): string => `${p}-${randomBytes(5).toString('hex')}`;
const NOTICE = '2026-11';

await eachDialect('read disclosure', (dialect) => {
  let f: F;
  let dir: string;
  let browser: string;
  let secret: string;
  const tokens: Record<string, string> = {};

  before(async () => {
    // A special-category trait must actually be stored for this test, which the shipped purposes would not allow.
    const cfg = writeHealthConfig();
    dir = cfg.dir;
    f = await startFiducia(dialect, { configPath: cfg.path });
    const generated = f.bootstrap.generated;
    assert.ok(generated.browserWriteKey && generated.verificationSecret, 'the first start creates a browser source');
    browser = basicAuth(generated.browserWriteKey);
    secret = generated.verificationSecret;
    for (const [name, role, purposes] of [['analytics', 'service', ['analytics']], ['analyst', 'analyst', undefined]] as const) {
      const r = await f.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { name, role, ...(purposes ? { purposes } : {}) } });
      assert.equal(r.statusCode, 201, r.body);
      tokens[name] = r.json<{ token: string }>().token;
    }
  });
  after(async () => {
    await f.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const send = async (auth: string, path: string, payload: Record<string, unknown>) => {
    const r = await f.app.inject({ method: 'POST', url: `/v1/${path}`, headers: { authorization: auth }, payload });
    assert.equal(r.statusCode, 200, r.body);
  };
  const get = (url: string, token: string) => f.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });

  describe('a read for a purpose tells nothing of other purposes', () => {
    const NEVER_ANALYTICS = ['address', 'phone', 'email', 'favoriteCategory', 'lastCampaign', 'healthGoal', 'marketing', 'personalization', 'wellness'];
    let userId: string;

    before(async () => {
      userId = uniq('u');
      const server = basicAuth();
      await send(server, 'consent', { userId, purposes: { analytics: true, marketing: true, personalization: true }, noticeVersion: NOTICE });
      await send(server, 'consent', { userId, purposes: { wellness: true }, noticeVersion: NOTICE, explicit: true });
      await send(server, 'identify', {
        userId,
        traits: { age: 41, email: `${userId}@example.com`, phone: '+39 333 000 1111', address: { city: 'Torino' }, favoriteCategory: 'boots', lastCampaign: 'dec-sale', healthGoal: 'sleep better' },
      });
    });

    const read = async (token: string): Promise<{ body: string; profile: Profile }> => {
      const r = await get(`/api/v1/profiles/${encodeURIComponent(`userId:${userId}`)}?purpose=analytics`, token);
      assert.equal(r.statusCode, 200, r.body);
      return { body: r.body, profile: r.json<Profile>() };
    };

    it('an analytics token sees the analytics consent only, and the other fields as a count, never by name', async () => {
      const { body, profile } = await read(tokens.analytics!);
      assert.deepEqual(profile.traits, { age: 41 });
      assert.deepEqual(Object.keys(profile.consents), ['analytics'], 'no consent state of other purposes');
      assert.equal(profile.consents.analytics?.status, 'granted');
      assert.deepEqual(profile.withheld, [], 'nothing analytics could read is withheld now');
      assert.equal(profile.withheldOutsidePurpose, 6, 'email, phone, address, favoriteCategory, lastCampaign, healthGoal');
      for (const name of NEVER_ANALYTICS) assert.ok(!body.includes(name), `the answer does not name "${name}"`);
    });

    it('the purpose decides, not the role: an admin reading for analytics gets the same answer', async () => {
      const admin = await read(ADMIN_TOKEN);
      const service = await read(tokens.analytics!);
      assert.deepEqual(admin.profile, service.profile);
    });

    it('once analytics consent is withdrawn, only the fields analytics could read are named, with the reason', async () => {
      await send(basicAuth(), 'consent', { userId, purposes: { analytics: false }, noticeVersion: NOTICE });
      const { body, profile } = await read(tokens.analytics!);
      assert.deepEqual(profile.traits, {});
      assert.deepEqual(profile.withheld, [{ field: 'age', reason: 'consent_withdrawn' }]);
      assert.equal(profile.withheldOutsidePurpose, 6);
      assert.deepEqual(Object.keys(profile.consents), ['analytics']);
      for (const name of NEVER_ANALYTICS) assert.ok(!body.includes(name), `the answer does not name "${name}"`);
      // The audit log still names every field not returned (names only), for the controller's own review.
      const entry = (await f.audit.query({ action: 'profile.read', limit: 1 })).entries[0]!;
      const audited = Object.keys(JSON.parse(String(entry.details.withheld)) as Record<string, string>).sort();
      assert.deepEqual(audited, ['address', 'age', 'email', 'favoriteCategory', 'healthGoal', 'lastCampaign', 'phone']);
    });
  });

  describe('fakes sent through a public key cannot unmask a small analyst count', () => {
    const urls = ['/api/v1/segments/newsletter_subscribers/count?purpose=marketing', '/api/v1/segments/newsletter_subscribers/members?purpose=marketing'];
    const analystSees = async (): Promise<Record<string, unknown>[]> =>
      Promise.all(
        urls.map(async (url) => {
          const r = await get(url, tokens.analyst!);
          assert.equal(r.statusCode, 200, r.body);
          return r.json<Record<string, unknown>>();
        }),
      );
    const staffCount = async (): Promise<number> => {
      const r = await get(urls[0]!, ADMIN_TOKEN);
      assert.equal(r.statusCode, 200, r.body);
      return r.json<{ count: number }>().count;
    };
    const suppressed = { id: 'newsletter_subscribers', purpose: 'marketing', count: null, belowMinimum: ANALYST_MINIMUM_COUNT, aggregateOnly: true };
    /** A subscriber with marketing consent, sent by the shop's server (a userId: asserted). */
    const realSubscriber = async () => {
      const userId = uniq('real');
      await send(basicAuth(), 'consent', { userId, purposes: { marketing: true }, noticeVersion: NOTICE });
      await send(basicAuth(), 'identify', { userId, traits: { newsletter: true } });
    };
    /** What anyone holding the page's public key can do: a new anonymous visitor who consents and subscribes. */
    const fakeSubscriber = async () => {
      const anonymousId = uniq('fake');
      await send(browser, 'consent', { anonymousId, purposes: { marketing: true }, noticeVersion: NOTICE });
      await send(browser, 'identify', { anonymousId, traits: { newsletter: true } });
    };

    it('one real subscriber plus any number of fakes stays suppressed; five real ones show the whole count', async () => {
      await realSubscriber();
      assert.equal(await staffCount(), 1);
      for (const body of await analystSees()) assert.deepEqual(body, suppressed, 'one member');

      for (let i = 0; i < ANALYST_MINIMUM_COUNT - 1; i++) await fakeSubscriber();
      assert.equal(await staffCount(), ANALYST_MINIMUM_COUNT, 'the fakes are members (the attack works on membership)');
      for (const body of await analystSees()) assert.deepEqual(body, suppressed, 'one real member and four fakes');
      for (let i = 0; i < 6; i++) await fakeSubscriber();
      assert.equal(await staffCount(), 11);
      for (const body of await analystSees()) assert.deepEqual(body, suppressed, 'one real member and ten fakes');

      // Four more subscribers the shop's server sent: five members nobody could mint, and the total is shown.
      for (let i = 0; i < ANALYST_MINIMUM_COUNT - 1; i++) await realSubscriber();
      for (const body of await analystSees()) assert.deepEqual(body, { id: 'newsletter_subscribers', purpose: 'marketing', count: 15, aggregateOnly: true });
    });

    it('a visitor with a userId the shop signed (userHash) counts as vouched: the documented limit', async () => {
      // A browser can only verify userIds the shop's server signed, i.e. accounts the shop has; each is counted.
      const userId = uniq('signed');
      await send(browser, 'consent', { userId, userHash: userHash(secret, userId), purposes: { marketing: true }, noticeVersion: NOTICE });
      const before = await staffCount();
      await send(browser, 'identify', { userId, traits: { newsletter: true }, context: { fiducia: { userHash: userHash(secret, userId) } } });
      assert.equal(await staffCount(), before + 1);
      const vouchedBySignature = await new SegmentRepo(f.dbs.data).countAssertedMembers('newsletter_subscribers', 'marketing', ['verified_hash'], 100);
      assert.equal(vouchedBySignature, 1, 'the signed visitor counts toward the minimum');
    });
  });
});
