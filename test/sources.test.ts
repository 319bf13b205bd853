// Sources and their keys through the admin API: kinds, secrets shown once, rotation and revocation, the audit trail.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { userHash } from '../src/crypto/user-hash.ts';
import { ADMIN_TOKEN, WRITE_KEY, basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

interface Created {
  id: string;
  kind: string;
  writeKey: string;
  verificationSecret?: string;
}

await eachDialect('sources', (dialect) => {
  let f: Awaited<ReturnType<typeof startFiducia>>;
  before(async () => {
    f = await startFiducia(dialect);
  });
  after(async () => f.stop());

  const create = async (body: Record<string, unknown>) => f.app.inject({ method: 'POST', url: '/api/v1/sources', headers: admin, payload: body });
  const track = (key: string, extra: Record<string, unknown> = {}) =>
    f.app.inject({ method: 'POST', url: '/v1/track', headers: { authorization: basicAuth(key) }, payload: { anonymousId: 'src-visitor', event: 'Product Viewed', ...extra } });
  /** identify always links its ids (a track with nothing to keep links nothing). */
  const identify = (key: string, extra: Record<string, unknown>) =>
    f.app.inject({ method: 'POST', url: '/v1/identify', headers: { authorization: basicAuth(key) }, payload: { anonymousId: 'src-visitor', ...extra } });

  it('creates a browser source with a verification secret and a server source without one; shows each secret once', async () => {
    const b = await create({ name: 'shop web', kind: 'browser' });
    assert.equal(b.statusCode, 201, b.body);
    const browser = b.json<Created>();
    assert.equal(browser.kind, 'browser');
    assert.match(browser.writeKey, /^wkb_/);
    assert.match(browser.verificationSecret ?? '', /^vs_/);
    const s = await create({ name: 'shop backend', kind: 'server' });
    const server = s.json<Created>();
    assert.equal(server.kind, 'server');
    assert.equal(server.verificationSecret, undefined, 'a server source needs no verification secret');
    assert.equal((await track(browser.writeKey)).statusCode, 200);
    assert.equal((await track(server.writeKey)).statusCode, 200);

    const listed = (await f.app.inject({ method: 'GET', url: '/api/v1/sources', headers: admin })).json<{ sources: { id: string; kind: string; writeKey: string | null }[] }>().sources;
    const byId = new Map(listed.map((x) => [x.id, x]));
    assert.equal(byId.get(browser.id)?.writeKey, browser.writeKey, 'a browser key is public and listed');
    assert.equal(byId.get(server.id)?.writeKey, null, 'a server key is never shown again');
    const text = JSON.stringify(listed);
    assert.ok(!text.includes(server.writeKey) && !text.includes(browser.verificationSecret!) && !text.includes(WRITE_KEY), 'no secret in the listing');
    const row = await f.dbs.data.selectFrom('sources').selectAll().where('id', '=', browser.id).executeTakeFirstOrThrow();
    assert.ok(row.verification_secret_enc && !Buffer.from(row.verification_secret_enc).toString('latin1').includes(browser.verificationSecret!), 'the verification secret is sealed at rest');
  });

  it('refuses a bad kind and callers that are not admins', async () => {
    const bad = await create({ name: 'x', kind: 'mobile' });
    assert.equal(bad.statusCode, 400);
    await f.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: admin, payload: { name: 'dpo', role: 'dpo' } }).then(async (r) => {
      const dpo = { authorization: `Bearer ${r.json<{ token: string }>().token}` };
      assert.equal((await f.app.inject({ method: 'GET', url: '/api/v1/sources', headers: dpo })).statusCode, 403);
    });
    assert.equal((await f.app.inject({ method: 'GET', url: '/api/v1/sources', headers: { authorization: basicAuth() } })).statusCode, 401, 'a write key is not an API token');
  });

  it('rotation replaces the key (and a browser source\'s secret) at once; revocation stops the key', async () => {
    const browser = (await create({ name: 'rotating', kind: 'browser' })).json<Created>();
    const hashed = (secret: string) => ({ userId: 'rot-user', context: { fiducia: { userHash: userHash(secret, 'rot-user') } } });
    const rotated = await f.app.inject({ method: 'POST', url: `/api/v1/sources/${browser.id}/rotate`, headers: admin, payload: {} });
    assert.equal(rotated.statusCode, 200, rotated.body);
    const next = rotated.json<Created>();
    assert.notEqual(next.writeKey, browser.writeKey);
    assert.ok(next.verificationSecret && next.verificationSecret !== browser.verificationSecret, 'a new verification secret');
    assert.equal((await track(browser.writeKey)).statusCode, 401, 'the old key stops');
    assert.equal((await identify(next.writeKey, hashed(next.verificationSecret))).statusCode, 200);
    const holder = async () =>
      (await f.dbs.data.selectFrom('identities').select('asserted').where('kind', '=', 'userId').where('blind_index', '=', f.ring.blindIndex.index('userId', 'rot-user')).executeTakeFirst())?.asserted;
    assert.equal(await holder(), 'verified_hash', 'a hash under the new secret proves the userId');

    const kept = (await f.app.inject({ method: 'POST', url: `/api/v1/sources/${browser.id}/rotate`, headers: admin, payload: { keepVerificationSecret: true } })).json<Created>();
    assert.equal(kept.verificationSecret, undefined, 'the secret is kept, so not shown');
    assert.equal((await identify(kept.writeKey, { ...hashed(next.verificationSecret), anonymousId: 'src-visitor-2' })).statusCode, 200);
    assert.equal(await holder(), 'verified_hash', 'the kept secret still proves the userId');

    assert.equal((await f.app.inject({ method: 'DELETE', url: `/api/v1/sources/${browser.id}`, headers: admin })).statusCode, 204);
    assert.equal((await track(kept.writeKey)).statusCode, 401, 'a revoked key stops');
    const metrics = (await f.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /fiducia_auth_failures_total\{credential="write_key",reason="unknown_write_key"\} [1-9]/, 'refused write keys are counted');
    assert.equal((await f.app.inject({ method: 'DELETE', url: `/api/v1/sources/${browser.id}`, headers: admin })).statusCode, 204, 'revoking twice is no error');
    assert.equal((await f.app.inject({ method: 'POST', url: `/api/v1/sources/${browser.id}/rotate`, headers: admin, payload: {} })).statusCode, 404, 'a revoked source does not rotate');
    assert.equal((await f.app.inject({ method: 'DELETE', url: '/api/v1/sources/no-such-source', headers: admin })).statusCode, 404);

    const actions = (await f.dbs.data.selectFrom('audit_entries').select('action').where('action', 'like', 'source.%').execute()).map((a) => a.action);
    for (const a of ['source.create', 'source.rotate', 'source.revoke']) assert.ok(actions.includes(a), `${a} is audited`);
  });
});
