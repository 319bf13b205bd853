// API tokens: created by admins only, shown once and stored hashed, listed without secrets, revoked; every change audited.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, it } from 'node:test';
import { ADMIN_TOKEN, basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';

type F = Awaited<ReturnType<typeof startFiducia>>;
type TokenInfo = { id: string; name: string; role: string; purposes: string[]; createdAt: string; revokedAt: string | null; suspendedAt: string | null; suspendedReason: string | null };

await eachDialect('tokens and roles', (dialect) => {
  let f: F;
  before(async () => {
    f = await startFiducia(dialect);
  });
  after(async () => f.stop());

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const create = (payload: object, token = ADMIN_TOKEN) => f.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: bearer(token), payload });
  const created = async (payload: object): Promise<{ id: string; token: string }> => {
    const r = await create(payload);
    assert.equal(r.statusCode, 201, r.body);
    return r.json() as { id: string; token: string };
  };
  const list = async (token = ADMIN_TOKEN): Promise<TokenInfo[]> => {
    const r = await f.app.inject({ method: 'GET', url: '/api/v1/tokens', headers: bearer(token) });
    assert.equal(r.statusCode, 200, r.body);
    return (r.json() as { tokens: TokenInfo[] }).tokens;
  };
  const revoke = (id: string, token = ADMIN_TOKEN) => f.app.inject({ method: 'DELETE', url: `/api/v1/tokens/${id}`, headers: bearer(token) });
  const code = (r: { json(): unknown }) => (r.json() as { error: { code: string } }).error.code;
  // Oldest first, through the audit log's query API.
  const audit = async (action: string) => (await f.audit.query({ action, limit: 100_000 })).entries.reverse();

  it('an admin creates a service token bound to purposes: shown once, stored hashed, audited', async () => {
    const t = await created({ name: 'shop frontend', role: 'service', purposes: ['personalization'] });
    assert.match(t.token, /^ft_[A-Za-z0-9_-]{20,}$/);
    const row = await f.dbs.data.selectFrom('tokens').selectAll().where('id', '=', t.id).executeTakeFirstOrThrow();
    assert.equal(row.token_hash, createHash('sha256').update(t.token).digest('hex'));
    assert.ok(!JSON.stringify(row).includes(t.token), 'the secret itself is not stored');
    assert.deepEqual(JSON.parse(row.purposes), ['personalization']);
    const entry = (await audit('token.create')).find((e) => e.details.tokenId === t.id);
    assert.ok(entry, 'token.create is audited');
    assert.notEqual(entry.actor, 'system', 'the admin token that created it is the actor');
    assert.ok(!JSON.stringify(entry).includes(t.token));

    const info = (await list()).find((x) => x.id === t.id);
    assert.deepEqual({ ...info, createdAt: undefined }, { id: t.id, name: 'shop frontend', role: 'service', purposes: ['personalization'], createdAt: undefined, revokedAt: null, suspendedAt: null, suspendedReason: null });
    const body = JSON.stringify(await list());
    assert.ok(!body.includes(t.token) && !body.includes(row.token_hash), 'the list holds neither secrets nor hashes');
  });

  it('validates roles and purposes', async () => {
    const cases: [object, number, string][] = [
      [{ name: 'x', role: 'service' }, 400, 'FIDUCIA_VALIDATION'],
      [{ name: 'x', role: 'service', purposes: [] }, 400, 'FIDUCIA_VALIDATION'],
      [{ name: 'x', role: 'service', purposes: ['telepathy'] }, 400, 'FIDUCIA_UNKNOWN_PURPOSE'],
      [{ name: 'x', role: 'dpo', purposes: ['marketing'] }, 400, 'FIDUCIA_VALIDATION'],
      [{ name: 'x', role: 'analyst', purposes: ['analytics'] }, 400, 'FIDUCIA_VALIDATION'],
      [{ name: 'x', role: 'root' }, 400, 'FIDUCIA_VALIDATION'],
      [{ name: '', role: 'dpo' }, 400, 'FIDUCIA_VALIDATION'],
      [{ name: 'x', role: 'dpo', extra: 1 }, 400, 'FIDUCIA_VALIDATION'],
      [{ name: 'x', role: 'service', purposes: ['analytics', 'analytics'] }, 400, 'FIDUCIA_VALIDATION'],
    ];
    for (const [payload, status, c] of cases) {
      const r = await create(payload);
      assert.equal(r.statusCode, status, `${JSON.stringify(payload)}: ${r.body}`);
      assert.equal(code(r), c, JSON.stringify(payload));
    }
    for (const role of ['admin', 'dpo', 'analyst']) await created({ name: role, role });
  });

  it('only admins manage tokens; other roles get 403, no token 401 (both audited)', async () => {
    const others = [await created({ name: 'd', role: 'dpo' }), await created({ name: 'a', role: 'analyst' }), await created({ name: 's', role: 'service', purposes: ['analytics'] })];
    const denied = (await audit('authz.denied')).length;
    for (const t of others) {
      const r = await create({ name: 'escalate', role: 'admin' }, t.token);
      assert.equal(r.statusCode, 403);
      assert.equal(code(r), 'FIDUCIA_FORBIDDEN');
      assert.equal((await f.app.inject({ method: 'GET', url: '/api/v1/tokens', headers: bearer(t.token) })).statusCode, 403);
      assert.equal((await revoke(others[0]!.id, t.token)).statusCode, 403);
    }
    assert.equal((await audit('authz.denied')).length, denied + 9);
    await f.authFailures.flush();
    const failed = (await audit('auth.failed')).length;
    assert.equal((await f.app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name: 'x', role: 'admin' } })).statusCode, 401);
    assert.equal((await f.app.inject({ method: 'GET', url: '/api/v1/tokens', headers: { authorization: basicAuth() } })).statusCode, 401, 'a write key is not a token');
    // Refused tokens are audited as one summary per window and network (test/auth-failures.test.ts).
    await f.authFailures.flush();
    const summaries = (await audit('auth.failed')).slice(failed);
    assert.equal(summaries.length, 1);
    assert.deepEqual(summaries[0]!.counts, { requests: 2, missing_token: 2 });
  });

  it('revocation: 204, the token stops working at once, audited; unknown ids 404; the last admin token stays', async () => {
    const t = await created({ name: 'temp', role: 'dpo' });
    assert.equal((await f.app.inject({ method: 'GET', url: '/api/v1/profiles/userId:nobody-here?purpose=service', headers: bearer(t.token) })).statusCode, 404);
    const r = await revoke(t.id);
    assert.equal(r.statusCode, 204);
    assert.equal(r.body, '');
    assert.equal((await f.app.inject({ method: 'GET', url: '/api/v1/profiles/userId:nobody-here?purpose=service', headers: bearer(t.token) })).statusCode, 401);
    assert.ok((await list()).find((x) => x.id === t.id)?.revokedAt);
    assert.equal((await revoke(t.id)).statusCode, 204, 'revoking twice is not an error');
    const entries = (await audit('token.revoke')).filter((e) => e.details.tokenId === t.id);
    assert.equal(entries.length, 1);
    assert.equal(entries[0]!.outcome, 'ok');
    assert.equal((await revoke('01234567-89ab-7def-8123-456789abcdef')).statusCode, 404);

    // Revoke every other admin token, then the last one is refused (409): someone must be able to manage tokens.
    const admins = (await list()).filter((x) => x.role === 'admin' && x.revokedAt === null);
    const bootstrap = await f.dbs.data.selectFrom('tokens').select('id').where('token_hash', '=', createHash('sha256').update(ADMIN_TOKEN).digest('hex')).executeTakeFirstOrThrow();
    for (const a of admins) if (a.id !== bootstrap.id) assert.equal((await revoke(a.id)).statusCode, 204);
    const last = await revoke(bootstrap.id);
    assert.equal(last.statusCode, 409);
    assert.equal(code(last), 'FIDUCIA_LAST_ADMIN_TOKEN');
    assert.equal((await list()).filter((x) => x.role === 'admin' && x.revokedAt === null).length, 1);
    const refusal = (await audit('token.revoke')).at(-1)!;
    assert.equal(refusal.outcome, 'denied');
  });

  it('a new service token reads its purpose and nothing else', async () => {
    const w = await f.app.inject({ method: 'POST', url: '/v1/consent', headers: { authorization: basicAuth() }, payload: { userId: 'tok-u1', purposes: { personalization: true, analytics: true }, noticeVersion: '2026-11' } });
    assert.equal(w.statusCode, 200);
    await f.app.inject({ method: 'POST', url: '/v1/identify', headers: { authorization: basicAuth() }, payload: { userId: 'tok-u1', traits: { favoriteCategory: 'bags', age: 40 } } });
    const t = await created({ name: 'personalizer', role: 'service', purposes: ['personalization'] });
    const ok = await f.app.inject({ method: 'GET', url: '/api/v1/profiles/userId:tok-u1?purpose=personalization', headers: bearer(t.token) });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual((ok.json() as { traits: unknown }).traits, { age: 40, favoriteCategory: 'bags' });
    const no = await f.app.inject({ method: 'GET', url: '/api/v1/profiles/userId:tok-u1?purpose=analytics', headers: bearer(t.token) });
    assert.equal(no.statusCode, 403);
    assert.equal(code(no), 'FIDUCIA_PURPOSE_NOT_ALLOWED');
  });
});
