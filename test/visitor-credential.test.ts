// Visitor credentials (docs/security.md): the browser's secret mints a short-lived credential that reads only its own
// subject, for the purposes open to self-reads; knowing an anonymousId or a userId yields nothing.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { userHash } from '../src/crypto/user-hash.ts';
import { basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';
import { staffRequest, type Running } from './helpers/rights.ts';

const newSecret = () => randomBytes(32).toString('base64url');

await eachDialect('visitor credentials', (dialect) => {
  let f: Running;
  let browser: string;
  let verification: string;
  let clock = Date.parse('2026-12-07T10:00:00Z');
  before(async () => {
    f = await startFiducia(dialect, { visitors: { now: () => clock } });
    const g = f.bootstrap.generated;
    assert.ok(g.browserWriteKey && g.verificationSecret, 'the first start creates a browser source');
    browser = basicAuth(g.browserWriteKey);
    verification = g.verificationSecret;
  });
  after(async () => f.stop());

  const post = (url: string, payload: Record<string, unknown>, auth = browser) => f.app.inject({ method: 'POST', url, headers: { authorization: auth }, payload });
  const consent = (anonymousId: string) => post('/v1/consent', { anonymousId, purposes: { analytics: true, personalization: true, marketing: true }, noticeVersion: f.cfg.config.notice.current });
  const identify = (anonymousId: string, favoriteCategory: string, extra: Record<string, unknown> = {}) =>
    post('/v1/batch', { batch: [{ type: 'identify', anonymousId, traits: { favoriteCategory, firstName: 'Ada' }, messageId: `${anonymousId}-${randomBytes(4).toString('hex')}`, ...extra }] });
  const mint = (body: Record<string, unknown>, auth = browser) => post('/v1/me/credential', body, auth);
  const read = (credential: string, query = 'purpose=personalization') => f.app.inject({ method: 'GET', url: `/v1/me/profile?${query}`, headers: { authorization: `Bearer ${credential}` } });
  /** A visitor who consented, bound its secret before any event, then told its favourite category. */
  const visitor = async (tag: string, favorite: string) => {
    const anonymousId = `anon-${tag}-${randomBytes(6).toString('hex')}`;
    const secret = newSecret();
    assert.equal((await consent(anonymousId)).statusCode, 200);
    const first = await mint({ anonymousId, secret });
    assert.equal(first.statusCode, 200, first.body);
    assert.equal((await identify(anonymousId, favorite)).statusCode, 200);
    const credential = (await mint({ anonymousId, secret })).json<{ credential: string }>().credential;
    return { anonymousId, secret, credential };
  };

  describe('minting', () => {
    it('needs the secret: the anonymousId alone, or with another secret, gets nothing', async () => {
      const a = await visitor('a', 'shoes');
      assert.equal((await mint({ anonymousId: a.anonymousId })).statusCode, 400, 'no secret');
      const wrong = await mint({ anonymousId: a.anonymousId, secret: newSecret() });
      assert.equal(wrong.statusCode, 401, wrong.body);
      assert.equal(wrong.json<{ error: { code: string } }>().error.code, 'FIDUCIA_UNAUTHORIZED');
      assert.equal((await f.app.inject({ method: 'POST', url: '/v1/me/credential', payload: { anonymousId: a.anonymousId, secret: a.secret } })).statusCode, 401, 'no write key');
      assert.equal((await mint({ anonymousId: a.anonymousId, secret: 'short' })).statusCode, 400, 'malformed secret');
      assert.equal((await mint({ anonymousId: a.anonymousId, secret: a.secret, subjectId: 'x' })).statusCode, 400, 'unknown field');
    });

    it('binds no browser key once events are stored: a leaked anonymousId cannot be claimed', async () => {
      const anonymousId = `anon-late-${randomBytes(6).toString('hex')}`;
      await consent(anonymousId);
      await identify(anonymousId, 'books');
      const r = await mint({ anonymousId, secret: newSecret() });
      assert.equal(r.statusCode, 403, r.body);
      assert.deepEqual(r.json<{ error: { details: unknown } }>().error.details, { reason: 'key_not_bindable' });
      assert.equal((await mint({ anonymousId: `anon-none-${randomBytes(6).toString('hex')}`, secret: newSecret() })).statusCode, 404, 'no such visitor');
    });

    it('a browser key cannot re-bind; a verified userId can, which voids the earlier credentials', async () => {
      const a = await visitor('rebind', 'bags');
      const stolen = await mint({ anonymousId: a.anonymousId, secret: newSecret() });
      assert.equal(stolen.statusCode, 401, 'the first binding stands');
      assert.equal((await read(a.credential)).statusCode, 200, 'and its credential still reads');
      const userId = `user-${randomBytes(6).toString('hex')}`;
      assert.equal((await identify(a.anonymousId, 'bags', { userId, context: { fiducia: { userHash: userHash(verification, userId) } } })).statusCode, 200);
      assert.equal((await mint({ userId, secret: newSecret() })).statusCode, 403, 'a userId without its userHash');
      assert.equal((await mint({ userId, userHash: '0'.repeat(64), secret: newSecret() })).statusCode, 403, 'a wrong userHash');
      const fresh = newSecret();
      const rebound = await mint({ userId, userHash: userHash(verification, userId), secret: fresh });
      assert.equal(rebound.statusCode, 200, rebound.body);
      assert.equal((await read(a.credential)).statusCode, 401, 'the old credential is void');
      assert.equal((await mint({ anonymousId: a.anonymousId, secret: a.secret })).statusCode, 401, 'and so is the old secret');
      assert.equal((await read(rebound.json<{ credential: string }>().credential)).statusCode, 200);
    });
  });

  describe('reading', () => {
    it('reads its own subject only: nothing in any parameter names another', async () => {
      const a = await visitor('own', 'outdoor');
      const b = await visitor('other', 'books');
      const mine = await read(a.credential);
      assert.equal(mine.statusCode, 200, mine.body);
      const body = mine.json<{ subjectId: string; traits: Record<string, unknown> }>();
      assert.equal(body.traits.favoriteCategory, 'outdoor');
      const bSubject = (await read(b.credential)).json<{ subjectId: string }>().subjectId;
      assert.notEqual(body.subjectId, bSubject);
      for (const q of [`purpose=personalization&anonymousId=${b.anonymousId}`, `purpose=personalization&identity=anonymousId:${b.anonymousId}`, `purpose=personalization&subjectId=${bSubject}`]) {
        assert.equal((await read(a.credential, q)).statusCode, 400, q);
      }
      // The subject id inside the credential is signed: swapping in another's fails.
      const parts = a.credential.split('.');
      assert.equal((await read([parts[0], bSubject, parts[2], parts[3]].join('.'))).statusCode, 401, 'swapped subject');
      assert.equal((await read(a.credential.slice(0, -2) + 'AA')).statusCode, 401, 'forged signature');
      assert.equal((await f.app.inject({ method: 'GET', url: '/v1/me/profile?purpose=personalization' })).statusCode, 401, 'no credential');
      assert.equal((await read(`x${'a'.repeat(500)}`)).statusCode, 401, 'oversized credential');
    });

    it('only for the purposes open to self-reads', async () => {
      const a = await visitor('purpose', 'shoes');
      assert.equal((await read(a.credential, 'purpose=marketing')).statusCode, 403);
      assert.equal((await read(a.credential, 'purpose=nope')).statusCode, 403, 'an unknown purpose is not open either');
      assert.equal((await read('fv1.x.y.z', 'purpose=nope')).statusCode, 401, 'without a credential the purpose is not even looked at');
    });

    it('expires', async () => {
      const a = await visitor('expiry', 'shoes');
      assert.equal((await read(a.credential)).statusCode, 200);
      clock += 10 * 60_000 + 1;
      assert.equal((await read(a.credential)).statusCode, 401, 'ten minutes later');
      const again = await mint({ anonymousId: a.anonymousId, secret: a.secret });
      assert.equal((await read(again.json<{ credential: string }>().credential)).statusCode, 200, 'the secret mints a new one');
    });

    it('is audited as a read by the visitor of its own profile', async () => {
      const a = await visitor('audit', 'bags');
      const subjectId = (await read(a.credential)).json<{ subjectId: string }>().subjectId;
      const rows = await f.dbs.data.selectFrom('audit_entries').selectAll().where('subject_id', '=', subjectId).where('action', '=', 'profile.read').execute();
      assert.ok(rows.length >= 1, 'a profile.read entry about the subject');
      assert.ok(rows.every((r) => (r as { actor: string }).actor === 'visitor'), 'by the visitor');
      const bound = await f.dbs.data.selectFrom('audit_entries').selectAll().where('subject_id', '=', subjectId).where('action', '=', 'visitor.key_bound').execute();
      assert.equal(bound.length, 1, 'the binding is on the log once');
    });

    it('ends with the subject: after erasure neither the credential nor the secret works', async () => {
      const a = await visitor('erase', 'books');
      assert.equal((await read(a.credential)).statusCode, 200);
      await staffRequest(f, { type: 'erasure', identity: `anonymousId:${a.anonymousId}` });
      assert.equal((await read(a.credential)).statusCode, 401, 'the credential is revoked');
      assert.notEqual((await mint({ anonymousId: a.anonymousId, secret: a.secret })).statusCode, 200, 'and nothing mints');
    });
  });
});
