// Exfiltration detection through the real HTTP API: a service token reading 1,000 different profiles within a minute is
// suspended (refused with 403 until an admin reinstates it, across a restart and across processes), with the alert in
// the audit log, on /metrics and posted as a signed webhook, and the subjects it read listed back from the audit log.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { createFiducia, type Fiducia } from '../src/app.ts';
import { DEFAULT_CONFIG_PATH } from '../src/services/config/config-loader.ts';
import { ADMIN_TOKEN, basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';
import { Receiver } from './helpers/receiver.ts';

type F = Awaited<ReturnType<typeof startFiducia>>;
type ErrorBody = { error: { code: string; details?: { reason?: string; tokenId?: string } } };
type SubjectsPage = { subjects: { subjectId: string; reads: Record<string, number> }[]; segmentPages: unknown[]; entries: number; next: string | null };

const SUBJECTS = 1100;
const THRESHOLD = 1000;
/** Every process of a test sees this time: the reads fall within one minute however slow the machine is. */
const NOW = Date.parse('2026-03-02T10:00:05Z');
let clock = NOW;
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

function configWithWebhook(url: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'fiducia-exfiltration-'));
  const path = join(dir, 'fiducia.yaml');
  // The shipped thresholds, written out, plus a webhook on loopback (which needs the private-network opt-in).
  const detection = [
    'detection:',
    '  windows:',
    `    - { seconds: 60, subjects: ${THRESHOLD} }`,
    '    - { seconds: 3600, subjects: 10000 }',
    '    - { seconds: 86400, subjects: 50000 }',
    '  suspend: [service]',
    `  webhook: { endpoint: "${url}/alerts", secretEnv: FIDUCIA_ALERT_WEBHOOK_SECRET, allowPrivateNetwork: true }`,
  ].join('\n');
  writeFileSync(path, `${readFileSync(DEFAULT_CONFIG_PATH, 'utf8')}\n${detection}\n`);
  return path;
}

