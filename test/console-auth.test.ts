// Console authentication through the real HTTP API on both databases: the first admin from the bootstrap token, login
// with an httpOnly SameSite=Strict cookie, CSRF on state-changing requests, roles as in the API, logout, idle expiry,
// disabled users, the audit trail, and reads counted by exfiltration detection under `user:<id>`.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { DisclosureRepo } from '../src/store/disclosure-repo.ts';
import { ADMIN_TOKEN, basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';

type F = Awaited<ReturnType<typeof startFiducia>>;
type ErrorBody = { error: { code: string; message: string; details?: { reason?: string } } };
type MeBody = { user: { id: string; username: string; role: string }; csrfToken: string };

const START = Date.parse('2026-03-02T10:00:00Z');
let clock = START;
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const ADMIN_PASSWORD = 'correct horse battery staple';
const ANALYST_PASSWORD = 'analyst password 12345';
/** Whichever of two simultaneous setups won (the first test). */
let adminName = '';

/** The cookies a response sets, as one `cookie` request header (name=value pairs only). */
function cookiesOf(r: LightMyRequestResponse, jar: Map<string, string> = new Map()): Map<string, string> {
  for (const c of r.cookies as { name: string; value: string }[]) jar.set(c.name, c.value);
  return jar;
}
const cookieHeader = (jar: Map<string, string>) => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');

await eachDialect('console authentication', (dialect) => {
  let f: F;
  const login = (username: string, password: string, ip = '198.51.100.7') =>
    f.app.inject({ method: 'POST', url: '/api/v1/console/login', payload: { username, password }, remoteAddress: ip });
  async function session(username: string, password: string): Promise<{ jar: Map<string, string>; me: MeBody }> {
    const r = await login(username, password);
    assert.equal(r.statusCode, 200, r.body);
    return { jar: cookiesOf(r), me: r.json<MeBody>() };
  }
  const withSession = (s: { jar: Map<string, string>; me: MeBody }, csrf = true) => ({ cookie: cookieHeader(s.jar), ...(csrf ? { 'x-csrf-token': s.me.csrfToken } : {}) });

  before(async () => {
    f = await startFiducia(dialect, { console: { now: () => clock }, rightsSweepMs: 0, auditCheckpointSeconds: 0, exfiltration: { now: () => clock, flushMs: 60_000 } });
  });
  after(async () => {
    await f.stop();
  });

  it('sets up the first admin only with an admin token, and only once', async () => {
    const url = '/api/v1/console/setup';
    const wrong = await f.app.inject({ method: 'POST', url, payload: { bootstrapToken: 'not-the-admin-token-000', username: 'Admin@Example.com', password: ADMIN_PASSWORD } });
    assert.equal(wrong.statusCode, 401, wrong.body);
    const analyst = await f.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: bearer(ADMIN_TOKEN), payload: { name: 'analyst', role: 'analyst' } });
    const byAnalyst = await f.app.inject({ method: 'POST', url, payload: { bootstrapToken: analyst.json<{ token: string }>().token, username: 'x@example.com', password: ADMIN_PASSWORD } });
    assert.equal(byAnalyst.statusCode, 401, 'a non-admin token cannot set up the console');
    const short = await f.app.inject({ method: 'POST', url, payload: { bootstrapToken: ADMIN_TOKEN, username: 'admin@example.com', password: 'short' } });
    assert.equal(short.statusCode, 400, 'a password under 12 characters is refused');
    // Two setups at once: exactly one creates the first admin.
    const raced = await Promise.all([
      f.app.inject({ method: 'POST', url, payload: { bootstrapToken: ADMIN_TOKEN, username: ' Admin@Example.com ', password: ADMIN_PASSWORD } }),
      f.app.inject({ method: 'POST', url, payload: { bootstrapToken: ADMIN_TOKEN, username: 'rival@example.com', password: ADMIN_PASSWORD } }),
    ]);
    assert.deepEqual(raced.map((r) => r.statusCode).sort(), [201, 409], raced.map((r) => r.body).join(' | '));
    const ok = raced.find((r) => r.statusCode === 201)!;
    adminName = ok.json<{ user: { username: string } }>().user.username;
    assert.ok(['admin@example.com', 'rival@example.com'].includes(adminName), `stored trimmed and in lower case: ${adminName}`);
    assert.deepEqual({ ...ok.json<{ user: { username: string; role: string } }>().user, id: '', createdAt: '' }, { id: '', createdAt: '', username: adminName, role: 'admin', disabledAt: null, suspendedAt: null, suspendedReason: null });
    const again = await f.app.inject({ method: 'POST', url, payload: { bootstrapToken: ADMIN_TOKEN, username: 'second@example.com', password: ADMIN_PASSWORD } });
    assert.equal(again.statusCode, 409, again.body);
    assert.equal(again.json<ErrorBody>().error.code, 'FIDUCIA_CONSOLE_SETUP_DONE');
  });

  it('logs in with an httpOnly, SameSite=Strict cookie; a wrong password and an unknown user get the same answer', async () => {
    const r = await login(adminName.toUpperCase(), ADMIN_PASSWORD);
    assert.equal(r.statusCode, 200, r.body);
    const set = ([] as string[]).concat(r.headers['set-cookie'] ?? []);
    const cookie = set.find((c) => c.startsWith('fiducia_session='));
    assert.ok(cookie, `a session cookie is set: ${set.join(' | ')}`);
    assert.match(cookie, /; HttpOnly/);
    assert.match(cookie, /; SameSite=Strict/);
    assert.match(cookie, /; Path=\//);
    assert.doesNotMatch(cookie, /; Secure/, 'no Secure flag when the public URL is not https');
    assert.match(cookie, /^fiducia_session=[A-Za-z0-9_-]{43};/, 'a 256-bit random id');
    const me = r.json<MeBody>();
    assert.equal(me.user.role, 'admin');
    assert.ok(me.csrfToken.length > 10, 'the CSRF token comes with the login');
    const wrong = await login(adminName, 'not the password at all', '198.51.100.8');
    const unknown = await login('nobody@example.com', 'not the password at all', '198.51.100.8');
    assert.equal(wrong.statusCode, 401);
    assert.equal(unknown.statusCode, 401);
    assert.deepEqual(wrong.json(), unknown.json(), 'no user enumeration');
    assert.equal(wrong.headers['set-cookie'], undefined, 'no cookie for a failed login');
    await f.authFailures.flush();
    const stored = await f.app.inject({ method: 'GET', url: '/api/v1/audit?action=auth.failed&limit=50', headers: bearer(ADMIN_TOKEN) });
    assert.match(stored.body, /bad_password/, 'failed logins reach the audit log in the auth.failed summary');
    assert.doesNotMatch(stored.body, /nobody@example\.com|not the password/, 'neither the name nor the password is written');
  });

  it('throttles failed logins per network', async () => {
    for (let i = 0; i < 10; i++) assert.equal((await login(adminName, `wrong password ${i}`, '203.0.113.50')).statusCode, 401);
    const limited = await login(adminName, ADMIN_PASSWORD, '203.0.113.51');
    assert.equal(limited.statusCode, 429, 'the same /24 network is refused even with the right password');
    assert.equal((await login(adminName, ADMIN_PASSWORD, '192.0.2.9')).statusCode, 200, 'another network is not');
  });

  it('refuses a state-changing request without the CSRF token and changes nothing; with it, it succeeds', async () => {
    const admin = await session(adminName, ADMIN_PASSWORD);
    const payload = { username: 'analyst@example.com', role: 'analyst', password: ANALYST_PASSWORD };
    const without = await f.app.inject({ method: 'POST', url: '/api/v1/console/users', headers: withSession(admin, false), payload });
    assert.equal(without.statusCode, 403, without.body);
    assert.equal(without.json<ErrorBody>().error.code, 'FIDUCIA_CSRF');
    const forged = await f.app.inject({ method: 'POST', url: '/api/v1/console/users', headers: { ...withSession(admin, false), 'x-csrf-token': 'forged-token' }, payload });
    assert.equal(forged.json<ErrorBody>().error.code, 'FIDUCIA_CSRF');
    const list = await f.app.inject({ method: 'GET', url: '/api/v1/console/users', headers: withSession(admin, false) });
    assert.equal(list.statusCode, 200, 'reads need no CSRF token');
    assert.deepEqual(list.json<{ users: { username: string }[] }>().users.map((u) => u.username), [adminName], 'nothing was created');
    const token = await f.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: withSession(admin, false), payload: { name: 'x', role: 'analyst' } });
    assert.equal(token.statusCode, 403, 'the existing API is covered too');
    const ok = await f.app.inject({ method: 'POST', url: '/api/v1/console/users', headers: withSession(admin), payload });
    assert.equal(ok.statusCode, 201, ok.body);
    // A token minted for another session does not pass.
    const other = await session(adminName, ADMIN_PASSWORD);
    const crossed = await f.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: { cookie: cookieHeader(admin.jar), 'x-csrf-token': other.me.csrfToken }, payload: { name: 'x', role: 'analyst' } });
    assert.equal(crossed.statusCode, 403, 'the CSRF token is bound to its session');
    const bearerOnly = await f.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: bearer(ADMIN_TOKEN), payload: { name: 'no csrf needed', role: 'analyst' } });
    assert.equal(bearerOnly.statusCode, 201, 'bearer-token requests are not affected');
  });

  it('reads the API with the user role: an analyst session cannot create tokens, an admin session can', async () => {
    const analyst = await session('analyst@example.com', ANALYST_PASSWORD);
    assert.equal(analyst.me.user.role, 'analyst');
    const refused = await f.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: withSession(analyst), payload: { name: 'x', role: 'analyst' } });
    assert.equal(refused.statusCode, 403, refused.body);
    assert.equal(refused.json<ErrorBody>().error.code, 'FIDUCIA_FORBIDDEN');
    const users = await f.app.inject({ method: 'GET', url: '/api/v1/console/users', headers: withSession(analyst) });
    assert.equal(users.statusCode, 403, 'an analyst does not manage users');
    const admin = await session(adminName, ADMIN_PASSWORD);
    const created = await f.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: withSession(admin), payload: { name: 'made in the console', role: 'analyst' } });
    assert.equal(created.statusCode, 201, created.body);
    const audit = await f.app.inject({ method: 'GET', url: '/api/v1/audit?action=token.create&limit=50', headers: bearer(ADMIN_TOKEN) });
    assert.ok(audit.body.includes(`"actor":"user:${admin.me.user.id}"`), `the audit log names the console user: ${audit.body.slice(0, 400)}`);
    const me = await f.app.inject({ method: 'GET', url: '/api/v1/console/me', headers: bearer(ADMIN_TOKEN) });
    assert.equal(me.statusCode, 403, 'a token has no console session');
  });

  it('logout ends the session', async () => {
    const s = await session('analyst@example.com', ANALYST_PASSWORD);
    assert.equal((await f.app.inject({ method: 'GET', url: '/api/v1/console/me', headers: withSession(s) })).statusCode, 200);
    const out = await f.app.inject({ method: 'POST', url: '/api/v1/console/logout', headers: withSession(s) });
    assert.equal(out.statusCode, 204, out.body);
    const after = await f.app.inject({ method: 'GET', url: '/api/v1/console/me', headers: withSession(s) });
    assert.equal(after.statusCode, 401, 'the old cookie no longer works');
  });

  it('ends a session idle for longer than the idle limit', async () => {
    const s = await session('analyst@example.com', ANALYST_PASSWORD);
    clock += 29 * 60_000;
    assert.equal((await f.app.inject({ method: 'GET', url: '/api/v1/console/me', headers: withSession(s) })).statusCode, 200, 'used within 30 minutes');
    clock += 29 * 60_000;
    assert.equal((await f.app.inject({ method: 'GET', url: '/api/v1/console/me', headers: withSession(s) })).statusCode, 200, 'each use restarts the idle clock');
    clock += 31 * 60_000;
    assert.equal((await f.app.inject({ method: 'GET', url: '/api/v1/console/me', headers: withSession(s) })).statusCode, 401, 'idle for 31 minutes');
  });

  it('ends a session 12 hours after login however busy it is', async () => {
    const s = await session('analyst@example.com', ANALYST_PASSWORD);
    const loggedIn = clock;
    while (clock + 25 * 60_000 <= loggedIn + 12 * 3_600_000) {
      clock += 25 * 60_000;
      assert.equal((await f.app.inject({ method: 'GET', url: '/api/v1/console/me', headers: withSession(s) })).statusCode, 200, `in use at ${(clock - loggedIn) / 60_000} minutes`);
    }
    clock = loggedIn + 12 * 3_600_000 + 1;
    assert.equal((await f.app.inject({ method: 'GET', url: '/api/v1/console/me', headers: withSession(s) })).statusCode, 401, 'past the absolute limit');
  });

  it('a password change ends the other sessions; a disabled user is locked out at once', async () => {
    const a = await session('analyst@example.com', ANALYST_PASSWORD);
    const b = await session('analyst@example.com', ANALYST_PASSWORD);
    const wrong = await f.app.inject({ method: 'POST', url: '/api/v1/console/password', headers: withSession(a), payload: { currentPassword: 'wrong wrong wrong', newPassword: 'a new password 123' } });
    assert.equal(wrong.statusCode, 403);
    const changed = await f.app.inject({ method: 'POST', url: '/api/v1/console/password', headers: withSession(a), payload: { currentPassword: ANALYST_PASSWORD, newPassword: 'a new password 123' } });
    assert.equal(changed.statusCode, 204, changed.body);
    assert.equal((await f.app.inject({ method: 'GET', url: '/api/v1/console/me', headers: withSession(b) })).statusCode, 401, 'the other session ended');
    assert.equal((await f.app.inject({ method: 'GET', url: '/api/v1/console/me', headers: withSession(a) })).statusCode, 200, 'this one goes on');
    assert.equal((await login('analyst@example.com', ANALYST_PASSWORD)).statusCode, 401, 'the old password no longer works');
    const admin = await session(adminName, ADMIN_PASSWORD);
    const disabled = await f.app.inject({ method: 'POST', url: `/api/v1/console/users/${a.me.user.id}/disable`, headers: withSession(admin) });
    assert.equal(disabled.statusCode, 204, disabled.body);
    assert.equal((await f.app.inject({ method: 'GET', url: '/api/v1/console/me', headers: withSession(a) })).statusCode, 401, 'the session stopped working');
    assert.equal((await login('analyst@example.com', 'a new password 123')).statusCode, 401, 'and no new one starts');
    const last = await f.app.inject({ method: 'POST', url: `/api/v1/console/users/${admin.me.user.id}/disable`, headers: withSession(admin) });
    assert.equal(last.statusCode, 409, 'the last admin cannot be disabled');
    const audit = await f.app.inject({ method: 'GET', url: '/api/v1/audit?limit=200', headers: bearer(ADMIN_TOKEN) });
    for (const action of ['console.setup', 'console.login', 'console.logout', 'console.user.create', 'console.user.disable', 'console.password.change']) assert.ok(audit.body.includes(`"${action}"`), `${action} is audited`);
    assert.ok(!audit.body.includes(ANALYST_PASSWORD) && !audit.body.includes('analyst@example.com'), 'no password or user name in the audit log');
  });

  it('counts reads by a console session under user:<id> for exfiltration detection', async () => {
    const batch = [{ type: 'identify', userId: 'c1', messageId: 'console-c1', traits: { favoriteCategory: 'books' }, context: { consent: { categoryPreferences: { personalization: true } } } }];
    assert.equal((await f.app.inject({ method: 'POST', url: '/v1/batch', headers: { authorization: basicAuth() }, payload: { batch } })).statusCode, 200);
    const admin = await session(adminName, ADMIN_PASSWORD);
    const read = await f.app.inject({ method: 'GET', url: '/api/v1/profiles/userId:c1?purpose=personalization', headers: withSession(admin, false) });
    assert.equal(read.statusCode, 200, read.body);
    await f.exfiltration.flush();
    const buckets = await new DisclosureRepo(f.dbs.store).bucketsSince(`user:${admin.me.user.id}`, 0);
    assert.ok(buckets.length > 0, 'the console user has exfiltration windows of their own');
  });
});
