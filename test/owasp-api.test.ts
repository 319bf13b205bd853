// OWASP API Security Top 10 (2023) as tests: API1 object-level and API5 function-level authorization, API2 broken
// authentication, API3 property-level exposure, API4 resource consumption and API8 security misconfiguration.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { LightMyRequestResponse } from 'fastify';
import { userHash } from '../src/crypto/user-hash.ts';
import { SELF_SERVICE_LIMITS } from '../src/domain/rights.ts';
import { MAX_BATCH_BYTES, MAX_MESSAGE_BYTES } from '../src/domain/segment-message.ts';
import { ADMIN_TOKEN, WRITE_KEY, basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';
import { CaptureMailer, seedSubject, staffRequest, subjectOf, type Running, type Seeded } from './helpers/rights.ts';
import { assertCataloguedError, listRoutes } from './helpers/routes.ts';

type Credential = 'none' | 'admin' | 'dpo' | 'analyst' | 'service' | 'browserKey' | 'serverKey' | 'adminSession' | 'analystSession';
/** `…Session`: a console user's session cookie (with its CSRF token), which acts with the user's role wherever a token would. */
const CREDENTIALS: readonly Credential[] = ['none', 'admin', 'dpo', 'analyst', 'service', 'browserKey', 'serverKey', 'adminSession', 'analystSession'];
const SESSION_ROLE: Partial<Record<Credential, Credential>> = { adminSession: 'admin', analystSession: 'analyst' };
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const codeOf = (r: LightMyRequestResponse): string | undefined => {
  try {
    return r.json<{ error?: { code?: string } }>().error?.code;
  } catch {
    return undefined;
  }
};

/**
 * Who may call each route. `tokens:[roles]`: bearer tokens of those roles (others 403, no token or a write key 401);
 * `writeKey`: either write key (no key or a bearer token 401); `public`: anyone; `capability`: a secret in the URL is
 * the credential (no header grants anything). A route missing here, or an entry without a route, fails the test.
 */
type Rule = { kind: 'tokens'; roles: readonly Credential[] } | { kind: 'writeKey' } | { kind: 'public' } | { kind: 'capability' } | { kind: 'session' };
const ADMIN: Rule = { kind: 'tokens', roles: ['admin'] };
const STAFF: Rule = { kind: 'tokens', roles: ['admin', 'dpo'] };
const READERS: Rule = { kind: 'tokens', roles: ['admin', 'dpo', 'service'] };
const ANY_TOKEN: Rule = { kind: 'tokens', roles: ['admin', 'dpo', 'analyst', 'service'] };
/** People at the console: no service token (those are bound to purposes, for machines). */
const STAFF_AND_ANALYSTS: Rule = { kind: 'tokens', roles: ['admin', 'dpo', 'analyst'] };
const WRITE: Rule = { kind: 'writeKey' };
const PUBLIC: Rule = { kind: 'public' };
/** About the console user behind a session: any session; a token 403 (it is no user), no credential 401. */
const SESSION: Rule = { kind: 'session' };

const TABLE: Record<string, Rule> = {
  'POST /v1/identify': WRITE,
  'POST /v1/track': WRITE,
  'POST /v1/page': WRITE,
  'POST /v1/screen': WRITE,
  'POST /v1/group': WRITE,
  'POST /v1/alias': WRITE,
  'POST /v1/batch': WRITE,
  // analytics.js's short paths for the same calls
  'POST /v1/i': WRITE,
  'POST /v1/t': WRITE,
  'POST /v1/p': WRITE,
  'POST /v1/s': WRITE,
  'POST /v1/g': WRITE,
  'POST /v1/a': WRITE,
  'POST /v1/b': WRITE,
  // SDK settings: Segment's names the key in the URL, RudderStack's sends it as HTTP Basic user
  'GET /v1/projects/:writeKey/settings': { kind: 'capability' },
  'GET /sourceConfig': WRITE,
  'GET /sourceConfig/': WRITE,
  'POST /v1/consent': WRITE,
  'GET /v1/consent/config': PUBLIC,
  'GET /v1/consent/receipt/:id': { kind: 'capability' },
  'POST /v1/rights-requests': WRITE,
  'POST /v1/rights-requests/:id/verify': WRITE,
  'GET /v1/rights-requests/:id/download': { kind: 'capability' },
  // A visitor's own profile: minted with the write key and the browser's secret, read with the credential
  'POST /v1/me/credential': WRITE,
  'GET /v1/me/profile': { kind: 'capability' },
  'GET /healthz': PUBLIC,
  'GET /metrics': PUBLIC,
  'GET /api/v1/profiles/:identity': READERS,
  'GET /api/v1/profiles/:identity/events': READERS,
  'POST /api/v1/segments': ADMIN,
  'GET /api/v1/segments': ANY_TOKEN,
  'GET /api/v1/segments/:id': ANY_TOKEN,
  'DELETE /api/v1/segments/:id': ADMIN,
  'GET /api/v1/segments/:id/count': ANY_TOKEN,
  'GET /api/v1/segments/:id/members': ANY_TOKEN,
  'POST /api/v1/sources': ADMIN,
  'GET /api/v1/sources': ADMIN,
  'DELETE /api/v1/sources/:id': ADMIN,
  'POST /api/v1/sources/:id/rotate': ADMIN,
  'GET /api/v1/sources/:id/debugger': STAFF_AND_ANALYSTS,
  'GET /api/v1/overview': STAFF_AND_ANALYSTS,
  'GET /api/v1/audit': STAFF,
  'GET /api/v1/audit/verify': STAFF,
  'GET /api/v1/audit/checkpoint': STAFF,
  'GET /api/v1/audit/key': STAFF,
  'GET /api/v1/audit/proof/inclusion': STAFF,
  'GET /api/v1/audit/proof/consistency': STAFF,
  'GET /api/v1/ropa': STAFF,
  'GET /api/v1/ropa/purposes': PUBLIC,
  'POST /api/v1/rights-requests': STAFF,
  'GET /api/v1/rights-requests': STAFF,
  'GET /api/v1/rights-requests/:id': STAFF,
  'GET /api/v1/rights-requests/:id/export': STAFF,
  'POST /api/v1/rights-requests/:id/extend': STAFF,
  'POST /api/v1/rights-requests/:id/reject': STAFF,
  'POST /api/v1/rights-requests/:id/process': STAFF,
  'POST /api/v1/rights-requests/:id/lift-restriction': STAFF,
  'PUT /api/v1/legal-holds/:identity': STAFF,
  'DELETE /api/v1/legal-holds/:identity': STAFF,
  'POST /api/v1/tokens': ADMIN,
  'GET /api/v1/tokens': ADMIN,
  'DELETE /api/v1/tokens/:id': ADMIN,
  'POST /api/v1/tokens/:id/reinstate': ADMIN,
  'GET /api/v1/tokens/:id/subjects-read': STAFF,
  'GET /api/v1/jobs': ADMIN,
  'GET /api/v1/destinations': STAFF,
  'GET /api/v1/destinations/:id/deliveries': STAFF,
  'POST /api/v1/destinations/:id/replay': ADMIN,
  'POST /api/v1/breaches': STAFF,
  'GET /api/v1/breaches': STAFF,
  'GET /api/v1/breaches/:id': STAFF,
  'PATCH /api/v1/breaches/:id': STAFF,
  'POST /api/v1/breaches/:id/authority-notification': STAFF,
  'POST /api/v1/breaches/:id/status': STAFF,
  'POST /api/v1/breaches/:id/subjects': STAFF,
  'GET /api/v1/breaches/:id/notification': STAFF,
  'GET /api/v1/breaches/:id/subject-notice': STAFF,
  'POST /api/v1/breaches/:id/subject-notice/send': STAFF,
  // Console authentication (docs/console.md): setup and login start a session; the rest use one.
  'POST /api/v1/console/setup': PUBLIC,
  'POST /api/v1/console/login': PUBLIC,
  'POST /api/v1/console/logout': SESSION,
  'GET /api/v1/console/me': SESSION,
  'POST /api/v1/console/password': SESSION,
  'POST /api/v1/console/users': ADMIN,
  'GET /api/v1/console/users': ADMIN,
  'POST /api/v1/console/users/:id/disable': ADMIN,
  'POST /api/v1/console/users/:id/password': ADMIN,
  'POST /api/v1/console/users/:id/reinstate': ADMIN,
  'GET /api/v1/console/users/:id/subjects-read': STAFF,
  'GET /widget.js': PUBLIC,
  'GET /privacy': PUBLIC,
  'GET /transparency': PUBLIC,
  'GET /transparency.json': PUBLIC,
  'GET /privacy.js': PUBLIC,
  'GET /privacy.css': PUBLIC,
  'GET /demo': PUBLIC,
  'GET /demo.js': PUBLIC,
  'GET /demo.css': PUBLIC,
  'GET /demo-ads.js': PUBLIC,
  // The console (web/console/): its page and files are public; everything it shows comes from the API with a session.
  'GET /': PUBLIC,
  'GET /console': PUBLIC,
  'GET /console.js': PUBLIC,
  'GET /console.css': PUBLIC,
  'GET /openapi.json': PUBLIC,
  // The API reference (Swagger UI, src/http/api-docs.ts): its page, its own files and the document it renders.
  'GET /docs': PUBLIC,
  'GET /docs/': PUBLIC,
  'GET /docs/static/index.html': PUBLIC,
  'GET /docs/static/swagger-initializer.js': PUBLIC,
  'GET /docs/*': PUBLIC,
  'GET /docs/json': PUBLIC,
  'GET /docs/yaml': PUBLIC,
};

/** Names of stored secrets, ciphertexts and hashes: none may be a key of any answer. */
const FORBIDDEN_FIELDS = [
  'token_hash',
  'write_key_hash',
  'verification_secret_enc',
  'value_enc',
  'payload_enc',
  'blind_index',
  'package_enc',
  'state_enc',
  'contact_enc',
  'params_enc',
  'code_hash',
  'download_hash',
  'identity_index',
  'ua_hash',
  'wrapped',
  'private_wrapped',
  'tokenHash',
  'writeKeyHash',
  'verificationSecretEnc',
  'valueEnc',
  'payloadEnc',
  'blindIndex',
  'codeHash',
  'downloadHash',
  'dataKey',
];

function* keysOf(v: unknown): Generator<string> {
  if (Array.isArray(v)) for (const x of v) yield* keysOf(x);
  else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      yield k;
      yield* keysOf(x);
    }
  }
}

