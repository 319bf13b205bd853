// The console's overview API on both databases: messages sent through /v1/batch come back as counts per UTC day and
// outcome (every day of the range present, zeros included), drops per reason equal what the debugger saw, people,
// consent rates per purpose and rights requests open and overdue are counted; no value sent is in the answer; `days`
// is validated; only admin, dpo and analyst read it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DAY_MS, daysEnding, utcDay } from '../src/domain/daily-counts.ts';
import { DailyCountsRepo } from '../src/store/daily-counts-repo.ts';
import { ADMIN_TOKEN, basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';
import { staffRequest } from './helpers/rights.ts';

type F = Awaited<ReturnType<typeof startFiducia>>;
interface Day {
  day: string;
  stored: number;
  duplicate: number;
  dropped: number;
  droppedFields: number;
}
interface Reason {
  reason: string;
  count: number;
}
interface Overview {
  days: number;
  from: string;
  to: string;
  generatedAt: string;
  daily: Day[];
  types: { type: string; stored: number; duplicate: number; dropped: number }[];
  drops: { fields: Reason[]; messages: Reason[]; daily: (Reason & { day: string })[] };
  subjects: { total: number };
  consent: { purpose: string; name: { it: string; en: string }; decided: number; granted: number; rate: number | null }[];
  rights: { open: number; overdue: number; awaitingConfirmation: number };
}
interface DebuggerPage {
  entries: { messageId: string; outcome: string; dropped: { field: string; reason: string }[] }[];
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const SECRETS = ['cust-ovw-4711', 'a note for Mum 5521', 'ord-ovw-9931', 'anon-ovw-nobody', 'anon-ovw-a', 'anon-ovw-b', 'ovw-4711@example.test'];

await eachDialect('overview API', (dialect) => {
  let f: F;
  const tokens: Record<string, string> = {};

  before(async () => {
    // flushMs 0: the counts are written when the overview (or the debugger) is read, never by a timer.
    f = await startFiducia(dialect, { debugger: { flushMs: 0 }, rightsSweepMs: 0, auditCheckpointSeconds: 0 });
    for (const role of ['dpo', 'analyst', 'service']) {
      const r = await f.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: bearer(ADMIN_TOKEN), payload: { name: role, role, ...(role === 'service' ? { purposes: ['analytics'] } : {}) } });
      assert.equal(r.statusCode, 201, r.body);
      tokens[role] = r.json<{ token: string }>().token;
    }
  });
  after(async () => f.stop());

  const overview = async (query = '', token = ADMIN_TOKEN) => {
    const r = await f.app.inject({ method: 'GET', url: `/api/v1/overview${query}`, headers: bearer(token) });
    assert.equal(r.statusCode, 200, r.body);
    return { o: r.json<Overview>(), body: r.body };
  };
  const batch = async (messages: Record<string, unknown>[]) => {
    const r = await f.app.inject({ method: 'POST', url: '/v1/batch', headers: { authorization: basicAuth() }, payload: { batch: messages } });
    assert.equal(r.statusCode, 200, r.body);
  };
  const today = () => utcDay(Date.now());

  it('before anything is sent: every day of the range, all zeros', async () => {
    const { o } = await overview();
    assert.equal(o.days, 30);
    assert.equal(o.daily.length, 30, 'the default range is 30 days');
    assert.deepEqual(o.daily.map((d) => d.day), daysEnding(Date.now(), 30));
    assert.equal(o.from, o.daily[0]!.day);
    assert.equal(o.to, today());
    assert.ok(o.daily.every((d) => d.stored + d.duplicate + d.dropped + d.droppedFields === 0), 'all zero');
    assert.deepEqual(o.drops, { fields: [], messages: [], daily: [] });
    assert.equal(o.subjects.total, 0);
    assert.deepEqual(o.rights, { open: 0, overdue: 0, awaitingConfirmation: 0 });
    const names = Object.fromEntries(f.cfg.config.purposes.filter((p) => p.legalBasis === 'consent').map((p) => [p.key, p.name]));
    assert.deepEqual(Object.fromEntries(o.consent.map((c) => [c.purpose, c.name])), names, 'every consent purpose, named in both languages');
    assert.ok(o.consent.every((c) => c.decided === 0 && c.rate === null), 'nobody decided yet');
  });

  it('messages sent through /v1/batch: stored, duplicate and dropped today, and each dropped field by its reason', async () => {
    await batch([
      { type: 'track', userId: 'cust-ovw-4711', event: 'Order Completed', messageId: 'm-ovw-order-1', properties: { order_id: 'ord-ovw-9931', total: 12.5, gift_note: 'a note for Mum 5521' } },
      { type: 'identify', userId: 'cust-ovw-4711', messageId: 'm-ovw-identify-1', traits: { email: 'ovw-4711@example.test' } },
      // No consent and no profile: nothing may be kept.
      { type: 'page', anonymousId: 'anon-ovw-nobody', name: 'Home', messageId: 'm-ovw-page-1', properties: { url: 'https://shop.example/p' } },
    ]);
    const first = (await overview()).o;
    // A second write adds to the same rows (the upsert): the replayed track is a duplicate.
    await batch([{ type: 'track', userId: 'cust-ovw-4711', event: 'Order Completed', messageId: 'm-ovw-order-1', properties: { order_id: 'ord-ovw-9931' } }]);
    const { o, body } = await overview();
    assert.deepEqual(first.daily.at(-1)!.duplicate, 0);
    const todayRow = o.daily.at(-1)!;
    assert.equal(todayRow.day, today());
    assert.deepEqual({ stored: todayRow.stored, duplicate: todayRow.duplicate, dropped: todayRow.dropped }, { stored: 2, duplicate: 1, dropped: 1 });
    assert.ok(o.daily.slice(0, -1).every((d) => d.stored + d.duplicate + d.dropped + d.droppedFields === 0), 'days with no messages are zero');
    assert.deepEqual(o.types, [
      { type: 'identify', stored: 1, duplicate: 0, dropped: 0 },
      { type: 'page', stored: 0, duplicate: 0, dropped: 1 },
      { type: 'track', stored: 1, duplicate: 1, dropped: 0 },
    ]);
    assert.deepEqual(o.drops.messages, [{ reason: 'nothing_to_keep', count: 1 }]);
    assert.equal(o.drops.fields.find((d) => d.reason === 'unknown_property')?.count, 1, 'gift_note is outside the tracking plan');

    // The same drops the live debugger shows line by line.
    const source = (await f.access.listSources()).find((s) => s.kind === 'server')!.id;
    const dbg = await f.app.inject({ method: 'GET', url: `/api/v1/sources/${source}/debugger`, headers: bearer(ADMIN_TOKEN) });
    const seen = new Map<string, number>();
    for (const line of dbg.json<DebuggerPage>().entries) for (const d of line.dropped) seen.set(d.reason, (seen.get(d.reason) ?? 0) + 1);
    assert.deepEqual(Object.fromEntries(o.drops.fields.map((d) => [d.reason, d.count])), Object.fromEntries(seen));
    assert.equal(todayRow.droppedFields, [...seen.values()].reduce((a, b) => a + b, 0));
    assert.deepEqual(o.drops.daily.map((d) => [d.day, d.reason, d.count]).sort(), [...seen].map(([reason, count]) => [today(), reason, count]).sort());
    assert.equal(o.subjects.total, 1, 'one profile: the customer');
    for (const v of SECRETS) assert.ok(!body.includes(v), `no value sent is in the overview (found one of ${v.length} characters)`);
  });

  it('consent rate per purpose: the decisions in force, named from the configuration', async () => {
    for (const [anonymousId, purposes] of [
      ['anon-ovw-a', { analytics: true, marketing: false }],
      ['anon-ovw-b', { analytics: false }],
    ] as const) {
      const r = await f.app.inject({ method: 'POST', url: '/v1/consent', headers: { authorization: basicAuth() }, payload: { anonymousId, purposes, noticeVersion: f.cfg.config.notice.current } });
      assert.equal(r.statusCode, 200, r.body);
    }
    const { o } = await overview('?days=7');
    const by = Object.fromEntries(o.consent.map((c) => [c.purpose, c]));
    assert.deepEqual({ decided: by.analytics?.decided, granted: by.analytics?.granted, rate: by.analytics?.rate }, { decided: 2, granted: 1, rate: 0.5 });
    assert.deepEqual({ decided: by.marketing?.decided, granted: by.marketing?.granted, rate: by.marketing?.rate }, { decided: 1, granted: 0, rate: 0 });
    assert.equal(by.personalization?.rate, null, 'nobody decided: no rate');
    assert.deepEqual(by.analytics?.name, f.cfg.purpose('analytics')?.name);
    assert.equal(o.subjects.total, 3, 'the two visitors who decided are profiles too');
  });

  it('rights requests: open (an erasure waiting on a legal hold), overdue once past the due date, and unconfirmed ones apart', async () => {
    const hold = await f.app.inject({ method: 'PUT', url: '/api/v1/legal-holds/userId:cust-ovw-4711', headers: bearer(ADMIN_TOKEN), payload: { reason: 'pending litigation' } });
    assert.equal(hold.statusCode, 200, hold.body);
    const req = await staffRequest(f, { type: 'erasure', identity: 'userId:cust-ovw-4711' });
    assert.equal(req.status, 'in_progress');
    // Completed at once: not open.
    await staffRequest(f, { type: 'access', identity: 'userId:cust-ovw-4711' });
    assert.deepEqual((await overview()).o.rights, { open: 1, overdue: 0, awaitingConfirmation: 0 });
    await f.dbs.data.updateTable('rights_requests').set({ due_at: Date.now() - DAY_MS }).where('id', '=', req.id).execute();
    const ask = await f.app.inject({ method: 'POST', url: '/v1/rights-requests', headers: { authorization: basicAuth() }, payload: { email: 'ovw-4711@example.test', type: 'access', language: 'en' } });
    assert.equal(ask.statusCode, 202, ask.body);
    assert.deepEqual((await overview()).o.rights, { open: 1, overdue: 1, awaitingConfirmation: 1 });
  });

  it('counts of earlier days land on their day; the range leaves out what is older', async () => {
    const threeDaysAgo = utcDay(Date.now() - 3 * DAY_MS);
    await new DailyCountsRepo(f.dbs.store).add([
      { day: threeDaysAgo, metric: 'messages', key: 'track.stored', count: 5 },
      { day: threeDaysAgo, metric: 'field_drops', key: 'no_basis', count: 2 },
      { day: utcDay(Date.now() - 40 * DAY_MS), metric: 'messages', key: 'track.stored', count: 1000 },
    ]);
    const week = (await overview('?days=7')).o;
    assert.equal(week.daily.length, 7);
    assert.deepEqual(week.daily.find((d) => d.day === threeDaysAgo), { day: threeDaysAgo, stored: 5, duplicate: 0, dropped: 0, droppedFields: 2 });
    assert.deepEqual(week.drops.daily.find((d) => d.day === threeDaysAgo), { day: threeDaysAgo, reason: 'no_basis', count: 2 });
    assert.equal(week.daily.reduce((n, d) => n + d.stored, 0), 7, 'five then, two today; not the thousand of 40 days ago');
    assert.equal((await overview('?days=90')).o.daily.reduce((n, d) => n + d.stored, 0), 1007, '90 days reach back 40');
    const one = (await overview('?days=1')).o;
    assert.deepEqual(one.daily.map((d) => d.day), [today()]);
    assert.equal(one.types.find((t) => t.type === 'track')?.stored, 1);
  });

  it('analyst and dpo read it; a service token, a write key or nobody cannot', async () => {
    await overview('', tokens.analyst!);
    await overview('', tokens.dpo!);
    const service = await f.app.inject({ method: 'GET', url: '/api/v1/overview', headers: bearer(tokens.service!) });
    assert.equal(service.statusCode, 403, service.body);
    const none = await f.app.inject({ method: 'GET', url: '/api/v1/overview' });
    assert.equal(none.statusCode, 401, none.body);
    const key = await f.app.inject({ method: 'GET', url: '/api/v1/overview', headers: { authorization: basicAuth() } });
    assert.equal(key.statusCode, 401, key.body);
  });

  it('a bad `days` is a 400 with a code', async () => {
    for (const q of ['?days=0', '?days=91', '?days=abc', '?days=', '?days=1.5', '?days=-3', '?days=030', '?days=7&x=1', '?days=7&days=8']) {
      const r = await f.app.inject({ method: 'GET', url: `/api/v1/overview${q}`, headers: bearer(ADMIN_TOKEN) });
      assert.equal(r.statusCode, 400, `${q}: ${r.body}`);
      assert.equal(r.json<{ error: { code: string } }>().error.code, 'FIDUCIA_VALIDATION', q);
    }
  });
});

describe('overview with the live debugger off (FIDUCIA_DEBUGGER=0)', () => {
  it('keeps no debugger lines but still counts the messages', async () => {
    const f = await startFiducia('sqlite', { debugger: { enabled: false, flushMs: 0 }, rightsSweepMs: 0, auditCheckpointSeconds: 0 });
    try {
      const r = await f.app.inject({ method: 'POST', url: '/v1/track', headers: { authorization: basicAuth() }, payload: { userId: 'cust-ovw-off', event: 'Order Completed', messageId: 'm-ovw-off-1', properties: { gift_note: 'x' } } });
      assert.equal(r.statusCode, 200, r.body);
      const o = await f.app.inject({ method: 'GET', url: '/api/v1/overview?days=1', headers: bearer(ADMIN_TOKEN) });
      assert.equal(o.json<Overview>().daily[0]!.stored, 1, o.body);
      const source = (await f.access.listSources()).find((s) => s.kind === 'server')!.id;
      const dbg = await f.app.inject({ method: 'GET', url: `/api/v1/sources/${source}/debugger`, headers: bearer(ADMIN_TOKEN) });
      assert.equal(dbg.json<DebuggerPage>().entries.length, 0, 'no lines');
    } finally {
      await f.stop();
    }
  });
});
