// Exfiltration detection suspends console users through the real HTTP API on both databases: a DPO's console session
// reading past a (small) threshold is suspended, their session ends at once, a login with the right password answers
// 403 FIDUCIA_USER_SUSPENDED while a wrong one gets the usual 401, the alert names the user principal (audit, metrics,
// webhook), the subjects they read are listed from the audit log, and an admin reinstates them. The last console admin
// is suspended too, and an admin token reinstates them.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { DEFAULT_CONFIG_PATH } from '../src/services/config/config-loader.ts';
import { principalOf } from '../src/services/console/console-users.ts';
import { ADMIN_TOKEN, basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';
import { Receiver } from './helpers/receiver.ts';

type F = Awaited<ReturnType<typeof startFiducia>>;
type ErrorBody = { error: { code: string; message: string; details?: { reason?: string; userId?: string } } };
type MeBody = { user: { id: string; username: string; role: string }; csrfToken: string };
type UserView = { id: string; role: string; suspendedAt: string | null; suspendedReason: string | null };
type SubjectsPage = { principal: string; subjects: { subjectId: string; reads: Record<string, number> }[]; entries: number; next: string | null };
type Session = { jar: Map<string, string>; me: MeBody };

const THRESHOLD = 5;
const SUBJECTS = 12;
const NOW = Date.parse('2026-03-02T10:00:05Z');
const clock = NOW;
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const ADMIN = { username: 'admin@shop.example', password: 'correct horse battery staple' };
const DPO = { username: 'dpo@shop.example', password: 'dpo password long enough' };

function config(url: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'fiducia-console-exfiltration-'));
  const path = join(dir, 'fiducia.yaml');
  const detection = [
    'detection:',
    '  windows:',
    `    - { seconds: 60, subjects: ${THRESHOLD} }`,
    '  suspend: [service, dpo, admin]',
    `  webhook: { endpoint: "${url}/alerts", secretEnv: FIDUCIA_ALERT_WEBHOOK_SECRET, allowPrivateNetwork: true }`,
  ].join('\n');
  writeFileSync(path, `${readFileSync(DEFAULT_CONFIG_PATH, 'utf8')}\n${detection}\n`);
  return path;
}

const cookieHeader = (r: LightMyRequestResponse) => (r.cookies as { name: string; value: string }[]).map((c) => `${c.name}=${c.value}`).join('; ');

