// The Segment-compatible ingestion API end to end: refusals that store nothing, idempotency, endpoints, CORS, consent, collection.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { InjectOptions } from 'fastify';
import { sql } from 'kysely';
import { ciphertextKeyVersion, decryptJson } from '../src/crypto/envelope.ts';
import type { EventsTable } from '../src/store/schema.ts';
import { WRITE_KEY, basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';

type F = Awaited<ReturnType<typeof startFiducia>>;

const DATA_TABLES = ['sources', 'tokens', 'subjects', 'identities', 'traits', 'events', 'ingested_messages', 'consents'] as const;
const AUTH = { authorization: basicAuth() };
const NOTICE = '2026-11';
let seq = 0;
/** Unique ids per test, so tests on the shared instance never see each other's subjects. */
const uid = (p: string) => `${p}-${++seq}-${Math.random().toString(36).slice(2, 8)}`;

async function snapshot(f: F) {
  const counts: Record<string, number> = {};
  for (const t of DATA_TABLES) {
    const r = await sql<{ n: number | string }>`select count(*) as n from ${sql.table(t)}`.execute(f.dbs.data);
    counts[t] = Number(r.rows[0]?.n);
  }
  const keys = await sql<{ n: number | string }>`select count(*) as n from data_keys`.execute(f.dbs.keys);
  counts.data_keys = Number(keys.rows[0]?.n);
  const events = await f.dbs.data.selectFrom('events').selectAll().orderBy('id').execute();
  const traits = await f.dbs.data.selectFrom('traits').selectAll().orderBy('subject_id').orderBy('name').execute();
  return { counts, events, traits };
}

async function decryptEvent(f: F, row: EventsTable): Promise<{ properties: Record<string, unknown>; context: Record<string, unknown> }> {
  const key = await f.ring.keyVersion(row.subject_id, ciphertextKeyVersion(row.payload_enc));
  assert.ok(key, 'the subject has its data key');
  return decryptJson(key, row.subject_id, `event:${row.id}`, row.payload_enc) as { properties: Record<string, unknown>; context: Record<string, unknown> };
}

function eventsByMessage(f: F, messageIds: string[]) {
  return f.dbs.data.selectFrom('events').selectAll().where('message_id', 'in', messageIds).orderBy('id').execute();
}

/** The value of one Prometheus sample (0 when absent). */
async function metric(f: F, name: string, labels: Record<string, string>): Promise<number> {
  const r = await f.app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(r.statusCode, 200);
  for (const line of r.body.split('\n')) {
    const m = /^([a-z_]+)\{([^}]*)\}\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return 0;
}

/**
 * A request that is never answered would leave the event loop idle and cancel the rest of the suite; this
 * turns such a hang into one failing test. It bounds a wait, it does not measure speed.
 */
async function answered<T>(p: Promise<T>, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms: the request hangs`)), ms);
  });
  try {
    return await Promise.race([p, hang]);
  } finally {
    clearTimeout(timer);
  }
}

const post = (f: F, url: string, payload: unknown, headers: Record<string, string> = AUTH) =>
  f.app.inject({ method: 'POST', url, headers, payload: payload as InjectOptions['payload'] });

async function consent(f: F, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return post(f, '/v1/consent', { noticeVersion: NOTICE, ...body }, { ...AUTH, ...headers });
}

/** A valid purchase that would be stored (contract purpose) if the request were accepted. */
const order = (id: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ type: 'track', userId: id, event: 'Order Completed', properties: { order_id: `o-${id}`, total: 10 }, ...extra });
const json = (body: string, ct = 'application/json'): InjectOptions => ({ method: 'POST', url: '/v1/track', headers: { ...AUTH, 'content-type': ct }, payload: body });

interface BadCase {
  name: string;
  req: () => InjectOptions;
  status: number;
  code: string;
}

const deep = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
const BAD: BadCase[] = [
  { name: 'malformed JSON', req: () => json(`{"userId":"${uid('u')}","event":"Order Completed"`), status: 400, code: 'FIDUCIA_INVALID_JSON' },
  { name: 'too deep JSON', req: () => json(`{"userId":"${uid('u')}","event":"Order Completed","properties":${deep(40)}}`), status: 400, code: 'FIDUCIA_JSON_TOO_DEEP' },
  { name: 'very deep JSON (array nesting)', req: () => json(`${'['.repeat(15000)}${']'.repeat(15000)}`), status: 400, code: 'FIDUCIA_JSON_TOO_DEEP' },
  { name: '__proto__ key', req: () => json(`{"userId":"${uid('u')}","event":"Order Completed","properties":{"__proto__":{"admin":true}}}`), status: 400, code: 'FIDUCIA_INVALID_JSON' },
  { name: 'constructor.prototype key', req: () => json(`{"userId":"${uid('u')}","event":"Order Completed","context":{"constructor":{"prototype":{"x":1}}}}`), status: 400, code: 'FIDUCIA_INVALID_JSON' },
  { name: '__proto__ key written with a JSON escape', req: () => json(`{"userId":"${uid('u')}","event":"Order Completed","properties":{"\\u005f_proto__":{"admin":true}}}`), status: 400, code: 'FIDUCIA_INVALID_JSON' },
  { name: 'single message over 32 KB', req: () => ({ method: 'POST', url: '/v1/track', headers: AUTH, payload: { ...order(uid('u')), type: undefined, context: { page: { title: 'x'.repeat(33 * 1024) } } } }), status: 413, code: 'FIDUCIA_BODY_TOO_LARGE' },
  { name: 'batch over 500 KB', req: () => ({ method: 'POST', url: '/v1/batch', headers: AUTH, payload: { batch: Array.from({ length: 20 }, () => order(uid('u'), { context: { page: { title: 'x'.repeat(30 * 1024) } } })) } }), status: 413, code: 'FIDUCIA_BODY_TOO_LARGE' },
  { name: 'a batch item over 32 KB', req: () => ({ method: 'POST', url: '/v1/batch', headers: AUTH, payload: { batch: [order(uid('u')), order(uid('u'), { context: { page: { title: 'x'.repeat(33 * 1024) } } })] } }), status: 413, code: 'FIDUCIA_MESSAGE_TOO_LARGE' },
  { name: 'neither userId nor anonymousId', req: () => ({ method: 'POST', url: '/v1/track', headers: AUTH, payload: { event: 'Order Completed', properties: { order_id: 'o' } } }), status: 400, code: 'FIDUCIA_MISSING_IDENTITY' },
  {
    name: 'one item without identity in an otherwise valid batch',
    req: () => ({ method: 'POST', url: '/v1/batch', headers: AUTH, payload: { batch: [order(uid('u')), order(uid('u')), { type: 'track', event: 'Order Completed' }, order(uid('u'))] } }),
    status: 400,
    code: 'FIDUCIA_MISSING_IDENTITY',
  },
  { name: 'track without event', req: () => ({ method: 'POST', url: '/v1/track', headers: AUTH, payload: { userId: uid('u'), properties: { order_id: 'o' } } }), status: 400, code: 'FIDUCIA_INVALID_MESSAGE' },
  { name: 'batch track item without event', req: () => ({ method: 'POST', url: '/v1/batch', headers: AUTH, payload: { batch: [order(uid('u')), { type: 'track', userId: uid('u') }] } }), status: 400, code: 'FIDUCIA_INVALID_MESSAGE' },
  { name: 'traits: "x"', req: () => ({ method: 'POST', url: '/v1/identify', headers: AUTH, payload: { userId: uid('u'), traits: 'x' } }), status: 400, code: 'FIDUCIA_VALIDATION' },
  { name: 'userId: {}', req: () => ({ method: 'POST', url: '/v1/track', headers: AUTH, payload: { userId: {}, anonymousId: uid('a'), event: 'Order Completed' } }), status: 400, code: 'FIDUCIA_VALIDATION' },
  { name: 'timestamp: "yesterday"', req: () => ({ method: 'POST', url: '/v1/track', headers: AUTH, payload: { userId: uid('u'), event: 'Order Completed', timestamp: 'yesterday' } }), status: 400, code: 'FIDUCIA_INVALID_MESSAGE' },
  { name: 'batch: "x"', req: () => ({ method: 'POST', url: '/v1/batch', headers: AUTH, payload: { batch: 'x' } }), status: 400, code: 'FIDUCIA_VALIDATION' },
  { name: 'batch item of unknown type', req: () => ({ method: 'POST', url: '/v1/batch', headers: AUTH, payload: { batch: [order(uid('u')), { ...order(uid('u')), type: 'purchase' }] } }), status: 400, code: 'FIDUCIA_VALIDATION' },
  { name: 'empty JSON body', req: () => json(''), status: 400, code: 'FIDUCIA_INVALID_JSON' },
  { name: 'no body at all', req: () => ({ method: 'POST', url: '/v1/batch', headers: AUTH }), status: 400, code: 'FIDUCIA_VALIDATION' },
  { name: 'unsupported content type', req: () => json(JSON.stringify(order(uid('u'))), 'application/xml'), status: 415, code: 'FIDUCIA_UNSUPPORTED_MEDIA_TYPE' },
  { name: 'form-encoded body', req: () => json(`userId=${uid('u')}&event=Order+Completed`, 'application/x-www-form-urlencoded'), status: 415, code: 'FIDUCIA_UNSUPPORTED_MEDIA_TYPE' },
  { name: 'wrong write key', req: () => ({ method: 'POST', url: '/v1/track', headers: { authorization: basicAuth('not-the-write-key-0000') }, payload: order(uid('u')) }), status: 401, code: 'FIDUCIA_UNAUTHORIZED' },
  { name: 'wrong write key in the body', req: () => ({ method: 'POST', url: '/v1/batch', payload: { writeKey: 'not-the-write-key-0000', batch: [order(uid('u'))] } }), status: 401, code: 'FIDUCIA_UNAUTHORIZED' },
  { name: 'no write key', req: () => ({ method: 'POST', url: '/v1/batch', payload: { batch: [order(uid('u'))] } }), status: 401, code: 'FIDUCIA_UNAUTHORIZED' },
  { name: 'consent for an unknown purpose', req: () => ({ method: 'POST', url: '/v1/consent', headers: AUTH, payload: { anonymousId: uid('a'), purposes: { analytics: true, telepathy: true }, noticeVersion: NOTICE } }), status: 400, code: 'FIDUCIA_UNKNOWN_PURPOSE' },
  { name: 'consent without identity', req: () => ({ method: 'POST', url: '/v1/consent', headers: AUTH, payload: { purposes: { analytics: true }, noticeVersion: NOTICE } }), status: 400, code: 'FIDUCIA_MISSING_IDENTITY' },
];

await eachDialect('ingestion API', (dialect) => {
  let f: F;
  before(async () => {
    f = await startFiducia(dialect);
    // Some stored data, so that "unchanged" compares real rows.
    const a = uid('seed');
    assert.equal((await consent(f, { anonymousId: a, purposes: { analytics: true, personalization: true } })).statusCode, 200);
    const r = await post(f, '/v1/batch', {
      batch: [
        { type: 'identify', userId: uid('seed-user'), anonymousId: a, traits: { email: 'seed@example.org', favoriteCategory: 'shoes' } },
        { type: 'page', anonymousId: a, name: 'Home', properties: { url: 'https://shop.example/' } },
        order(uid('seed-buyer')),
      ],
    });
    assert.equal(r.statusCode, 200, r.body);
  });
  after(async () => f?.stop());

  describe('bad input: its 4xx, a JSON error with a stable code, and nothing stored', () => {
    for (const c of BAD) {
      it(`${c.name} → ${c.status} ${c.code}`, async () => {
        const before = await snapshot(f);
        assert.ok(before.counts.events! > 0 && before.counts.traits! > 0);
        const r = await f.app.inject(c.req());
        assert.equal(r.statusCode, c.status, r.body);
        assert.match(String(r.headers['content-type']), /^application\/json/);
        const body = r.json() as { error: { code: string; message: string } };
        assert.equal(body.error.code, c.code);
        assert.equal(typeof body.error.message, 'string');
        assert.ok(body.error.message.length > 0);
        assert.deepEqual(await snapshot(f), before);
      });
    }

    it('the same batch without its bad item is stored (the refusal above is not vacuous)', async () => {
      const ids = [uid('u'), uid('u'), uid('u')];
      const r = await post(f, '/v1/batch', { batch: ids.map((id) => order(id, { messageId: `m-${id}` })) });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal((await eventsByMessage(f, ids.map((id) => `m-${id}`))).length, 3);
    });

    it('an unknown route answers 404 JSON', async () => {
      for (const req of [{ method: 'GET', url: '/v1/nope' }, { method: 'POST', url: '/v2/track', headers: AUTH, payload: {} }] as InjectOptions[]) {
        const r = await f.app.inject(req);
        assert.equal(r.statusCode, 404);
        assert.equal((r.json() as { error: { code: string } }).error.code, 'FIDUCIA_NOT_FOUND');
      }
    });
  });

  describe('accepted input', () => {
    it('takes the write key from the body as `writeKey`', async () => {
      const id = uid('wk');
      const r = await f.app.inject({ method: 'POST', url: '/v1/track', payload: { ...order(id, { messageId: `m-${id}` }), type: undefined, writeKey: WRITE_KEY } });
      assert.equal(r.statusCode, 200, r.body);
      assert.deepEqual(r.json(), { success: true });
      assert.equal((await eventsByMessage(f, [`m-${id}`])).length, 1);
    });

    it('parses text/plain bodies as JSON (browser SDKs avoid a preflight that way)', async () => {
      const id = uid('tp');
      const r = await f.app.inject({ method: 'POST', url: '/v1/batch', headers: { ...AUTH, 'content-type': 'text/plain;charset=UTF-8' }, payload: JSON.stringify({ batch: [order(id, { messageId: `m-${id}` })] }) });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal((await eventsByMessage(f, [`m-${id}`])).length, 1);
    });

    it('stores a replayed messageId once: the same batch twice, and twice inside one batch', async () => {
      const dupBefore = await metric(f, 'fiducia_messages_total', { type: 'track', outcome: 'duplicate' });
      const a = uid('rp');
      const b = uid('rp');
      const batch = { batch: [order(a, { messageId: `m-${a}` }), order(b, { messageId: `m-${b}` })] };
      for (let i = 0; i < 2; i++) {
        const r = await post(f, '/v1/batch', batch);
        assert.equal(r.statusCode, 200, r.body);
        assert.deepEqual(r.json(), { success: true });
      }
      assert.equal((await eventsByMessage(f, [`m-${a}`, `m-${b}`])).length, 2);
      const c = uid('rp');
      const r = await post(f, '/v1/batch', { batch: [order(c, { messageId: `m-${c}` }), order(c, { messageId: `m-${c}`, properties: { order_id: 'other' } })] });
      assert.equal(r.statusCode, 200, r.body);
      const rows = await eventsByMessage(f, [`m-${c}`]);
      assert.equal(rows.length, 1);
      assert.equal((await decryptEvent(f, rows[0]!)).properties.order_id, `o-${c}`, 'the first copy wins');
      const ledger = await f.dbs.data.selectFrom('ingested_messages').select('message_id').where('message_id', 'in', [`m-${a}`, `m-${b}`, `m-${c}`]).execute();
      assert.equal(ledger.length, 3);
      assert.equal((await metric(f, 'fiducia_messages_total', { type: 'track', outcome: 'duplicate' })) - dupBefore, 3);
    });

    it('all seven endpoints accept a valid message with 200 {"success":true}', async () => {
      const anon = uid('seven-anon');
      const user = uid('seven-user');
      const old = uid('seven-old');
      assert.equal((await consent(f, { anonymousId: anon, purposes: { analytics: true, personalization: true } })).statusCode, 200);
      const calls: [string, Record<string, unknown>][] = [
        ['identify', { anonymousId: anon, userId: user, traits: { favoriteCategory: 'boots' } }],
        ['track', { userId: user, event: 'Product Viewed', properties: { product_id: 'p1', price: 3 } }],
        ['page', { anonymousId: anon, name: 'Home', properties: { url: 'https://shop.example/' } }],
        ['screen', { anonymousId: anon, name: 'Cart' }],
        ['group', { userId: user, groupId: 'acme', traits: { name: 'Acme S.p.A.' } }],
        ['alias', { userId: user, previousId: old }],
        ['batch', { batch: [{ type: 'track', userId: user, event: 'Product Added', properties: { product_id: 'p1' } }] }],
      ];
      for (const [endpoint, body] of calls) {
        const r = await post(f, `/v1/${endpoint}`, { ...body, ...(endpoint === 'batch' ? {} : { messageId: `m-${user}-${endpoint}` }) });
        assert.equal(r.statusCode, 200, `${endpoint}: ${r.body}`);
        assert.equal(r.body, '{"success":true}');
      }
      const idx = (kind: 'userId' | 'anonymousId', v: string) => f.ring.blindIndex.index(kind, v);
      const owner = async (kind: 'userId' | 'anonymousId', v: string) =>
        (await f.dbs.data.selectFrom('identities').select('subject_id').where('kind', '=', kind).where('blind_index', '=', idx(kind, v)).executeTakeFirst())?.subject_id;
      const subject = await owner('userId', user);
      assert.ok(subject);
      assert.equal(await owner('anonymousId', anon), subject);
      assert.equal(await owner('anonymousId', old), subject, 'alias linked the previous id');
      const events = await f.dbs.data.selectFrom('events').select(['type', 'event_name']).where('subject_id', '=', subject).orderBy('id').execute();
      assert.deepEqual(events.map((e) => `${e.type}:${e.event_name ?? ''}`), ['track:Product Viewed', 'page:Home', 'screen:Cart', 'group:', 'track:Product Added']);
      const traits = await f.dbs.data.selectFrom('traits').select('name').where('subject_id', '=', subject).execute();
      assert.deepEqual(traits.map((t) => t.name), ['favoriteCategory']);
    });

    it('merges batch-level context into each item, under the item’s own', async () => {
      const [a, b] = [uid('ctx'), uid('ctx')];
      const r = await post(f, '/v1/batch', {
        context: { ip: '203.0.113.9', locale: 'it-IT' },
        batch: [order(a, { messageId: `m-${a}` }), order(b, { messageId: `m-${b}`, context: { locale: 'en-US' } })],
      });
      assert.equal(r.statusCode, 200, r.body);
      const rows = await eventsByMessage(f, [`m-${a}`, `m-${b}`]);
      const byMsg = new Map(await Promise.all(rows.map(async (row) => [row.message_id, (await decryptEvent(f, row)).context] as const)));
      assert.deepEqual(byMsg.get(`m-${a}`), { ip: '203.0.113.9', locale: 'it-IT' });
      assert.deepEqual(byMsg.get(`m-${b}`), { ip: '203.0.113.9', locale: 'en-US' });
    });
  });

  describe('CORS', () => {
    it('answers a preflight to /v1/batch with the allowed headers', async () => {
      const r = await f.app.inject({
        method: 'OPTIONS',
        url: '/v1/batch',
        headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
      });
      assert.ok(r.statusCode === 204 || r.statusCode === 200, String(r.statusCode));
      assert.equal(r.headers['access-control-allow-origin'], 'https://shop.example');
      const allowed = String(r.headers['access-control-allow-headers']).toLowerCase().split(/\s*,\s*/);
      assert.ok(allowed.includes('authorization') && allowed.includes('content-type'), allowed.join(','));
      assert.match(String(r.headers['access-control-allow-methods']), /POST/);
    });

    it('adds Access-Control-Allow-Origin to a POST with Origin', async () => {
      const r = await f.app.inject({ method: 'POST', url: '/v1/track', headers: { ...AUTH, origin: 'https://shop.example' }, payload: { ...order(uid('cors')), type: undefined } });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.headers['access-control-allow-origin'], 'https://shop.example');
    });
  });

  describe('consent endpoint', () => {
    it('refuses an unknown purpose, a contract purpose and an unknown notice version', async () => {
      const a = uid('c');
      for (const [body, code] of [
        [{ anonymousId: a, purposes: { telepathy: true } }, 'FIDUCIA_UNKNOWN_PURPOSE'],
        [{ anonymousId: a, purposes: { service: true } }, 'FIDUCIA_PURPOSE_NOT_CONSENTABLE'],
        [{ anonymousId: a, purposes: { analytics: true }, noticeVersion: '1999-01' }, 'FIDUCIA_UNKNOWN_NOTICE_VERSION'],
      ] as const) {
        const before = await snapshot(f);
        const r = await consent(f, body);
        assert.equal(r.statusCode, 400, r.body);
        assert.equal((r.json() as { error: { code: string } }).error.code, code);
        assert.deepEqual(await snapshot(f), before);
      }
    });

    it('records a valid choice and answers {receiptId, noticeVersion, consents}; a later denial is a withdrawal', async () => {
      const a = uid('c');
      const r = await consent(f, { anonymousId: a, purposes: { analytics: true, marketing: false } });
      assert.equal(r.statusCode, 200, r.body);
      const body = r.json() as { receiptId: string; noticeVersion: string; consents: Record<string, string> };
      assert.deepEqual(Object.keys(body).sort(), ['consents', 'noticeVersion', 'receiptId']);
      assert.equal(body.noticeVersion, NOTICE);
      assert.deepEqual(body.consents, { analytics: 'granted', marketing: 'denied' });
      const rows = await f.dbs.data.selectFrom('consents').selectAll().where('receipt_id', '=', body.receiptId).execute();
      assert.deepEqual(rows.map((x) => `${x.purpose}:${x.status}:${x.method}`).sort(), ['analytics:granted:api', 'marketing:denied:api']);
      const again = await consent(f, { anonymousId: a, purposes: { analytics: false } });
      assert.equal(again.statusCode, 200, again.body);
      assert.equal((again.json() as { consents: Record<string, string> }).consents.analytics, 'withdrawn');
    });

    it('Sec-GPC: 1 turns advertising off even when the body grants it, and the ledger says gpc', async () => {
      const a = uid('gpc');
      const r = await answered(consent(f, { anonymousId: a, purposes: { analytics: true, advertising: true } }, { 'sec-gpc': '1' }));
      assert.equal(r.statusCode, 200, r.body);
      const consents = (r.json() as { consents: Record<string, string> }).consents;
      assert.equal(consents.analytics, 'granted');
      assert.notEqual(consents.advertising, 'granted');
      const subject = (await f.dbs.data.selectFrom('consents').select('subject_id').where('receipt_id', '=', (r.json() as { receiptId: string }).receiptId).executeTakeFirstOrThrow()).subject_id;
      const ads = await f.dbs.data.selectFrom('consents').selectAll().where('subject_id', '=', subject).where('purpose', '=', 'advertising').orderBy('id').execute();
      assert.ok(ads.length > 0 && ads.every((x) => x.status !== 'granted'), 'advertising is never granted');
      assert.ok(ads.some((x) => x.method === 'gpc'));
    });

    it('GET /v1/consent/config lists six purposes with consentRequired flags', async () => {
      const r = await f.app.inject({ method: 'GET', url: '/v1/consent/config' });
      assert.equal(r.statusCode, 200);
      const body = r.json() as { noticeVersion: string; purposes: { key: string; consentRequired: boolean; saleOrShare: boolean }[] };
      assert.equal(body.noticeVersion, NOTICE);
      assert.deepEqual(Object.fromEntries(body.purposes.map((p) => [p.key, p.consentRequired])), {
        service: false, security: false, analytics: true, personalization: true, marketing: true, advertising: true,
      });
      assert.deepEqual(body.purposes.filter((p) => p.saleOrShare).map((p) => p.key), ['advertising']);
    });
  });

  describe('the collection rule', () => {
    it('drops a page of a visitor without consent entirely, and counts it', async () => {
      const before = await metric(f, 'fiducia_dropped_fields_total', { kind: 'event', reason: 'no_basis' });
      const a = uid('nc');
      const r = await post(f, '/v1/page', { anonymousId: a, name: 'Home', messageId: `m-${a}`, properties: { url: 'https://shop.example/' } });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal((await eventsByMessage(f, [`m-${a}`])).length, 0);
      assert.equal((await metric(f, 'fiducia_dropped_fields_total', { kind: 'event', reason: 'no_basis' })) - before, 1);
    });

    it('stores Order Completed without consent, under the contract purpose only', async () => {
      const a = uid('nc');
      const r = await post(f, '/v1/track', { ...order(a, { messageId: `m-${a}` }), type: undefined, userId: undefined, anonymousId: a });
      assert.equal(r.statusCode, 200, r.body);
      const rows = await eventsByMessage(f, [`m-${a}`]);
      assert.equal(rows.length, 1);
      assert.deepEqual(JSON.parse(rows[0]!.purposes), ['service']);
    });

    it('stores a page once analytics is granted, recording the purpose', async () => {
      const a = uid('ok');
      assert.equal((await consent(f, { anonymousId: a, purposes: { analytics: true } })).statusCode, 200);
      const r = await post(f, '/v1/page', { anonymousId: a, name: 'Home', messageId: `m-${a}`, properties: { url: 'https://shop.example/' } });
      assert.equal(r.statusCode, 200, r.body);
      const rows = await eventsByMessage(f, [`m-${a}`]);
      assert.equal(rows.length, 1);
      assert.deepEqual(JSON.parse(rows[0]!.purposes), ['analytics']);
      assert.deepEqual((await decryptEvent(f, rows[0]!)).properties, { url: 'https://shop.example/' });
    });

    it('context.consent.categoryPreferences records event_context consent and makes the event storable', async () => {
      const a = uid('ec');
      const r = await post(f, '/v1/page', { anonymousId: a, name: 'Home', messageId: `m-${a}`, context: { consent: { categoryPreferences: { analytics: true } } } });
      assert.equal(r.statusCode, 200, r.body);
      const rows = await eventsByMessage(f, [`m-${a}`]);
      assert.equal(rows.length, 1);
      const ledger = await f.dbs.data.selectFrom('consents').selectAll().where('subject_id', '=', rows[0]!.subject_id).execute();
      assert.deepEqual(ledger.map((x) => `${x.purpose}:${x.status}:${x.method}`), ['analytics:granted:event_context']);
    });

    it('drops unknown properties (policy drop) and counts them', async () => {
      const before = await metric(f, 'fiducia_dropped_fields_total', { kind: 'property', reason: 'unknown_property' });
      const a = uid('up');
      const r = await post(f, '/v1/batch', { batch: [order(a, { messageId: `m-${a}`, properties: { order_id: 'o1', gift_note: 'for Mum', favourite_colour: 'teal' } })] });
      assert.equal(r.statusCode, 200, r.body);
      const rows = await eventsByMessage(f, [`m-${a}`]);
      assert.equal(rows.length, 1);
      assert.deepEqual((await decryptEvent(f, rows[0]!)).properties, { order_id: 'o1' });
      assert.equal((await metric(f, 'fiducia_dropped_fields_total', { kind: 'property', reason: 'unknown_property' })) - before, 2);
    });

    it('gives events time-ordered ids: sorted by id is the order of insertion', async () => {
      const a = uid('ord');
      const sent: string[] = [];
      for (let i = 0; i < 4; i++) {
        sent.push(`m-${a}-${i}`);
        assert.equal((await post(f, '/v1/track', { ...order(a), type: undefined, messageId: `m-${a}-${i}` })).statusCode, 200);
      }
      const ids = [4, 5, 6, 7].map((i) => `m-${a}-${i}`);
      const batch = ids.map((messageId) => order(a, { messageId }));
      sent.push(...ids);
      assert.equal((await post(f, '/v1/batch', { batch })).statusCode, 200);
      const rows = await eventsByMessage(f, sent);
      assert.deepEqual(rows.map((r) => r.message_id), sent);
      for (const r of rows) assert.match(r.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    });
  });
});