/** Non-empty answers whose body leaks a stack, a file path or a database's own words. */
function leaksInternals(body: string): string | null {
  const patterns: [string, RegExp][] = [
    ['stack frame', /\n\s+at \S+/],
    ['source path', /(\/work\/|node_modules|\.ts:\d+|file:\/\/)/],
    ['database message', /(SQLITE_|sqlite3|syntax error|relation "|duplicate key|violates|kysely)/i],
  ];
  for (const [name, re] of patterns) if (re.test(body)) return name;
  return null;
}

await eachDialect('OWASP API Top 10', (dialect) => {
  let f: Running;
  let mail: CaptureMailer;
  let ada: Seeded;
  let bob: Seeded;
  const tokens: Record<'dpo' | 'analyst' | 'service' | 'serviceAnalytics', string> = { dpo: '', analyst: '', service: '', serviceAnalytics: '' };
  const sessions: Record<'adminSession' | 'analystSession', Record<string, string>> = { adminSession: {}, analystSession: {} };
  let browserKey = '';
  let verificationSecret = '';
  let ipCounter = 0;
  const nextIp = () => `198.51.100.${++ipCounter}`;

  const headersFor = (c: Credential): Record<string, string> => {
    switch (c) {
      case 'none':
        return {};
      case 'admin':
        return bearer(ADMIN_TOKEN);
      case 'browserKey':
        return { authorization: basicAuth(browserKey) };
      case 'serverKey':
        return { authorization: basicAuth(WRITE_KEY) };
      case 'adminSession':
      case 'analystSession':
        return sessions[c];
      default:
        return bearer(tokens[c]);
    }
  };
  const createToken = async (role: string, purposes?: string[]): Promise<{ id: string; token: string }> => {
    const r = await f.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: bearer(ADMIN_TOKEN), payload: { name: `${role}-${purposes?.join('-') ?? 'x'}`, role, ...(purposes ? { purposes } : {}) } });
    assert.equal(r.statusCode, 201, r.body);
    return r.json();
  };

  before(async () => {
    mail = new CaptureMailer();
    f = await startFiducia(dialect, { mailer: mail, rightsSweepMs: 0, demo: true });
    browserKey = f.bootstrap.generated.browserWriteKey ?? '';
    verificationSecret = f.bootstrap.generated.verificationSecret ?? '';
    assert.ok(browserKey && verificationSecret, 'the first start created a browser source');
    tokens.dpo = (await createToken('dpo')).token;
    tokens.analyst = (await createToken('analyst')).token;
    tokens.service = (await createToken('service', ['personalization'])).token;
    tokens.serviceAnalytics = (await createToken('service', ['analytics'])).token;
    const setup = await f.app.inject({ method: 'POST', url: '/api/v1/console/setup', payload: { bootstrapToken: ADMIN_TOKEN, username: 'owasp-admin', password: 'owasp admin password' } });
    assert.equal(setup.statusCode, 201, setup.body);
    const added = await f.app.inject({ method: 'POST', url: '/api/v1/console/users', headers: bearer(ADMIN_TOKEN), payload: { username: 'owasp-analyst', role: 'analyst', password: 'owasp analyst password' } });
    assert.equal(added.statusCode, 201, added.body);
    for (const [c, username] of [['adminSession', 'owasp-admin'], ['analystSession', 'owasp-analyst']] as const) {
      const r = await f.app.inject({ method: 'POST', url: '/api/v1/console/login', payload: { username, password: `${username.replace('-', ' ')} password` } });
      assert.equal(r.statusCode, 200, r.body);
      const cookie = (r.cookies as { name: string; value: string }[]).map((k) => `${k.name}=${k.value}`).join('; ');
      sessions[c] = { cookie, 'x-csrf-token': r.json<{ csrfToken: string }>().csrfToken };
    }
    ada = await seedSubject(f, 'owasp-ada', 4);
    bob = await seedSubject(f, 'owasp-bob', 4);
  });
  after(async () => f.stop());

  describe('API1 object-level authorization', () => {
    it('gives a self-service download only to its own token, and never another request\'s package', async () => {
      const ip = nextIp();
      const links: Record<string, URL> = {};
      for (const p of [ada, bob]) {
        const r = await f.app.inject({ method: 'POST', url: '/v1/rights-requests', headers: { authorization: basicAuth(browserKey) }, payload: { email: p.email, type: 'access', language: 'en' }, remoteAddress: ip });
        assert.equal(r.statusCode, 202, r.body);
        const id = r.json<{ id: string }>().id;
        const ok = await f.app.inject({ method: 'POST', url: `/v1/rights-requests/${id}/verify`, headers: { authorization: basicAuth(browserKey) }, payload: { code: mail.codeFor(p.email) }, remoteAddress: ip });
        assert.equal(ok.statusCode, 200, ok.body);
        const link = mail.linkFor(p.email);
        assert.ok(link, `a download link for ${p.userId}`);
        links[p.userId] = new URL(link);
      }
      const a = links[ada.userId]!;
      const b = links[bob.userId]!;
      // The emailed link opens the readable page; the same token gives the JSON file, where message ids show.
      const file = new URL(a);
      file.searchParams.set('format', 'json');
      const own = await f.app.inject({ method: 'GET', url: `${file.pathname}${file.search}`, remoteAddress: ip });
      assert.equal(own.statusCode, 200, own.body);
      assert.ok(own.body.includes(ada.messageIds[0]!) && !own.body.includes(bob.messageIds[0]!), 'ada\'s package is ada\'s');
      const attempts = [
        `${b.pathname}${a.search}`, // ada's token on bob's request
        `${a.pathname}${b.search}`, // bob's token on ada's request
        `${b.pathname}?token=${encodeURIComponent(a.searchParams.get('token')!.slice(0, -1))}`,
        `${b.pathname}?token=${'A'.repeat(43)}`,
      ];
      for (const url of attempts) {
        const r = await f.app.inject({ method: 'GET', url, remoteAddress: ip });
        assert.equal(r.statusCode, 404, `${url}: ${r.body}`);
        assert.equal(codeOf(r), 'FIDUCIA_NOT_FOUND');
        assert.ok(!r.body.includes(ada.messageIds[0]!) && !r.body.includes(bob.messageIds[0]!), 'no package in a refusal');
      }
      // A staff token does not open the self-service link either: the token in the URL is the only credential.
      const noToken = await f.app.inject({ method: 'GET', url: b.pathname, headers: bearer(ADMIN_TOKEN), remoteAddress: ip });
      assert.equal(noToken.statusCode, 400, noToken.body);
      assert.equal(codeOf(noToken), 'FIDUCIA_VALIDATION');
    });

    it('exports exactly the subject of the request, whatever id is asked', async () => {
      const ra = await staffRequest(f, { type: 'access', identity: `userId:${ada.userId}` });
      const rb = await staffRequest(f, { type: 'access', identity: `email:${bob.email}` });
      const pa = await f.app.inject({ method: 'GET', url: `/api/v1/rights-requests/${ra.id}/export`, headers: bearer(tokens.dpo) });
      const pb = await f.app.inject({ method: 'GET', url: `/api/v1/rights-requests/${rb.id}/export`, headers: bearer(tokens.dpo) });
      assert.equal(pa.statusCode, 200, pa.body);
      assert.equal(pb.statusCode, 200, pb.body);
      assert.equal(pa.json<{ subject: { id: string } }>().subject.id, await subjectOf(f, ada.userId));
      assert.equal(pb.json<{ subject: { id: string } }>().subject.id, await subjectOf(f, bob.userId));
      for (const m of bob.messageIds) assert.ok(!pa.body.includes(m), `bob's ${m} is not in ada's package`);
      assert.ok(!pa.body.includes(bob.email) && !pb.body.includes(ada.email), 'no address of the other person');
      // A subject id is not an identity: nothing is looked up by internal ids.
      const bySubject = await f.app.inject({ method: 'GET', url: `/api/v1/profiles/${await subjectOf(f, ada.userId)}?purpose=service`, headers: bearer(ADMIN_TOKEN) });
      assert.equal(bySubject.statusCode, 400, bySubject.body);
      const byOther = await f.app.inject({ method: 'GET', url: `/api/v1/rights-requests/${ra.id.slice(0, -1)}${ra.id.endsWith('0') ? '1' : '0'}/export`, headers: bearer(tokens.dpo) });
      assert.ok(byOther.statusCode === 404 || byOther.statusCode === 400, `a made-up request id: ${byOther.statusCode}`);
    });

    it('keeps a service token to its purposes: profiles, events and segments of another purpose are refused', async () => {
      const ok = await f.app.inject({ method: 'GET', url: `/api/v1/profiles/userId:${ada.userId}?purpose=personalization`, headers: bearer(tokens.service) });
      assert.equal(ok.statusCode, 200, ok.body);
      for (const url of [
        `/api/v1/profiles/userId:${ada.userId}?purpose=analytics`,
        `/api/v1/profiles/userId:${ada.userId}?purpose=marketing`,
        `/api/v1/profiles/userId:${ada.userId}/events?purpose=analytics`,
        '/api/v1/segments/newsletter_subscribers/members?purpose=marketing',
        '/api/v1/segments/newsletter_subscribers',
      ]) {
        const r = await f.app.inject({ method: 'GET', url, headers: bearer(tokens.service) });
        assert.equal(r.statusCode, 403, `${url}: ${r.body}`);
        assert.equal(codeOf(r), 'FIDUCIA_PURPOSE_NOT_ALLOWED');
        assert.ok(!r.body.includes(ada.email), 'no personal value in a refusal');
      }
      // A segment of purpose X asked for with purpose Y (which the token has) is refused too.
      const mismatch = await f.app.inject({ method: 'GET', url: '/api/v1/segments/engaged_browsers/members?purpose=analytics', headers: bearer(tokens.serviceAnalytics) });
      assert.equal(mismatch.statusCode, 403, mismatch.body);
      const listed = await f.app.inject({ method: 'GET', url: '/api/v1/segments', headers: bearer(tokens.service) });
      assert.deepEqual(new Set(listed.json<{ segments: { purpose: string }[] }>().segments.map((s) => s.purpose)), new Set(['personalization']));
      // Analysts never see one person.
      const analyst = await f.app.inject({ method: 'GET', url: `/api/v1/profiles/userId:${ada.userId}?purpose=analytics`, headers: bearer(tokens.analyst) });
      assert.equal(analyst.statusCode, 403, analyst.body);
    });

    it('shows a consent receipt without any identity', async () => {
      const userId = 'owasp-receipt-user';
      const anonymousId = 'owasp-receipt-anon';
      const r = await f.app.inject({ method: 'POST', url: '/v1/consent', headers: { authorization: basicAuth() }, payload: { userId, anonymousId, purposes: { analytics: true }, noticeVersion: f.cfg.config.notice.current } });
      assert.equal(r.statusCode, 200, r.body);
      const receipt = await f.app.inject({ method: 'GET', url: `/v1/consent/receipt/${r.json<{ receiptId: string }>().receiptId}` });
      assert.equal(receipt.statusCode, 200, receipt.body);
      const subject = await subjectOf(f, userId);
      for (const v of [userId, anonymousId, subject]) assert.ok(!receipt.body.includes(v), `the receipt does not show ${v}`);
      assert.deepEqual(Object.keys(receipt.json<Record<string, unknown>>()).sort(), ['choices', 'noticeVersion', 'receiptId', 'recordedAt']);
      const guessed = await f.app.inject({ method: 'GET', url: `/v1/consent/receipt/${'0'.repeat(32)}` });
      assert.equal(guessed.statusCode, 404, guessed.body);
    });

    it('lets a browser key claim nobody: an unproven userId or an email trait never reaches that person', async () => {
      const adaSubject = await subjectOf(f, ada.userId);
      const before = await f.app.inject({ method: 'GET', url: `/api/v1/profiles/userId:${ada.userId}?purpose=personalization`, headers: bearer(ADMIN_TOKEN) });
      const anon = 'owasp-attacker-anon';
      const attacks = [
        { type: 'identify', userId: ada.userId, anonymousId: anon, traits: { favoriteCategory: 'attacker' }, messageId: 'owasp-atk-1' },
        { type: 'identify', userId: ada.userId, anonymousId: anon, traits: { favoriteCategory: 'attacker' }, context: { fiducia: { userHash: '0'.repeat(64) } }, messageId: 'owasp-atk-2' },
        { type: 'identify', userId: ada.userId, anonymousId: anon, traits: { favoriteCategory: 'attacker' }, context: { fiducia: { userHash: userHash('wrong-secret', ada.userId) } }, messageId: 'owasp-atk-3' },
        { type: 'identify', anonymousId: anon, traits: { email: ada.email, favoriteCategory: 'attacker' }, messageId: 'owasp-atk-4' },
        { type: 'alias', userId: ada.userId, previousId: anon, messageId: 'owasp-atk-5' },
      ];
      for (const m of attacks) {
        const r = await f.app.inject({ method: 'POST', url: '/v1/batch', headers: { authorization: basicAuth(browserKey) }, payload: { batch: [m] } });
        assert.ok(r.statusCode === 200 || r.statusCode === 400, `${m.messageId}: ${r.statusCode} ${r.body}`);
      }
      const afterRead = await f.app.inject({ method: 'GET', url: `/api/v1/profiles/userId:${ada.userId}?purpose=personalization`, headers: bearer(ADMIN_TOKEN) });
      assert.deepEqual(afterRead.json<{ traits: unknown }>().traits, before.json<{ traits: unknown }>().traits, 'ada\'s traits are untouched');
      assert.equal(await subjectOf(f, ada.userId), adaSubject, 'ada was not merged into the attacker');
      const byEmail = await f.app.inject({ method: 'GET', url: `/api/v1/profiles/email:${ada.email}?purpose=personalization`, headers: bearer(ADMIN_TOKEN) });
      assert.equal(byEmail.json<{ subjectId: string }>().subjectId, adaSubject, 'the email still names ada only');
      const consent = await f.app.inject({ method: 'POST', url: '/v1/consent', headers: { authorization: basicAuth(browserKey) }, payload: { userId: ada.userId, purposes: { marketing: false }, noticeVersion: f.cfg.config.notice.current } });
      assert.equal(consent.statusCode, 403, consent.body);
      assert.equal(codeOf(consent), 'FIDUCIA_IDENTITY_NOT_VERIFIED');
      // With the right proof it is ada's own page speaking, and it counts.
      const proven = await f.app.inject({
        method: 'POST',
        url: '/v1/consent',
        headers: { authorization: basicAuth(browserKey) },
        payload: { userId: ada.userId, userHash: userHash(verificationSecret, ada.userId), purposes: { analytics: true }, noticeVersion: f.cfg.config.notice.current },
      });
      assert.equal(proven.statusCode, 200, proven.body);
    });
  });

  describe('API2 broken authentication', () => {
    it('refuses revoked tokens and keys, rotated keys and malformed credentials with 401 and a stable code', async () => {
      const t = await createToken('dpo');
      assert.equal((await f.app.inject({ method: 'GET', url: '/api/v1/audit/key', headers: bearer(t.token) })).statusCode, 200);
      assert.equal((await f.app.inject({ method: 'DELETE', url: `/api/v1/tokens/${t.id}`, headers: bearer(ADMIN_TOKEN) })).statusCode, 204);
      const track = (auth: string) =>
        f.app.inject({ method: 'POST', url: '/v1/track', headers: { authorization: auth }, payload: { anonymousId: 'owasp-auth', event: 'Product Viewed', messageId: `m-${Math.random()}` } });
      const source = await f.app.inject({ method: 'POST', url: '/api/v1/sources', headers: bearer(ADMIN_TOKEN), payload: { name: 'owasp-server', kind: 'server' } });
      assert.equal(source.statusCode, 201, source.body);
      const s = source.json<{ id: string; writeKey: string }>();
      assert.equal((await track(basicAuth(s.writeKey))).statusCode, 200);
      const rotated = await f.app.inject({ method: 'POST', url: `/api/v1/sources/${s.id}/rotate`, headers: bearer(ADMIN_TOKEN), payload: {} });
      assert.equal(rotated.statusCode, 200, rotated.body);
      const newKey = rotated.json<{ writeKey: string }>().writeKey;
      assert.equal((await track(basicAuth(newKey))).statusCode, 200, 'the new key works');
      const browser = await f.app.inject({ method: 'POST', url: '/api/v1/sources', headers: bearer(ADMIN_TOKEN), payload: { name: 'owasp-browser', kind: 'browser' } });
      const b = browser.json<{ id: string; writeKey: string }>();
      assert.equal((await f.app.inject({ method: 'DELETE', url: `/api/v1/sources/${b.id}`, headers: bearer(ADMIN_TOKEN) })).statusCode, 204);

      const refusedBearer: [string, Record<string, string>][] = [
        ['revoked token', bearer(t.token)],
        ['empty bearer', { authorization: 'Bearer ' }],
        ['blank bearer', { authorization: 'Bearer      ' }],
        ['no scheme', { authorization: ADMIN_TOKEN }],
        ['lower-case scheme with junk', { authorization: `bearer ${ADMIN_TOKEN}x` }],
        ['basic instead of bearer', { authorization: basicAuth(ADMIN_TOKEN) }],
        ['write key as bearer', bearer(WRITE_KEY)],
        ['huge token', bearer('x'.repeat(64 * 1024))],
        ['latin-1 bytes', { authorization: `Bearer ${Buffer.from([0xff, 0xfe, 0x80]).toString('latin1')}` }],
        ['token with a suffix', bearer(`${ADMIN_TOKEN}0`)],
      ];
      for (const [name, headers] of refusedBearer) {
        const r = await f.app.inject({ method: 'GET', url: '/api/v1/tokens', headers });
        assert.equal(r.statusCode, 401, `${name}: ${r.statusCode} ${r.body}`);
        assert.equal(codeOf(r), 'FIDUCIA_UNAUTHORIZED', name);
      }
      const refusedKeys: [string, string][] = [
        ['revoked browser key', basicAuth(b.writeKey)],
        ['rotated-out key', basicAuth(s.writeKey)],
        ['no credentials in Basic', 'Basic '],
        ['Basic alone', 'Basic'],
        ['not base64', 'Basic !!!***'],
        ['empty user', `Basic ${Buffer.from(':secret').toString('base64')}`],
        ['non-UTF-8 user', `Basic ${Buffer.from([0xff, 0xfe, 0xfd, 0x3a]).toString('base64')}`],
        ['NUL user', `Basic ${Buffer.from('\u0000\u0000:').toString('base64')}`],
        ['huge header', `Basic ${'QUFB'.repeat(32 * 1024)}`],
        ['huge key', basicAuth('k'.repeat(200))],
        ['admin token as key', basicAuth(ADMIN_TOKEN)],
        ['bearer on ingestion', `Bearer ${ADMIN_TOKEN}`],
        ['bearer of the write key', `Bearer ${WRITE_KEY}`],
      ];
      for (const [name, auth] of refusedKeys) {
        const r = await track(auth);
        assert.equal(r.statusCode, 401, `${name}: ${r.statusCode} ${r.body}`);
        assert.equal(codeOf(r), 'FIDUCIA_UNAUTHORIZED', name);
      }
      const bodyKey = await f.app.inject({ method: 'POST', url: '/v1/track', payload: { writeKey: 'w'.repeat(100_000), anonymousId: 'x', event: 'E' } });
      assert.ok(bodyKey.statusCode === 401 || bodyKey.statusCode === 413, `a huge writeKey in the body: ${bodyKey.statusCode}`);
      assert.ok(bodyKey.statusCode < 500, 'no 5xx');
    });
  });

  describe('API3 property-level exposure', () => {
    it('answers a full flow without any stored ciphertext, hash or key field', async () => {
      const answers: { what: string; body: string }[] = [];
      const call = async (what: string, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, headers: Record<string, string>, payload?: object) => {
        const r = await f.app.inject({ method, url, headers, ...(payload ? { payload } : {}) });
        assert.ok(r.statusCode < 500, `${what}: ${r.statusCode} ${r.body}`);
        answers.push({ what, body: r.body });
        return r;
      };
      const carol = 'owasp-carol';
      const admin = bearer(ADMIN_TOKEN);
      await call('consent', 'POST', '/v1/consent', { authorization: basicAuth() }, { userId: carol, anonymousId: `${carol}-anon`, purposes: { analytics: true, personalization: true, marketing: true }, noticeVersion: f.cfg.config.notice.current });
      await call('identify (server)', 'POST', '/v1/identify', { authorization: basicAuth() }, { userId: carol, traits: { email: 'carol@example.com', firstName: 'Carol', phone: '+39 333 1234567', favoriteCategory: 'books' } });
      await call('track (browser)', 'POST', '/v1/track', { authorization: basicAuth(browserKey) }, { userId: carol, anonymousId: `${carol}-anon`, event: 'Product Viewed', properties: { product_id: 'p1' }, context: { fiducia: { userHash: userHash(verificationSecret, carol) } } });
      await call('batch (server)', 'POST', '/v1/batch', { authorization: basicAuth() }, { batch: [{ type: 'track', userId: carol, event: 'Order Completed', properties: { order_id: 'o1', total: 10 } }] });
      for (const purpose of ['service', 'personalization', 'analytics', 'marketing']) {
        await call(`profile ${purpose}`, 'GET', `/api/v1/profiles/userId:${carol}?purpose=${purpose}`, admin);
        await call(`events ${purpose}`, 'GET', `/api/v1/profiles/userId:${carol}/events?purpose=${purpose}`, admin);
      }
      await call('profile (service token)', 'GET', `/api/v1/profiles/email:carol@example.com?purpose=personalization`, bearer(tokens.service));
      await call('segments', 'GET', '/api/v1/segments', admin);
      await call('segment', 'GET', '/api/v1/segments/engaged_browsers', admin);
      await call('segment count', 'GET', '/api/v1/segments/engaged_browsers/count?purpose=personalization', bearer(tokens.analyst));
      await call('segment members', 'GET', '/api/v1/segments/engaged_browsers/members?purpose=personalization', admin);
      const access = await call('rights access', 'POST', '/api/v1/rights-requests', admin, { type: 'access', identity: `userId:${carol}` });
      const port = await call('rights portability', 'POST', '/api/v1/rights-requests', admin, { type: 'portability', identity: `userId:${carol}` });
      for (const [name, r] of [['access', access], ['portability', port]] as const) {
        const id = r.json<{ id: string }>().id;
        await call(`${name} status`, 'GET', `/api/v1/rights-requests/${id}`, admin);
        await call(`${name} export`, 'GET', `/api/v1/rights-requests/${id}/export`, admin);
      }
      await call('rights list', 'GET', '/api/v1/rights-requests', admin);
      await call('audit', 'GET', '/api/v1/audit?limit=1000', admin);
      await call('audit by person', 'GET', `/api/v1/audit?subject=userId:${carol}`, admin);
      await call('audit verify', 'GET', '/api/v1/audit/verify', admin);
      await call('audit checkpoint', 'GET', '/api/v1/audit/checkpoint', admin);
      await call('audit key', 'GET', '/api/v1/audit/key', admin);
      await call('audit inclusion', 'GET', '/api/v1/audit/proof/inclusion?index=1', admin);
      await call('audit consistency', 'GET', '/api/v1/audit/proof/consistency?from=1', admin);
      await call('sources', 'GET', '/api/v1/sources', admin);
      await call('tokens', 'GET', '/api/v1/tokens', admin);
      await call('ropa', 'GET', '/api/v1/ropa', admin);
      await call('ropa purposes', 'GET', '/api/v1/ropa/purposes', {});
      await call('consent config', 'GET', '/v1/consent/config', {});
      await call('legal hold', 'PUT', `/api/v1/legal-holds/userId:${carol}`, admin, { reason: 'owasp' });
      await call('legal hold release', 'DELETE', `/api/v1/legal-holds/userId:${carol}`, admin);

      // Every stored ciphertext, hash and secret, in every encoding an answer could carry it.
      const blobs: Buffer[] = [];
      const texts: string[] = [];
      const d = f.dbs.data;
      for (const r of await d.selectFrom('identities').select(['value_enc', 'blind_index']).execute()) blobs.push(Buffer.from(r.value_enc), Buffer.from(r.blind_index));
      for (const r of await d.selectFrom('traits').select('value_enc').execute()) blobs.push(Buffer.from(r.value_enc));
      for (const r of await d.selectFrom('events').select('payload_enc').execute()) blobs.push(Buffer.from(r.payload_enc));
      for (const r of await d.selectFrom('rights_packages').select('package_enc').execute()) blobs.push(Buffer.from(r.package_enc));
      for (const r of await d.selectFrom('segment_states').select('state_enc').execute()) blobs.push(Buffer.from(r.state_enc));
      for (const r of await d.selectFrom('rights_requests').select(['contact_enc', 'params_enc', 'code_hash', 'download_hash', 'identity_index']).execute()) {
        for (const v of [r.contact_enc, r.params_enc, r.code_hash, r.download_hash, r.identity_index]) if (v) blobs.push(Buffer.from(v));
      }
      for (const r of await d.selectFrom('sources').select(['write_key_hash', 'verification_secret_enc']).execute()) {
        texts.push(r.write_key_hash);
        if (r.verification_secret_enc) blobs.push(Buffer.from(r.verification_secret_enc));
      }
      for (const r of await d.selectFrom('tokens').select('token_hash').execute()) texts.push(r.token_hash);
      for (const r of await d.selectFrom('consents').select('ua_hash').execute()) if (r.ua_hash) texts.push(r.ua_hash);
      for (const r of await f.dbs.keys.selectFrom('data_keys').select('wrapped').execute()) blobs.push(Buffer.from(r.wrapped));
      assert.ok(blobs.length > 20 && texts.length > 3, `the database holds what the flow stored (${blobs.length} blobs)`);
      const needles = new Set<string>(texts);
      for (const b of blobs) {
        needles.add(b.toString('base64'));
        needles.add(b.toString('base64url'));
        needles.add(b.toString('hex'));
        // The random tail (ciphertext and tag) in hex, wherever it is cut: hex substrings do not depend on alignment.
        if (b.length > 24) needles.add(b.subarray(b.length - 16).toString('hex'));
      }
      for (const { what, body } of answers) {
        let json: unknown = null;
        try {
          json = JSON.parse(body);
        } catch {
          // not JSON (none of the calls above should answer otherwise)
        }
        for (const k of keysOf(json)) assert.ok(!FORBIDDEN_FIELDS.includes(k), `${what}: the answer has a field "${k}"`);
        const lower = body.toLowerCase();
        for (const n of needles) assert.ok(!body.includes(n) && !lower.includes(n.toLowerCase()), `${what}: the answer carries a stored secret or ciphertext (${n.slice(0, 16)}…)`);
      }
      // The write keys of server sources and every token are shown once only, never listed.
      const listing = answers.filter((a) => a.what === 'sources' || a.what === 'tokens').map((a) => a.body).join('\n');
      assert.ok(!listing.includes(WRITE_KEY) && !listing.includes(ADMIN_TOKEN) && !listing.includes(tokens.dpo) && !listing.includes(verificationSecret), 'no secret in the listings');
    });
  });

  describe('API4 resource consumption', () => {
    it('rate-limits self-service intake with 429, Retry-After and the stable code', async () => {
      const ip = nextIp();
      let last: LightMyRequestResponse | undefined;
      for (let i = 0; i <= SELF_SERVICE_LIMITS.intakePerIp.max; i++) {
        last = await f.app.inject({ method: 'POST', url: '/v1/rights-requests', headers: { authorization: basicAuth(browserKey) }, payload: { email: `owasp-flood${i}@example.com`, type: 'access', language: 'en' }, remoteAddress: ip });
      }
      assert.ok(last, 'requests were sent');
      assert.equal(last.statusCode, 429, last.body);
      assert.equal(codeOf(last), 'FIDUCIA_RATE_LIMITED');
      assert.ok(Number(last.headers['retry-after']) > 0, `Retry-After: ${String(last.headers['retry-after'])}`);
      let verify: LightMyRequestResponse | undefined;
      for (let i = 0; i <= SELF_SERVICE_LIMITS.verifyPerIp.max; i++) {
        verify = await f.app.inject({ method: 'POST', url: '/v1/rights-requests/01a22222-2222-7222-8222-222222222222/verify', headers: { authorization: basicAuth(browserKey) }, payload: { code: '000000' }, remoteAddress: ip });
      }
      assert.equal(verify?.statusCode, 429, verify?.body);
      assert.ok(Number(verify?.headers['retry-after']) > 0, 'verification attempts say when to come back');
      let download: LightMyRequestResponse | undefined;
      for (let i = 0; i <= SELF_SERVICE_LIMITS.downloadPerIp.max; i++) {
        download = await f.app.inject({ method: 'GET', url: `/v1/rights-requests/01a22222-2222-7222-8222-222222222222/download?token=${'A'.repeat(43)}`, remoteAddress: ip });
      }
      assert.equal(download?.statusCode, 429, download?.body);
      assert.ok(Number(download?.headers['retry-after']) > 0, 'downloads say when to come back');
    });

    it('refuses oversized bodies and messages with 413 and stores nothing', async () => {
      const count = async () => Number((await sql<{ n: number | string }>`select count(*) as n from events`.execute(f.dbs.data)).rows[0]?.n ?? 0);
      const before = await count();
      const pad = (n: number) => 'x'.repeat(n);
      const cases: [string, string, Record<string, string>, unknown, string][] = [
        ['message over 32 KB', '/v1/track', { authorization: basicAuth() }, { anonymousId: 'owasp-big', event: 'E', properties: { p: pad(MAX_MESSAGE_BYTES) } }, 'FIDUCIA_BODY_TOO_LARGE'],
        ['batch over 500 KB', '/v1/batch', { authorization: basicAuth() }, { batch: [{ type: 'track', anonymousId: 'owasp-big', event: 'E', properties: { p: pad(MAX_BATCH_BYTES) } }] }, 'FIDUCIA_BODY_TOO_LARGE'],
        [
          'one message over 32 KB in a small batch',
          '/v1/batch',
          { authorization: basicAuth() },
          { batch: [{ type: 'track', anonymousId: 'owasp-big', event: 'E', messageId: 'owasp-ok-1' }, { type: 'track', anonymousId: 'owasp-big', event: 'E', properties: { p: pad(MAX_MESSAGE_BYTES) } }] },
          'FIDUCIA_MESSAGE_TOO_LARGE',
        ],
        ['consent over 16 KB', '/v1/consent', { authorization: basicAuth() }, { anonymousId: 'owasp-big', noticeVersion: pad(17 * 1024) }, 'FIDUCIA_BODY_TOO_LARGE'],
        ['admin body over 512 KB', '/api/v1/tokens', bearer(ADMIN_TOKEN), { name: pad(600 * 1024), role: 'dpo' }, 'FIDUCIA_BODY_TOO_LARGE'],
        ['rights request over 64 KB', '/api/v1/rights-requests', bearer(ADMIN_TOKEN), { type: 'access', identity: 'userId:x', details: pad(70 * 1024) }, 'FIDUCIA_BODY_TOO_LARGE'],
        ['intake over 16 KB', '/v1/rights-requests', { authorization: basicAuth() }, { email: 'a@example.com', type: 'access', language: 'en', details: pad(17 * 1024) }, 'FIDUCIA_BODY_TOO_LARGE'],
      ];
      for (const [name, url, headers, payload, code] of cases) {
        const r = await f.app.inject({ method: 'POST', url, headers: { ...headers, 'content-type': 'application/json' }, payload: JSON.stringify(payload) });
        assert.equal(r.statusCode, 413, `${name}: ${r.statusCode} ${r.body.slice(0, 200)}`);
        assert.equal(codeOf(r), code, name);
      }
      assert.equal(await count(), before, 'nothing of a refused batch was stored');
    });

    it('bounds every listing\'s page size', async () => {
      const admin = bearer(ADMIN_TOKEN);
      for (const url of [
        '/api/v1/audit?limit=1000000',
        '/api/v1/audit?limit=1001',
        '/api/v1/audit?limit=-1',
        '/api/v1/audit?limit=0',
        '/api/v1/rights-requests?limit=100000',
        '/api/v1/rights-requests?limit=501',
        `/api/v1/profiles/userId:${ada.userId}/events?purpose=service&limit=501`,
        `/api/v1/profiles/userId:${ada.userId}/events?purpose=service&limit=99999999999999999999`,
        '/api/v1/segments/engaged_browsers/members?purpose=personalization&limit=1001',
        '/api/v1/segments/engaged_browsers/members?purpose=personalization&limit=1e9',
      ]) {
        const r = await f.app.inject({ method: 'GET', url, headers: admin });
        assert.equal(r.statusCode, 400, `${url}: ${r.statusCode}`);
        assert.equal(codeOf(r), 'FIDUCIA_VALIDATION', url);
      }
      const biggest = await f.app.inject({ method: 'GET', url: '/api/v1/audit?limit=1000', headers: admin });
      assert.ok(biggest.json<{ entries: unknown[] }>().entries.length <= 1000, 'a page holds at most its limit');
      // Listings without a limit parameter are bounded by their own size: tokens and sources are few by nature.
      const rights = await f.app.inject({ method: 'GET', url: '/api/v1/rights-requests', headers: admin });
      assert.ok(rights.json<{ requests: unknown[] }>().requests.length <= 100, 'the default page is 100');
    });
  });

  describe('API5 function-level authorization', () => {
    it('has an entry for every route, and every route answers each caller as its entry says', async () => {
      // Logging out ends the session the other routes are tried with: it goes last.
      const routes = listRoutes(f.app).sort((a, b) => Number(a.path === '/api/v1/console/logout') - Number(b.path === '/api/v1/console/logout'));
      const keys = routes.map((r) => `${r.method} ${r.path}`);
      assert.deepEqual(keys.filter((k) => !(k in TABLE)), [], 'every route has an entry in the authorization table');
      assert.deepEqual(Object.keys(TABLE).filter((k) => !keys.includes(k)), [], 'every entry of the table is a route');
      const fill = (path: string) =>
        path
          .replace(':identity', 'userId:owasp-nobody')
          .replace(':id', path.startsWith('/api/v1/segments') ? 'engaged_browsers' : '01a22222-2222-7222-8222-222222222222');
      const failures: string[] = [];
      for (const { method, path } of routes) {
        const rule = TABLE[`${method} ${path}`]!;
        let url = fill(path);
        if (path.startsWith('/api/v1/profiles') || path.endsWith('/count') || path.endsWith('/members')) url += '?purpose=personalization';
        if (path.endsWith('/download')) url += `?token=${'A'.repeat(43)}`;
        for (const c of CREDENTIALS) {
          const r = await f.app.inject({
            method: method as 'GET' | 'POST' | 'PUT' | 'DELETE',
            url,
            headers: headersFor(c),
            remoteAddress: `203.0.113.${CREDENTIALS.indexOf(c) + 1}`,
            ...(method === 'POST' || method === 'PUT' ? { payload: {} } : {}),
          });
          const what = `${method} ${path} as ${c}: ${r.statusCode} ${r.body.slice(0, 160)}`;
          if (r.statusCode >= 500) failures.push(`5xx: ${what}`);
          const session = SESSION_ROLE[c];
          const isToken = c === 'admin' || c === 'dpo' || c === 'analyst' || c === 'service' || session !== undefined;
          const isKey = c === 'browserKey' || c === 'serverKey';
          let expect: 'allowed' | 401 | 403 | 'no-2xx';
          if (rule.kind === 'public') expect = 'allowed';
          else if (rule.kind === 'capability') expect = 'no-2xx';
          else if (rule.kind === 'writeKey') expect = isKey ? 'allowed' : 401;
          else if (rule.kind === 'session') expect = session ? 'allowed' : isToken ? 403 : 401;
          else expect = isToken ? (rule.roles.includes(session ?? c) ? 'allowed' : 403) : 401;
          if (expect === 'allowed' && (r.statusCode === 401 || r.statusCode === 403)) failures.push(`refused an allowed caller: ${what}`);
          if (typeof expect === 'number' && r.statusCode !== expect) failures.push(`expected ${expect}: ${what}`);
          if (expect === 'no-2xx' && r.statusCode < 300) failures.push(`a capability route answered without its secret: ${what}`);
          if (r.statusCode >= 400) {
            try {
              assertCataloguedError(r, `${method} ${path} as ${c}`);
            } catch (err) {
              failures.push((err as Error).message);
            }
          }
        }
      }
      assert.deepEqual(failures, [], failures.join('\n'));
    });

    it('keeps the three credentials apart: /api/* never takes write keys, /v1/* ingestion never takes tokens', async () => {
      for (const { method, path } of listRoutes(f.app)) {
        // Public /api/ routes (the purposes table, console setup and login) take no credential at all.
        if (TABLE[`${method} ${path}`]?.kind === 'public') continue;
        const url = path.replace(':identity', 'userId:x').replace(':id', 'x');
        const creds = path.startsWith('/api/') ? [basicAuth(), basicAuth(browserKey)] : TABLE[`${method} ${path}`]?.kind === 'writeKey' ? [`Bearer ${ADMIN_TOKEN}`, `Bearer ${tokens.service}`] : [];
        for (const authorization of creds) {
          const r = await f.app.inject({ method: method as 'GET', url, headers: { authorization }, ...(method === 'POST' || method === 'PUT' ? { payload: {} } : {}) });
          assert.equal(r.statusCode, 401, `${method} ${path} with ${authorization.slice(0, 12)}…: ${r.statusCode}`);
        }
      }
    });
  });

  describe('API8 security misconfiguration', () => {
    it('sends nosniff on every answer, no x-powered-by, frame-ancestors \'none\' on HTML, and no internals in errors', async () => {
      const failures: string[] = [];
      const urls: [string, string, Record<string, string>][] = [
        ['GET', '/healthz', {}],
        ['GET', '/openapi.json', {}],
        ['GET', '/widget.js', {}],
        ['GET', '/privacy', {}],
        ['GET', '/demo', {}],
        ['GET', '/console', {}],
        ['GET', '/v1/consent/config', {}],
        ['GET', '/api/v1/ropa?format=html', bearer(ADMIN_TOKEN)],
        ['GET', '/api/v1/ropa/purposes?format=html', {}],
        ['GET', '/api/v1/tokens', {}],
        ['GET', '/api/v1/tokens', bearer(tokens.analyst)],
        ['GET', '/no/such/route', {}],
        ['POST', '/v1/track', { authorization: basicAuth() }],
        ['GET', `/api/v1/profiles/userId:${ada.userId}?purpose=nope`, bearer(ADMIN_TOKEN)],
        ['GET', `/api/v1/profiles/userId:${ada.userId}?purpose=service`, bearer(ADMIN_TOKEN)],
        ['GET', `/v1/rights-requests/x/download?token=y`, {}],
      ];
      for (const [method, url, headers] of urls) {
        const r = await f.app.inject({ method: method as 'GET', url, headers, ...(method === 'POST' ? { payload: '{"a":', headers: { ...headers, 'content-type': 'application/json' } } : {}) });
        const what = `${method} ${url} (${r.statusCode})`;
        if (r.headers['x-content-type-options'] !== 'nosniff') failures.push(`${what}: x-content-type-options is ${String(r.headers['x-content-type-options'])}`);
        if (r.headers['x-powered-by'] !== undefined) failures.push(`${what}: x-powered-by`);
        if (String(r.headers['content-type']).startsWith('text/html') && !/frame-ancestors 'none'/.test(String(r.headers['content-security-policy']))) {
          failures.push(`${what}: HTML without frame-ancestors 'none' (${String(r.headers['content-security-policy'])})`);
        }
        if (r.statusCode >= 400) {
          const leak = leaksInternals(r.body);
          if (leak) failures.push(`${what}: the error shows a ${leak}: ${r.body.slice(0, 200)}`);
        }
      }
      assert.deepEqual(failures, [], failures.join('\n'));
    });

    it('answers no CORS on /api/* and only the public API\'s preflights', async () => {
      const origin = 'https://evil.example';
      for (const url of ['/api/v1/tokens', '/api/v1/profiles/userId:x?purpose=service', '/api/v1/rights-requests', '/api/v1/ropa/purposes']) {
        const get = await f.app.inject({ method: 'GET', url, headers: { origin, ...bearer(ADMIN_TOKEN) } });
        assert.equal(get.headers['access-control-allow-origin'], undefined, `${url}: no CORS on a GET`);
        assert.equal(get.headers['access-control-allow-credentials'], undefined, `${url}: no credentials over CORS`);
        const pre = await f.app.inject({ method: 'OPTIONS', url, headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });
        assert.equal(pre.headers['access-control-allow-origin'], undefined, `${url}: no CORS on a preflight (${pre.statusCode})`);
        assert.ok(pre.statusCode >= 400 && pre.statusCode < 500, `${url}: the preflight is refused (${pre.statusCode})`);
      }
      const ingest = await f.app.inject({ method: 'OPTIONS', url: '/v1/track', headers: { origin, 'access-control-request-method': 'POST' } });
      assert.equal(ingest.statusCode, 204, 'the collection API is for browsers');
    });

    it('answers a storage failure with a bare 5xx: the stable code and no internal message', async () => {
      const g = await startFiducia(dialect, { rightsSweepMs: 0 });
      try {
        await g.dbs.close();
        const cases = [
          await g.app.inject({ method: 'GET', url: '/healthz' }),
          await g.app.inject({ method: 'GET', url: '/api/v1/profiles/userId:x?purpose=service', headers: bearer('fresh-token-not-cached-0123456789') }),
          await g.app.inject({ method: 'GET', url: '/api/v1/audit/verify', headers: bearer(ADMIN_TOKEN) }),
        ];
        for (const r of cases) {
          assert.ok(r.statusCode >= 500, `storage is gone: ${r.statusCode} ${r.body}`);
          assertCataloguedError(r, 'a storage failure');
          const leak = leaksInternals(r.body);
          assert.equal(leak, null, `the 5xx body shows a ${String(leak)}: ${r.body}`);
          assert.equal(r.headers['x-content-type-options'], 'nosniff', 'nosniff on a 5xx');
        }
      } finally {
        await g.app.close().catch(() => undefined);
        await g.store.cleanup();
      }
    });
  });
});
