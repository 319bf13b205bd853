// The live debugger through the real HTTP API: each message's outcome with the field names stored and dropped and the
// reason codes, never a value or an id of a person; bounded per source; polled with a cursor; sampled above its rate;
// read by admin, dpo and analyst tokens only.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createFiducia } from '../src/app.ts';
import { ADMIN_TOKEN, basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';

type F = Awaited<ReturnType<typeof startFiducia>>;
interface Line {
  id: string;
  receivedAt: string;
  type: string;
  event: string | null;
  messageId: string;
  outcome: string;
  reason: string | null;
  identity: { userId: string; anonymousId: boolean };
  stored: string[];
  dropped: { field: string; reason: string }[];
  omitted: number;
}
interface Page {
  source: { id: string; name: string; kind: string };
  entries: Line[];
  cursor: string | null;
  keep: number;
}

const KEEP = 20;
const PER_SECOND = 5;
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

await eachDialect('live debugger', (dialect) => {
  let f: F;
  let clock = Date.parse('2026-12-07T10:00:00Z');
  let serverSource: string;
  let browserSource: string;
  let browserKey: string;
  const tokens: Record<string, string> = {};

  before(async () => {
    // flushMs 0: lines are written when read (or on close), never by a timer, so nothing here depends on time.
    f = await startFiducia(dialect, { debugger: { keep: KEEP, perSecond: PER_SECOND, flushMs: 0, now: () => clock }, rightsSweepMs: 0, auditCheckpointSeconds: 0 });
    const sources = await f.access.listSources();
    serverSource = sources.find((s) => s.kind === 'server')!.id;
    const browser = sources.find((s) => s.kind === 'browser')!;
    browserSource = browser.id;
    browserKey = f.bootstrap.generated.browserWriteKey!;
    assert.equal(browser.writeKey, browserKey, 'the browser source of the first start');
    for (const role of ['dpo', 'analyst', 'service']) {
      const r = await f.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: bearer(ADMIN_TOKEN), payload: { name: role, role, ...(role === 'service' ? { purposes: ['analytics'] } : {}) } });
      assert.equal(r.statusCode, 201, r.body);
      tokens[role] = r.json<{ token: string }>().token;
    }
  });
  after(async () => f.stop());

  /** Each send moves the clock on by a minute: the rate bucket is full again unless a test says otherwise. */
  const send = async (auth: string, path: string, payload: Record<string, unknown>, tick = 60_000) => {
    clock += tick;
    const r = await f.app.inject({ method: 'POST', url: `/v1/${path}`, headers: { authorization: auth }, payload });
    assert.equal(r.statusCode, 200, r.body);
  };
  const read = async (source: string, query = '', token = ADMIN_TOKEN) => {
    const r = await f.app.inject({ method: 'GET', url: `/api/v1/sources/${source}/debugger${query}`, headers: bearer(token) });
    assert.equal(r.statusCode, 200, r.body);
    return { page: r.json<Page>(), body: r.body };
  };
  const newSource = async (name: string): Promise<{ id: string; auth: string }> => {
    const r = await f.app.inject({ method: 'POST', url: '/api/v1/sources', headers: bearer(ADMIN_TOKEN), payload: { name, kind: 'server' } });
    assert.equal(r.statusCode, 201, r.body);
    const s = r.json<{ id: string; writeKey: string }>();
    return { id: s.id, auth: basicAuth(s.writeKey) };
  };
  const assertNoValues = (body: string, values: readonly string[]) => {
    for (const v of values) assert.ok(!body.includes(v), `the debugger's answer holds none of the values sent (found one of ${v.length} characters)`);
  };

  describe('what each message became', () => {
    it('a track with a property outside the tracking plan: the stored names, the dropped one with its reason, no value', async () => {
      await send(basicAuth(), 'track', {
        userId: 'cust-debug-4711',
        event: 'Order Completed',
        messageId: 'm-debug-order-1',
        properties: { order_id: 'ord-secret-9931', total: 123.45, gift_note: 'a note for Mum 5521' },
      });
      const { page, body } = await read(serverSource);
      assert.deepEqual(page.source, { id: serverSource, name: page.source.name, kind: 'server' });
      const line = page.entries.find((e) => e.messageId === 'm-debug-order-1');
      assert.ok(line, 'the track is in the debugger');
      assert.equal(line.type, 'track');
      assert.equal(line.event, 'Order Completed');
      assert.equal(line.outcome, 'stored');
      assert.equal(line.reason, null);
      assert.deepEqual(line.identity, { userId: 'asserted', anonymousId: false });
      assert.ok(line.stored.includes('properties.order_id') && line.stored.includes('properties.total'), `stored: ${line.stored.join(', ')}`);
      assert.deepEqual(line.dropped, [{ field: 'properties.gift_note', reason: 'unknown_property' }]);
      assert.ok(Date.parse(line.receivedAt) > 0, 'an ISO time');
      assertNoValues(body, ['cust-debug-4711', 'ord-secret-9931', '123.45', 'a note for Mum', '5521']);
    });

    it('an identify from a browser key: the unverified userId and the trait without consent dropped with their reasons', async () => {
      await send(basicAuth(browserKey), 'identify', {
        userId: 'victim-debug-8080',
        anonymousId: 'anon-debug-6060',
        messageId: 'm-debug-identify-1',
        traits: { favoriteCategory: 'books-secret-3131', email: 'someone-4242@example.test' },
      });
      const { page, body } = await read(browserSource, '', tokens.analyst!);
      const line = page.entries.find((e) => e.messageId === 'm-debug-identify-1');
      assert.ok(line, 'the identify is in the debugger');
      assert.equal(line.type, 'identify');
      assert.equal(line.event, null);
      assert.deepEqual(line.identity, { userId: 'unverified', anonymousId: true });
      assert.deepEqual(line.dropped.find((d) => d.field === 'userId'), { field: 'userId', reason: 'unverified_identity' });
      assert.deepEqual(line.dropped.find((d) => d.field === 'traits.favoriteCategory'), { field: 'traits.favoriteCategory', reason: 'no_basis' });
      // Every name is either stored or dropped, never both.
      for (const name of ['traits.email', 'traits.favoriteCategory']) {
        assert.equal(Number(line.stored.includes(name)) + line.dropped.filter((d) => d.field === name).length, 1, `${name} accounted for once`);
      }
      assertNoValues(body, ['victim-debug-8080', 'anon-debug-6060', 'books-secret-3131', 'someone-4242']);
    });

    it('a replayed messageId is a duplicate; a message with nothing storable and no profile is dropped with nothing_to_keep', async () => {
      await send(basicAuth(), 'track', { userId: 'cust-debug-4711', event: 'Order Completed', messageId: 'm-debug-order-1', properties: { order_id: 'ord-secret-9931' } });
      await send(basicAuth(), 'page', { anonymousId: 'anon-debug-nobody', name: 'Home', messageId: 'm-debug-page-1', properties: { url: 'https://shop.example/secret-path' } });
      const { page, body } = await read(serverSource);
      const [newest, previous] = page.entries;
      assert.equal(newest?.messageId, 'm-debug-page-1');
      assert.equal(newest.outcome, 'dropped');
      assert.equal(newest.reason, 'nothing_to_keep');
      assert.deepEqual(newest.dropped, [{ field: 'event', reason: 'no_basis' }]);
      assert.equal(newest.event, 'Home');
      assert.equal(previous?.messageId, 'm-debug-order-1');
      assert.equal(previous.outcome, 'duplicate');
      assert.deepEqual([previous.stored, previous.dropped], [[], []]);
      assertNoValues(body, ['anon-debug-nobody', 'secret-path']);
    });
  });

  describe('bounds, polling and sampling', () => {
    it(`keeps the newest ${KEEP} lines of a source: ${KEEP + 10} sent, ${KEEP} shown and stored, newest first`, async () => {
      const s = await newSource('debug-bound');
      const ids = Array.from({ length: KEEP + 10 }, (_, i) => `m-bound-${String(i).padStart(3, '0')}`);
      await send(s.auth, 'batch', { batch: ids.map((messageId) => ({ type: 'track', userId: 'cust-bound', event: 'Order Completed', messageId, properties: { order_id: 'x' } })) });
      const { page } = await read(s.id, '?limit=500');
      assert.equal(page.keep, KEEP);
      assert.deepEqual(page.entries.map((e) => e.messageId), ids.slice(10).reverse());
      assert.equal(page.cursor, page.entries[0]!.id);
      // Once more, in separate calls: the table itself is pruned to the bound, not only the answer.
      for (let i = 0; i < 5; i++) await send(s.auth, 'track', { userId: 'cust-bound', event: 'Order Completed', messageId: `m-bound-more-${i}`, properties: {} });
      await f.debugger.flush();
      const rows = await f.dbs.data.selectFrom('debugger_events').select('message_id').where('source_id', '=', s.id).execute();
      assert.equal(rows.length, KEEP, 'the source holds exactly its bound');
      assert.equal((await read(s.id, '?limit=3')).page.entries.length, 3);
    });

    it('polling with the cursor returns only the lines that arrived since, and nothing when none did', async () => {
      const s = await newSource('debug-poll');
      await send(s.auth, 'track', { userId: 'cust-poll', event: 'Order Completed', messageId: 'm-poll-0', properties: {} });
      const first = (await read(s.id)).page;
      assert.deepEqual(first.entries.map((e) => e.messageId), ['m-poll-0']);
      for (const i of [1, 2, 3]) await send(s.auth, 'track', { userId: 'cust-poll', event: 'Order Completed', messageId: `m-poll-${i}`, properties: {} });
      const second = (await read(s.id, `?since=${first.cursor}`)).page;
      assert.deepEqual(second.entries.map((e) => e.messageId), ['m-poll-3', 'm-poll-2', 'm-poll-1']);
      const third = (await read(s.id, `?since=${second.cursor}`)).page;
      assert.deepEqual(third.entries, []);
      assert.equal(third.cursor, second.cursor, 'the cursor stays where it was');
    });

    it(`samples a source above ${PER_SECOND} lines a second (a burst up to the bound is kept whole), and counts what it left out`, async () => {
      const s = await newSource('debug-rate');
      const track = (messageId: string) => ({ type: 'track', userId: 'cust-rate', event: 'Order Completed', messageId, properties: {} });
      const sampled = async () => Number(/fiducia_debugger_entries_total\{outcome="sampled_out"\} (\d+)/.exec((await f.app.inject({ method: 'GET', url: '/metrics' })).body)?.[1] ?? 0);
      await send(s.auth, 'batch', { batch: Array.from({ length: KEEP }, (_, i) => track(`m-rate-burst-${i}`)) });
      const before = await sampled();
      // The same instant: the bucket is empty, nothing more is kept.
      await send(s.auth, 'batch', { batch: Array.from({ length: 10 }, (_, i) => track(`m-rate-none-${i}`)) }, 0);
      // One second later: PER_SECOND lines, the newest of the batch.
      await send(s.auth, 'batch', { batch: Array.from({ length: 10 }, (_, i) => track(`m-rate-some-${i}`)) }, 1000);
      const { page } = await read(s.id, '?limit=10');
      assert.deepEqual(page.entries.map((e) => e.messageId).slice(0, 6), ['m-rate-some-9', 'm-rate-some-8', 'm-rate-some-7', 'm-rate-some-6', 'm-rate-some-5', `m-rate-burst-${KEEP - 1}`]);
      assert.equal((await sampled()) - before, 10 + 10 - PER_SECOND);
    });
  });

  it('is shared by every process on the database: a line one process received is read through another', async () => {
    const other = await createFiducia({ ...f.store.options, debugger: { keep: KEEP, flushMs: 0 } });
    try {
      await send(basicAuth(), 'track', { userId: 'cust-shared', event: 'Order Completed', messageId: 'm-shared-1', properties: { order_id: 'x' } });
      // The receiving process writes on its timer (here: by hand); the other one has nothing of its own to write.
      await f.debugger.flush();
      const r = await other.app.inject({ method: 'GET', url: `/api/v1/sources/${serverSource}/debugger?limit=1`, headers: bearer(ADMIN_TOKEN) });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.json<Page>().entries[0]?.messageId, 'm-shared-1');
    } finally {
      await other.close();
    }
  });

  describe('who may read it', () => {
    it('admin, dpo and analyst tokens; a service token is refused, and no token is a 401', async () => {
      for (const t of [ADMIN_TOKEN, tokens.dpo!, tokens.analyst!]) await read(serverSource, '?limit=1', t);
      const service = await f.app.inject({ method: 'GET', url: `/api/v1/sources/${serverSource}/debugger`, headers: bearer(tokens.service!) });
      assert.equal(service.statusCode, 403, service.body);
      assert.equal(service.json<{ error: { code: string } }>().error.code, 'FIDUCIA_FORBIDDEN');
      const none = await f.app.inject({ method: 'GET', url: `/api/v1/sources/${serverSource}/debugger` });
      assert.equal(none.statusCode, 401, none.body);
      const writeKey = await f.app.inject({ method: 'GET', url: `/api/v1/sources/${serverSource}/debugger`, headers: { authorization: basicAuth() } });
      assert.equal(writeKey.statusCode, 401, writeKey.body);
    });

    it('an unknown source is a 404; a malformed cursor or limit is a 400', async () => {
      const unknown = await f.app.inject({ method: 'GET', url: '/api/v1/sources/no-such-source/debugger', headers: bearer(ADMIN_TOKEN) });
      assert.equal(unknown.statusCode, 404, unknown.body);
      assert.equal(unknown.json<{ error: { code: string } }>().error.code, 'FIDUCIA_NOT_FOUND');
      for (const q of ['?since=1%27%20or%201=1', '?since=', '?limit=0', '?limit=501', '?limit=-1', '?limit=abc', '?other=1']) {
        const r = await f.app.inject({ method: 'GET', url: `/api/v1/sources/${serverSource}/debugger${q}`, headers: bearer(ADMIN_TOKEN) });
        assert.equal(r.statusCode, 400, `${q}: ${r.body}`);
        assert.equal(r.json<{ error: { code: string } }>().error.code, 'FIDUCIA_VALIDATION', q);
      }
    });

    it('reading the debugger writes no audit entry: it discloses no personal data', async () => {
      const count = async () => Number((await f.dbs.data.selectFrom('audit_entries').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow()).n);
      const before = await count();
      await read(serverSource, '', tokens.analyst!);
      assert.equal(await count(), before);
    });
  });
});
