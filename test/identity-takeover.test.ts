// The identity-takeover attack through a public (browser) write key, step by step: it must yield nothing of the
// victim's. The same steps through a server key, whose holder may assert identities, behave as documented.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { userHash } from '../src/crypto/user-hash.ts';
import { basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';
import { CaptureMailer, seedSubject, staff, subjectOf, type Running, type Seeded } from './helpers/rights.ts';

const MALLORY = 'mallory@attacker.test';
let ipCounter = 0;
const nextIp = () => `203.0.113.${++ipCounter}`;

await eachDialect('identity takeover through a write key', (dialect) => {
  let f: Running;
  let mail: CaptureMailer;
  let victim: Seeded;
  let browser: string;
  let secret: string;
  before(async () => {
    mail = new CaptureMailer();
    f = await startFiducia(dialect, { mailer: mail, rightsSweepMs: 0 });
    const generated = f.bootstrap.generated;
    assert.ok(generated.browserWriteKey && generated.verificationSecret, 'the first start creates a browser source');
    browser = basicAuth(generated.browserWriteKey);
    secret = generated.verificationSecret;
    victim = await seedSubject(f, 'cust-1001', 4);
  });
  after(async () => f.stop());
  beforeEach(async () => {
    await f.dbs.data.deleteFrom('rate_limit_windows').execute();
  });

  const send = (auth: string, path: string, payload: Record<string, unknown>) =>
    f.app.inject({ method: 'POST', url: `/v1/${path}`, headers: { authorization: auth, origin: 'https://evil.example' }, payload });
  const identities = async (subjectId: string) =>
    (await f.dbs.data.selectFrom('identities').select(['kind', 'blind_index', 'asserted']).where('subject_id', '=', subjectId).execute()).map((r) => `${r.kind}:${Buffer.from(r.blind_index).toString('hex')}:${r.asserted}`).sort();
  const holderOf = async (kind: string, value: string) =>
    (await f.dbs.data.selectFrom('identities').select('subject_id').where('kind', '=', kind).where('blind_index', '=', f.ring.blindIndex.index(kind, value)).executeTakeFirst())?.subject_id;
  const profile = async (identity: string, purpose: string) => {
    const r = await f.app.inject({ method: 'GET', url: `/api/v1/profiles/${encodeURIComponent(identity)}?purpose=${purpose}`, headers: staff });
    return r;
  };
  /** Runs a self-service request for `email` to its end, confirmed from that mailbox; returns the download body, if any. */
  const selfService = async (auth: string, email: string, type: string): Promise<{ status: string; download: string | null }> => {
    const ip = nextIp();
    const asked = await f.app.inject({ method: 'POST', url: '/v1/rights-requests', headers: { authorization: auth }, payload: { email, type, language: 'en' }, remoteAddress: ip });
    assert.equal(asked.statusCode, 202, asked.body);
    const id = asked.json<{ id: string }>().id;
    const confirmed = await f.app.inject({ method: 'POST', url: `/v1/rights-requests/${id}/verify`, headers: { authorization: auth }, payload: { code: mail.codeFor(email) }, remoteAddress: ip });
    assert.equal(confirmed.statusCode, 200, confirmed.body);
    const link = mail.linkFor(email);
    if (!link || type !== 'access') return { status: confirmed.json<{ status: string }>().status, download: null };
    // The emailed link opens the readable page; the package itself is read as the JSON file behind the same token.
    const url = new URL(link);
    url.searchParams.set('format', 'json');
    const got = await f.app.inject({ method: 'GET', url: `${url.pathname}${url.search}`, remoteAddress: ip });
    assert.equal(got.statusCode, 200, got.body);
    return { status: confirmed.json<{ status: string }>().status, download: got.body };
  };
  const victimValues = () => [victim.userId, victim.email, String(victim.traits.firstName), String(victim.traits.lastName), String(victim.traits.favoriteCategory)];
  const assertNothingOfVictim = (body: string, what: string) => {
    for (const v of victimValues()) assert.ok(!body.includes(v), `${what} holds none of the victim's values (found ${v.length} characters of one)`);
  };

  describe('from a browser key', () => {
    it('an identify claiming the victim\'s userId lands on the attacker\'s own anonymous visitor, not the victim', async () => {
      const victimSubject = await subjectOf(f, victim.userId);
      const before = await identities(victimSubject);
      const r = await send(browser, 'identify', { userId: victim.userId, anonymousId: 'mallory-anon', traits: { email: MALLORY, firstName: 'Mallory' }, timestamp: '2001-01-01T00:00:00Z' });
      assert.equal(r.statusCode, 200, r.body);
      assert.deepEqual(await identities(victimSubject), before, 'the victim\'s identities are unchanged');
      assert.equal(await holderOf('email', MALLORY), undefined, 'an email from a browser is never an identity');
      const mallory = await holderOf('anonymousId', 'mallory-anon');
      assert.ok(mallory && mallory !== victimSubject, 'the message landed on the attacker\'s own visitor');
      const metrics = await f.app.inject({ method: 'GET', url: '/metrics' });
      assert.match(metrics.body, /fiducia_dropped_fields_total\{kind="identity",reason="unverified_identity"\} [1-9]/);
    });

    it('a forged or borrowed userHash is refused the same way', async () => {
      const victimSubject = await subjectOf(f, victim.userId);
      const before = await identities(victimSubject);
      for (const hash of ['0'.repeat(64), userHash(secret, 'mallory-1'), userHash('not-the-secret', victim.userId), 'zz']) {
        const r = await send(browser, 'identify', { userId: victim.userId, anonymousId: 'mallory-anon', traits: { firstName: 'Mallory' }, context: { fiducia: { userHash: hash } } });
        assert.equal(r.statusCode, 200, r.body);
      }
      assert.deepEqual(await identities(victimSubject), before, 'no hash but the victim\'s own proves the victim\'s userId');
    });

    it('knowing only the victim\'s email merges nothing', async () => {
      const victimSubject = await subjectOf(f, victim.userId);
      const before = await identities(victimSubject);
      const r = await send(browser, 'identify', { anonymousId: 'x', traits: { email: victim.email, firstName: 'Mallory' } });
      assert.equal(r.statusCode, 200, r.body);
      assert.deepEqual(await identities(victimSubject), before);
      const x = await holderOf('anonymousId', 'x');
      assert.ok(x && x !== victimSubject, 'the visitor x stays its own subject');
      const alias = await send(browser, 'alias', { userId: victim.userId, previousId: 'x', anonymousId: 'x' });
      assert.equal(alias.statusCode, 200, alias.body);
      assert.deepEqual(await identities(victimSubject), before, 'an alias to the victim\'s userId is not proven either');
    });

    it('the attacker\'s own reads show nothing of the victim\'s', async () => {
      for (const anon of ['x', 'mallory-anon']) {
        const r = await profile(`anonymousId:${anon}`, 'personalization');
        assert.equal(r.statusCode, 200, r.body);
        assertNothingOfVictim(r.body, `the personalization read of ${anon}`);
      }
    });

    it('a self-service access request for the attacker\'s address, confirmed from the attacker\'s mailbox, returns nothing of the victim\'s', async () => {
      const out = await selfService(browser, MALLORY, 'access');
      assert.equal(out.status, 'completed');
      assert.ok(out.download !== null, 'the attacker gets a package');
      assertNothingOfVictim(out.download, 'the package');
      const pkg = JSON.parse(out.download) as { subject: { id: string | null } };
      assert.equal(pkg.subject.id, null, 'no subject matched');
    });

    it('the victim cannot be erased or restricted through it', async () => {
      const victimSubject = await subjectOf(f, victim.userId);
      for (const type of ['erasure', 'restriction']) {
        // Through the attacker's address, and through the victim's address (whose code only the victim receives).
        assert.equal((await selfService(browser, MALLORY, type)).status, 'completed');
        const asked = await f.app.inject({ method: 'POST', url: '/v1/rights-requests', headers: { authorization: browser }, payload: { email: victim.email, type, language: 'en' }, remoteAddress: nextIp() });
        assert.equal(asked.statusCode, 202);
      }
      const state = await f.dbs.data.selectFrom('subjects').select(['erased_at', 'restricted_at', 'merged_into']).where('id', '=', victimSubject).executeTakeFirstOrThrow();
      assert.deepEqual(state, { erased_at: null, restricted_at: null, merged_into: null }, 'the victim is neither erased nor restricted');
      const read = await profile(`userId:${victim.userId}`, 'personalization');
      assert.equal(read.json<{ traits: Record<string, unknown> }>().traits.firstName, victim.traits.firstName, 'the victim\'s profile still reads');
    });

    it('consent cannot be recorded for the victim, explicit or not', async () => {
      const victimSubject = await subjectOf(f, victim.userId);
      const ledger = async () => (await f.dbs.data.selectFrom('consents').select(['id']).where('subject_id', '=', victimSubject).execute()).length;
      const before = await ledger();
      const notice = f.cfg.config.notice.current;
      const alone = await send(browser, 'consent', { userId: victim.userId, purposes: { marketing: false }, explicit: true, noticeVersion: notice });
      assert.equal(alone.statusCode, 403, alone.body);
      assert.equal(alone.json<{ error: { code: string } }>().error.code, 'FIDUCIA_IDENTITY_NOT_VERIFIED');
      const forged = await send(browser, 'consent', { userId: victim.userId, userHash: '0'.repeat(64), purposes: { marketing: false }, explicit: true, noticeVersion: notice });
      assert.equal(forged.statusCode, 403, forged.body);
      const withAnon = await send(browser, 'consent', { userId: victim.userId, anonymousId: 'mallory-anon', purposes: { marketing: false }, explicit: true, noticeVersion: notice });
      assert.equal(withAnon.statusCode, 200, withAnon.body);
      const viaEvent = await send(browser, 'track', { userId: victim.userId, anonymousId: 'mallory-anon', event: 'Product Viewed', context: { consent: { categoryPreferences: { marketing: false } } } });
      assert.equal(viaEvent.statusCode, 200, viaEvent.body);
      assert.equal(await ledger(), before, 'the victim\'s ledger is unchanged');
      const read = await profile(`userId:${victim.userId}`, 'marketing');
      assert.equal(read.json<{ consents: Record<string, { status: string }> }>().consents.marketing?.status, 'granted', 'the victim\'s own choice stands');
    });

    it('a userId the shop\'s server signed is asserted as verified_hash and reaches its own profile', async () => {
      const r = await send(browser, 'identify', { userId: 'mallory-1', anonymousId: 'mallory-anon-2', traits: { firstName: 'Mallory' }, context: { fiducia: { userHash: userHash(secret, 'mallory-1') } } });
      assert.equal(r.statusCode, 200, r.body);
      const subject = await holderOf('userId', 'mallory-1');
      assert.ok(subject, 'the verified userId is linked');
      const kinds = (await f.dbs.data.selectFrom('identities').select(['kind', 'asserted']).where('subject_id', '=', subject).orderBy('kind').execute()).map((i) => `${i.kind}:${i.asserted}`);
      assert.deepEqual(kinds, ['anonymousId:anonymous', 'userId:verified_hash']);
      const consent = await send(browser, 'consent', { userId: 'mallory-1', userHash: userHash(secret, 'mallory-1'), purposes: { marketing: true }, noticeVersion: f.cfg.config.notice.current });
      assert.equal(consent.statusCode, 200, consent.body);
    });
  });

  describe('from a server key (secret: its holder may assert identities)', () => {
    it('asserts the userId and the email it sends, so a self-service request for that email matches that person', async () => {
      const server = basicAuth();
      const victimSubject = await subjectOf(f, victim.userId);
      const r = await send(server, 'identify', { userId: victim.userId, traits: { email: 'second@example.com' }, timestamp: '2001-01-01T00:00:00Z' });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(await holderOf('email', 'second@example.com'), victimSubject, 'a server source links the email it asserts');
      const out = await selfService(basicAuth(f.bootstrap.generated.browserWriteKey), 'second@example.com', 'access');
      assert.ok(out.download?.includes(victim.userId), 'the package of the person the server vouched for');
      const pkg = JSON.parse(out.download ?? '{}') as { identities: { kind: string; asserted: string }[] };
      assert.ok(pkg.identities.some((i) => i.kind === 'email' && i.asserted === 'server'), 'the package shows how each identity was asserted');
    });
  });
});