await eachDialect('console users and exfiltration detection', (dialect) => {
  const receiver = new Receiver();
  let f: F;
  let adminId = '';
  let dpoId = '';
  const login = (who: { username: string; password: string }, ip = '198.51.100.9') => f.app.inject({ method: 'POST', url: '/api/v1/console/login', payload: who, remoteAddress: ip });
  async function session(who: { username: string; password: string }): Promise<Session> {
    const r = await login(who);
    assert.equal(r.statusCode, 200, r.body);
    return { jar: new Map([['cookie', cookieHeader(r)]]), me: r.json<MeBody>() };
  }
  const headers = (s: Session) => ({ cookie: s.jar.get('cookie')!, 'x-csrf-token': s.me.csrfToken });
  const me = (s: Session) => f.app.inject({ method: 'GET', url: '/api/v1/console/me', headers: headers(s) });
  const read = (s: Session, i: number) => f.app.inject({ method: 'GET', url: `/api/v1/profiles/userId:u${i}?purpose=personalization`, headers: headers(s) });
  const alertsFor = async (principal: string) => (await f.audit.query({ action: 'exfiltration.alert', limit: 100 })).entries.filter((e) => e.details.principal === principal);
  const users = async () => (await f.app.inject({ method: 'GET', url: '/api/v1/console/users', headers: bearer(ADMIN_TOKEN) })).json<{ users: UserView[] }>().users;

  before(async () => {
    await receiver.start();
    f = await startFiducia(dialect, {
      configPath: config(receiver.url),
      destinationSecrets: { FIDUCIA_ALERT_WEBHOOK_SECRET: receiver.secret },
      console: { now: () => clock },
      exfiltration: { now: () => clock, flushMs: 60_000 },
      rightsSweepMs: 0,
      auditCheckpointSeconds: 0,
    });
    const batch = Array.from({ length: SUBJECTS }, (_, i) => ({ type: 'identify', userId: `u${i}`, messageId: `m-${i}`, traits: { favoriteCategory: 'books' }, context: { consent: { categoryPreferences: { personalization: true } } } }));
    assert.equal((await f.app.inject({ method: 'POST', url: '/v1/batch', headers: { authorization: basicAuth() }, payload: { batch } })).statusCode, 200);
    const setup = await f.app.inject({ method: 'POST', url: '/api/v1/console/setup', payload: { bootstrapToken: ADMIN_TOKEN, ...ADMIN } });
    assert.equal(setup.statusCode, 201, setup.body);
    adminId = setup.json<{ user: { id: string } }>().user.id;
    const made = await f.app.inject({ method: 'POST', url: '/api/v1/console/users', headers: bearer(ADMIN_TOKEN), payload: { ...DPO, role: 'dpo' } });
    assert.equal(made.statusCode, 201, made.body);
    dpoId = made.json<{ user: { id: string } }>().user.id;
  });
  after(async () => {
    await f.stop();
    await receiver.stop();
  });

  it('suspends a DPO whose session reads past the threshold: every session ends at once and the alert names the user', async () => {
    const s = await session(DPO);
    const other = await session(DPO);
    for (let i = 0; i < THRESHOLD; i++) {
      const r = await read(s, i);
      assert.equal(r.statusCode, 200, `the read that crosses is answered: ${r.body}`);
    }
    const next = await me(s);
    assert.equal(next.statusCode, 401, `the next request is refused: ${next.body}`);
    assert.equal(next.json<ErrorBody>().error.code, 'FIDUCIA_UNAUTHORIZED');
    assert.equal((await me(other)).statusCode, 401, 'every session of the user ended');

    const principal = principalOf(dpoId);
    const alerts = await alertsFor(principal);
    assert.equal(alerts.length, 1, JSON.stringify(alerts));
    assert.deepEqual(alerts[0]!.details, { principal, role: 'dpo', windowSeconds: 60, threshold: THRESHOLD, exact: true, response: 'suspended' });
    const suspension = (await f.audit.query({ action: 'console.user.suspend', limit: 10 })).entries.find((e) => e.details.userId === dpoId);
    assert.ok(suspension, 'the suspension is audited');
    assert.equal(suspension.actor, 'system');
    assert.equal(suspension.outcome, 'ok');
    assert.deepEqual(suspension.counts, { sessions: 2 });
    assert.deepEqual(suspension.details, { userId: dpoId, role: 'dpo', reason: 'exfiltration', windowSeconds: 60, subjects: THRESHOLD });
    assert.equal((await f.audit.verify()).ok, true, 'the hash chain still verifies');

    const metrics = await f.app.inject({ method: 'GET', url: '/metrics' });
    assert.match(metrics.body, /fiducia_exfiltration_alerts_total\{window="60",role="dpo",response="suspended"\} 1/);
    await f.exfiltration.flush();
    const post = receiver.received.find((m) => m.path === '/alerts' && JSON.stringify(m.body).includes(principal));
    assert.ok(post?.verified, 'a signed webhook post');
    assert.deepEqual((post.body as { principal: unknown }).principal, { kind: 'user', id: principal, role: 'dpo' });

    const listed = (await users()).find((u) => u.id === dpoId)!;
    assert.equal(listed.suspendedReason, 'exfiltration');
    assert.equal(listed.suspendedAt, new Date(clock).toISOString());
    assert.equal((await users()).find((u) => u.id === adminId)!.suspendedAt, null);
  });

  it('tells only whoever has the right password that the user is suspended', async () => {
    const right = await login(DPO);
    assert.equal(right.statusCode, 403, right.body);
    assert.deepEqual(right.json<ErrorBody>().error.details, { reason: 'user_suspended', userId: dpoId });
    assert.equal(right.json<ErrorBody>().error.code, 'FIDUCIA_USER_SUSPENDED');
    assert.equal(right.cookies.length, 0, 'no session cookie');
    const wrong = await login({ username: DPO.username, password: 'not the password at all' });
    const unknown = await login({ username: 'nobody@shop.example', password: 'not the password at all' });
    assert.equal(wrong.statusCode, 401, wrong.body);
    assert.equal(wrong.body, unknown.body, 'a wrong password for a suspended user looks like an unknown user');
    const denied = (await f.audit.query({ action: 'console.login', limit: 100 })).entries.filter((e) => e.outcome === 'denied' && e.details.userId === dpoId);
    assert.equal(denied.length, 1, 'the refused login of the suspended user is audited');
  });

  it('lists the subjects the user read from the audit log', async () => {
    const want = new Set<string>();
    for (let i = 0; i < THRESHOLD; i++) want.add((await f.audit.subjectFor({ kind: 'userId', value: `u${i}` }))!);
    const r = await f.app.inject({ method: 'GET', url: `/api/v1/console/users/${dpoId}/subjects-read?limit=1000`, headers: bearer(ADMIN_TOKEN) });
    assert.equal(r.statusCode, 200, r.body);
    const page = r.json<SubjectsPage>();
    assert.equal(page.principal, principalOf(dpoId));
    assert.deepEqual(new Set(page.subjects.map((x) => x.subjectId)), want);
    for (const x of page.subjects) assert.deepEqual(x.reads, { 'profile.read': 1 });
    assert.equal(page.next, null);
    const none = await f.app.inject({ method: 'GET', url: '/api/v1/console/users/no-such-user/subjects-read', headers: bearer(ADMIN_TOKEN) });
    assert.equal(none.statusCode, 404, none.body);
    const bad = await f.app.inject({ method: 'GET', url: `/api/v1/console/users/${dpoId}/subjects-read?since=yesterday`, headers: bearer(ADMIN_TOKEN) });
    assert.equal(bad.statusCode, 400, bad.body);
    const audited = (await f.audit.query({ action: 'exfiltration.subjects_read', limit: 10 })).entries.find((e) => e.details.userId === dpoId);
    assert.ok(audited && audited.counts.subjects === THRESHOLD, 'the listing is audited with counts, not ids');
  });

  it('an admin reinstates the user; the login works again', async () => {
    const admin = await session(ADMIN);
    const url = `/api/v1/console/users/${dpoId}/reinstate`;
    const noCsrf = await f.app.inject({ method: 'POST', url, headers: { cookie: admin.jar.get('cookie')! } });
    assert.equal(noCsrf.statusCode, 403, 'a session needs the CSRF token');
    const ok = await f.app.inject({ method: 'POST', url, headers: headers(admin) });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(ok.json(), { id: dpoId, status: 'active' });
    const again = await f.app.inject({ method: 'POST', url, headers: headers(admin) });
    assert.equal(again.statusCode, 409, again.body);
    assert.equal(again.json<ErrorBody>().error.code, 'FIDUCIA_REQUEST_STATE');
    const unknown = await f.app.inject({ method: 'POST', url: '/api/v1/console/users/no-such-user/reinstate', headers: headers(admin) });
    assert.equal(unknown.statusCode, 404, unknown.body);
    const entry = (await f.audit.query({ action: 'console.user.reinstate', limit: 10 })).entries.find((e) => e.details.userId === dpoId && e.outcome === 'ok');
    assert.equal(entry?.actor, principalOf(adminId), 'audited with the admin as actor');
    assert.equal((await users()).find((u) => u.id === dpoId)!.suspendedAt, null);

    const s = await session(DPO);
    assert.equal((await me(s)).statusCode, 200);
    // The reads that crossed have alerted once: reading on within the same span does not suspend again.
    assert.equal((await read(s, THRESHOLD)).statusCode, 200);
    assert.equal((await me(s)).statusCode, 200);
    // A DPO may not reinstate anyone.
    const byDpo = await f.app.inject({ method: 'POST', url, headers: headers(s) });
    assert.equal(byDpo.statusCode, 403, byDpo.body);
  });

  it('suspends the last console admin too; nobody reinstates themself, an admin token does', async () => {
    const admin = await session(ADMIN);
    for (let i = 0; i < THRESHOLD; i++) assert.equal((await read(admin, SUBJECTS - 1 - i)).statusCode, 200);
    assert.equal((await me(admin)).statusCode, 401, 'the admin session ended');
    assert.equal((await alertsFor(principalOf(adminId)))[0]?.details.response, 'suspended');
    assert.equal((await login(ADMIN)).json<ErrorBody>().error.code, 'FIDUCIA_USER_SUSPENDED');
    assert.equal(await f.console.reinstateUser(adminId, principalOf(adminId)), 'self', 'a suspended admin cannot lift their own suspension');
    const byToken = await f.app.inject({ method: 'POST', url: `/api/v1/console/users/${adminId}/reinstate`, headers: bearer(ADMIN_TOKEN) });
    assert.equal(byToken.statusCode, 200, byToken.body);
    assert.equal((await me(await session(ADMIN))).statusCode, 200);
  });
});