await eachDialect('exfiltration detection', (dialect) => {
  const receiver = new Receiver();
  let f: F;
  let g: Fiducia | undefined;
  /** The app requests go to: the first process, then the one started after it on the same storage. */
  let app: () => Fiducia['app'] = () => f.app;

  before(async () => {
    await receiver.start();
    f = await startFiducia(dialect, {
      configPath: configWithWebhook(receiver.url),
      destinationSecrets: { FIDUCIA_ALERT_WEBHOOK_SECRET: receiver.secret },
      exfiltration: { now: () => clock, flushMs: 60_000 },
      rightsSweepMs: 0,
      auditCheckpointSeconds: 0,
    });
    for (let from = 0; from < SUBJECTS; from += 100) {
      const batch = Array.from({ length: 100 }, (_, i) => ({ type: 'identify', userId: `u${from + i}`, messageId: `m-${from + i}`, traits: { favoriteCategory: i % 2 === 0 || from + i < THRESHOLD ? 'books' : 'films' }, context: { consent: { categoryPreferences: { personalization: true } } } }));
      const r = await f.app.inject({ method: 'POST', url: '/v1/batch', headers: { authorization: basicAuth() }, payload: { batch } });
      assert.equal(r.statusCode, 200, r.body);
    }
  });
  after(async () => {
    await g?.close();
    await f.stop();
    await receiver.stop();
  });

  const token = async (role: string, purposes?: string[]): Promise<{ id: string; token: string }> => {
    const r = await app().inject({ method: 'POST', url: '/api/v1/tokens', headers: bearer(ADMIN_TOKEN), payload: { name: `${role} reader`, role, ...(purposes ? { purposes } : {}) } });
    assert.equal(r.statusCode, 201, r.body);
    return r.json();
  };
  const read = (t: string, i: number) => app().inject({ method: 'GET', url: `/api/v1/profiles/userId:u${i}?purpose=personalization`, headers: bearer(t) });
  const readOk = async (t: string, i: number): Promise<void> => {
    const r = await read(t, i);
    assert.equal(r.statusCode, 200, `read of u${i}: ${r.body}`);
  };
  const alertsFor = async (p: Fiducia, tokenId: string) => (await p.audit.query({ action: 'exfiltration.alert', limit: 1000 })).entries.filter((e) => e.details.principal === tokenId);
  const suspendedAt = async (p: Fiducia, tokenId: string) => (await p.access.tokenById(tokenId))?.suspended_at ?? null;

  it('a service token reading 1,000 different profiles within a minute is suspended, alerted, listed and reinstated', async () => {
    const s = await token('service', ['personalization']);
    for (let i = 0; i < THRESHOLD; i++) await readOk(s.token, i);

    // The 1,000th subject crossed the threshold: the next request with the token is refused.
    const refused = await read(s.token, THRESHOLD);
    assert.equal(refused.statusCode, 403, refused.body);
    const body = refused.json<ErrorBody>();
    assert.equal(body.error.code, 'FIDUCIA_TOKEN_SUSPENDED');
    assert.equal(body.error.details?.reason, 'token_suspended');
    const other = await app().inject({ method: 'GET', url: '/api/v1/segments', headers: bearer(s.token) });
    assert.equal(other.statusCode, 403, 'every route refuses it, not only profile reads');

    // The alert: one audit entry, the subject count and the token id only.
    const alerts = await alertsFor(f, s.id);
    assert.equal(alerts.length, 1, JSON.stringify(alerts));
    const alert = alerts[0]!;
    assert.equal(alert.actor, 'system');
    assert.equal(alert.subjectId, null, 'the alert names no subject');
    assert.deepEqual(alert.fields, []);
    assert.deepEqual(alert.counts, { subjects: THRESHOLD });
    assert.deepEqual(alert.details, { principal: s.id, role: 'service', windowSeconds: 60, threshold: THRESHOLD, exact: true, response: 'suspended' });
    const suspension = (await f.audit.query({ action: 'token.suspend', limit: 10 })).entries.find((e) => e.details.tokenId === s.id);
    assert.ok(suspension && suspension.outcome === 'ok', 'the suspension is audited');
    const verify = await f.audit.verify();
    assert.equal(verify.ok, true, 'the hash chain still verifies');

    // On /metrics.
    const metrics = await app().inject({ method: 'GET', url: '/metrics' });
    assert.match(metrics.body, /fiducia_exfiltration_alerts_total\{window="60",role="service",response="suspended"\} 1/);

    // The webhook, signed with the Standard Webhooks scheme, verified by the receiver.
    await f.exfiltration.flush();
    const posts = receiver.received.filter((m) => m.path === '/alerts');
    assert.equal(posts.length, 1, 'one webhook post');
    const post = posts[0]!;
    assert.equal(post.verified, true, 'the signature verifies with the configured secret');
    assert.deepEqual({ ...post.body, id: undefined, timestamp: undefined }, {
      type: 'exfiltration.alert',
      id: undefined,
      timestamp: undefined,
      principal: { kind: 'token', id: s.id, role: 'service' },
      windowSeconds: 60,
      threshold: THRESHOLD,
      subjects: THRESHOLD,
      exact: true,
      response: 'suspended',
    });
    assert.ok(!JSON.stringify(post.body).includes('u1') && !JSON.stringify(post.body).includes('books'), 'nothing personal in the post');

    // The subjects it read, from the audit log: exactly the 1,000 subject ids, paged.
    const want = new Set<string>();
    for (let i = 0; i < THRESHOLD; i++) want.add((await f.audit.subjectFor({ kind: 'userId', value: `u${i}` }))!);
    const got = new Set<string>();
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r: LightMyRequestResponse = await app().inject({ method: 'GET', url: `/api/v1/tokens/${s.id}/subjects-read?limit=300${cursor ? `&cursor=${cursor}` : ''}`, headers: bearer(ADMIN_TOKEN) });
      assert.equal(r.statusCode, 200, r.body);
      const page = r.json<SubjectsPage>();
      for (const x of page.subjects) {
        assert.deepEqual(x.reads, { 'profile.read': 1 });
        got.add(x.subjectId);
      }
      cursor = page.next;
      pages++;
      assert.ok(pages <= 10, 'pages end');
    } while (cursor);
    assert.equal(pages, 4, '1,000 entries in pages of 300');
    assert.deepEqual([...got].sort(), [...want].sort(), 'the subject ids it read, and only those');
    assert.ok(!JSON.stringify(got).includes('u1'), 'pseudonymous ids, not identities');

    // Suspension is stored with the token: a new process on the same storage refuses it too.
    await f.close();
    g = await createFiducia(f.store.options);
    const started = g;
    app = () => started.app;
    const again = await read(s.token, 0);
    assert.equal(again.statusCode, 403, 'still suspended after a restart');
    assert.equal(again.json<ErrorBody>().error.code, 'FIDUCIA_TOKEN_SUSPENDED');

    // Only an admin reinstates it, on record; then reads work again.
    const dpo = await token('dpo');
    const byDpo = await app().inject({ method: 'POST', url: `/api/v1/tokens/${s.id}/reinstate`, headers: bearer(dpo.token) });
    assert.equal(byDpo.statusCode, 403, byDpo.body);
    const dpoList = await app().inject({ method: 'GET', url: `/api/v1/tokens/${s.id}/subjects-read?limit=1`, headers: bearer(dpo.token) });
    assert.equal(dpoList.statusCode, 200, 'a DPO may list what it read');
    const ok = await app().inject({ method: 'POST', url: `/api/v1/tokens/${s.id}/reinstate`, headers: bearer(ADMIN_TOKEN) });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(ok.json(), { id: s.id, status: 'active' });
    const reinstated = (await started.audit.query({ action: 'token.reinstate', limit: 10 })).entries.find((e) => e.details.tokenId === s.id);
    assert.ok(reinstated && reinstated.actor !== 'system', 'the reinstatement is audited with the admin as actor');
    await readOk(s.token, 0);
    await readOk(s.token, THRESHOLD);
    // A minute on, the reads that crossed are still within the span the window measures (7/6 of it): one new subject
    // must not suspend it again for them.
    clock = NOW + 62_000;
    await readOk(s.token, THRESHOLD + 1);
    await started.exfiltration.flush();
    assert.equal(await suspendedAt(started, s.id), null, 'not suspended again for the reads that were reinstated');
    clock = NOW;
    const twice = await app().inject({ method: 'POST', url: `/api/v1/tokens/${s.id}/reinstate`, headers: bearer(ADMIN_TOKEN) });
    assert.equal(twice.statusCode, 409, 'not suspended any more');
    const missing = await app().inject({ method: 'POST', url: '/api/v1/tokens/no-such-token/reinstate', headers: bearer(ADMIN_TOKEN) });
    assert.equal(missing.statusCode, 404);
  });

  it('the same subject read 2,000 times counts once; below the threshold a token is never suspended', async () => {
    const s = await token('service', ['personalization']);
    for (let n = 0; n < 2000; n++) await readOk(s.token, 0);
    // 998 more subjects: 999 distinct in all, one short.
    for (let i = 1; i < THRESHOLD - 1; i++) await readOk(s.token, i);
    const p = g ?? f;
    await p.exfiltration.flush();
    assert.equal(await suspendedAt(p, s.id), null, 'not suspended at 999 distinct subjects, even after the shared windows are merged');
    assert.deepEqual(await alertsFor(p, s.id), [], 'no alert below the threshold');
    await readOk(s.token, 0);
    // The 1,000th distinct subject crosses it.
    await readOk(s.token, THRESHOLD - 1);
    assert.equal((await read(s.token, 5)).statusCode, 403, 'suspended at the 1,000th distinct subject');
    assert.equal((await alertsFor(p, s.id))[0]?.counts.subjects, THRESHOLD);
  });

  it('processes sharing the database count together: 600 reads through one and 400 through another suspend the token', async () => {
    const first = g ?? f;
    const second = await createFiducia(f.store.options);
    try {
      const s = await token('service', ['personalization']);
      for (let i = 0; i < 600; i++) await readOk(s.token, i);
      for (let i = 600; i < THRESHOLD; i++) {
        const r = await second.app.inject({ method: 'GET', url: `/api/v1/profiles/userId:u${i}?purpose=personalization`, headers: bearer(s.token) });
        assert.equal(r.statusCode, 200, r.body);
      }
      assert.equal(await suspendedAt(first, s.id), null, 'neither process has seen 1,000 on its own');
      // The merge of each process's windows (the timer's work, run now) finds 1,000 in the shared count.
      await first.exfiltration.flush();
      await second.exfiltration.flush();
      assert.notEqual(await suspendedAt(first, s.id), null, 'suspended on the shared count');
      assert.equal((await alertsFor(first, s.id)).length, 1, 'one alert, not one per process');
      for (const p of [first, second]) {
        const r = await p.app.inject({ method: 'GET', url: '/api/v1/profiles/userId:u1?purpose=personalization', headers: bearer(s.token) });
        assert.equal(r.statusCode, 403, 'refused by both processes');
      }
    } finally {
      await second.close();
    }
  });

  it('an admin token crossing a threshold raises the alert but is not suspended (service tokens only, by default)', async () => {
    const p = g ?? f;
    const a = await token('admin');
    for (let i = 0; i < THRESHOLD; i++) await readOk(a.token, i);
    await p.exfiltration.flush();
    const alerts = await alertsFor(p, a.id);
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0]!.details.response, 'alerted');
    assert.equal(await suspendedAt(p, a.id), null);
    await readOk(a.token, 0);
  });

  it('a segment member page discloses every member id on it: one page of 1,000 members suspends a service token', async () => {
    const p = g ?? f;
    const def = { key: 'book_readers', purpose: 'personalization', condition: { trait: 'favoriteCategory', op: '=', value: 'books' } };
    const created = await app().inject({ method: 'POST', url: '/api/v1/segments', headers: bearer(ADMIN_TOKEN), payload: def });
    assert.equal(created.statusCode, 201, created.body);
    await p.segments.settled();
    const s = await token('service', ['personalization']);
    const first = await app().inject({ method: 'GET', url: '/api/v1/segments/book_readers/members?purpose=personalization&limit=999', headers: bearer(s.token) });
    assert.equal(first.statusCode, 200, first.body);
    const page = first.json<{ members: { subjectId: string }[]; nextCursor: string | null }>();
    assert.equal(page.members.length, 999);
    const second = await app().inject({ method: 'GET', url: `/api/v1/segments/book_readers/members?purpose=personalization&limit=1&cursor=${page.nextCursor}`, headers: bearer(s.token) });
    assert.equal(second.statusCode, 200, 'the page with the 1,000th member is answered');
    const refused = await app().inject({ method: 'GET', url: '/api/v1/segments/book_readers/members?purpose=personalization&limit=1', headers: bearer(s.token) });
    assert.equal(refused.statusCode, 403, refused.body);
    assert.equal(refused.json<ErrorBody>().error.code, 'FIDUCIA_TOKEN_SUSPENDED');
    assert.equal((await alertsFor(p, s.id))[0]?.counts.subjects, THRESHOLD);
    // Listed back as pages: the range of ids each one held.
    const listed = await app().inject({ method: 'GET', url: `/api/v1/tokens/${s.id}/subjects-read`, headers: bearer(ADMIN_TOKEN) });
    const pages = listed.json<{ segmentPages: { segment: string; purpose: string | null; after: string | null; through: string | null; members: number; at: string }[] }>().segmentPages;
    assert.deepEqual(pages, [
      { segment: 'book_readers', purpose: 'personalization', after: null, through: page.members[998]!.subjectId, members: 999, at: pages[0]!.at },
      { segment: 'book_readers', purpose: 'personalization', after: page.nextCursor, through: second.json<{ members: { subjectId: string }[] }>().members[0]!.subjectId, members: 1, at: pages[1]!.at },
    ]);
  });

  it('refuses bad input and other roles on the new routes', async () => {
    const analyst = await token('analyst');
    const service = await token('service', ['personalization']);
    const routes = [
      { method: 'POST' as const, url: `/api/v1/tokens/${analyst.id}/reinstate` },
      { method: 'GET' as const, url: `/api/v1/tokens/${analyst.id}/subjects-read` },
    ];
    for (const r of routes) {
      assert.equal((await app().inject({ ...r })).statusCode, 401, `${r.url} without a token`);
      for (const t of [analyst.token, service.token]) assert.equal((await app().inject({ ...r, headers: bearer(t) })).statusCode, 403, `${r.url} as a non-staff role`);
    }
    for (const q of ['since=yesterday-ish', 'limit=0', 'limit=1001', 'cursor=-1', 'cursor=abc', 'other=1']) {
      const r = await app().inject({ method: 'GET', url: `/api/v1/tokens/${analyst.id}/subjects-read?${q}`, headers: bearer(ADMIN_TOKEN) });
      assert.equal(r.statusCode, 400, `${q}: ${r.body}`);
      assert.equal(r.json<ErrorBody>().error.code, 'FIDUCIA_VALIDATION');
    }
    const unknown = await app().inject({ method: 'GET', url: '/api/v1/tokens/nobody/subjects-read', headers: bearer(ADMIN_TOKEN) });
    assert.equal(unknown.statusCode, 404);
    const none = await app().inject({ method: 'GET', url: `/api/v1/tokens/${analyst.id}/subjects-read`, headers: bearer(ADMIN_TOKEN) });
    assert.deepEqual({ ...none.json<SubjectsPage>(), since: undefined, principal: undefined }, { principal: undefined, since: undefined, subjects: [], segmentPages: [], entries: 0, next: null });
  });
});
