// Fuzzing every operation of /openapi.json with bad requests, with and without valid credentials: no 5xx, the app keeps
// answering, a rejection stores nothing, and every rejection carries a stable code of the catalogue.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import fc from 'fast-check';
import { sql } from 'kysely';
import { ADMIN_TOKEN, basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';
import { CaptureMailer, seedSubject, type Running } from './helpers/rights.ts';
import { assertCataloguedError, listOperations, type Operation } from './helpers/routes.ts';

/** Runs per operation and credential: about 40 operations, two credentials, two databases stay within seconds. */
const RUNS = 20;
const TABLES = ['subjects', 'identities', 'traits', 'events', 'consents', 'rights_requests', 'tokens', 'sources'] as const;

/** Strings a parser, a matcher or a database might choke on. */
const nasty = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    'a\u0000b',
    '\ud800',
    'x\udfff\ud800y',
    '\u202e\u200b\ufeff',
    '%00',
    '%',
    '%zz',
    '../../etc/passwd',
    "' OR 1=1 --",
    '"; drop table subjects; --',
    '<script>alert(1)</script>',
    '__proto__',
    'constructor',
    'prototype',
    'userId:',
    'email:\u0000@x',
    'userId:' + 'a'.repeat(700),
    '𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
    '1e309',
    '-0',
    'NaN',
  ),
  fc.integer({ min: 1, max: 70_000 }).map((n) => 'x'.repeat(n)),
);

const badTimestamp = fc.constantFrom('not a date', '99999-99-99', '2020-13-45T25:61:61Z', '', '0', '-271821-04-20T00:00:00.000Z', '+275760-09-13T00:00:00.001Z', 1e308, -1, 8.64e15 + 1, true, [], {});

const leaf: fc.Arbitrary<unknown> = fc.oneof(nasty, badTimestamp, fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
const value: fc.Arbitrary<unknown> = fc.oneof(
  { depthSize: 'small' },
  leaf,
  fc.array(leaf, { maxLength: 4 }),
  fc.dictionary(nasty.filter((k) => k.length < 50), leaf, { maxKeys: 4 }),
  fc.jsonValue({ maxDepth: 3 }),
);

/** Percent-encodes the UTF-8 bytes of a path or query value (lone surrogates become U+FFFD), or passes raw escapes through. */
function encode(s: string): string {
  return [...Buffer.from(s, 'utf8')].map((b) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0').toUpperCase()}`)).join('');
}
/** Well-formed escapes of nasty values (malformed escapes and over-long parameters have their own test below). */
const pathValue = fc.oneof(nasty.filter((s) => Buffer.byteLength(s) <= 30).map(encode), fc.constantFrom('..%2F..%2F', 'a%2Fb', '%00', '%EF%BF%BD'));
const MALFORMED_PATH_VALUES = ['%', '%zz', '%ED%A0%80', '%C0%AF', '%FF%FE', 'x'.repeat(200)];

interface BadBody {
  payload: string | Buffer;
  contentType: string | null;
}

function bodyFor(op: Operation): fc.Arbitrary<BadBody> {
  const keys = fc.constantFrom(...(op.bodyKeys.length > 0 ? op.bodyKeys : ['x']), '__proto__', 'constructor', 'prototype', 'writeKey');
  const shaped = fc.dictionary(keys, value, { minKeys: 1, maxKeys: 6 });
  const messageLike = fc.record({ type: fc.oneof(fc.constantFrom('track', 'identify', 'alias'), nasty), userId: value, anonymousId: value, event: value, timestamp: badTimestamp, properties: value, traits: value, context: value });
  const json = fc.oneof(
    shaped.map((o) => JSON.stringify(o)),
    fc.record({ batch: fc.oneof(fc.array(messageLike, { maxLength: 3 }), value) }).map((o) => JSON.stringify(o)),
    messageLike.map((o) => JSON.stringify(o)),
    fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
    fc.integer({ min: 20, max: 3000 }).map((d) => '['.repeat(d) + ']'.repeat(d)),
    fc.integer({ min: 20, max: 3000 }).map((d) => '{"a":'.repeat(d) + '1' + '}'.repeat(d)),
    fc.constantFrom(
      '{"__proto__":{"role":"admin"}}',
      '{"constructor":{"prototype":{"polluted":true}}}',
      '{"\\u005f_proto__":{"x":1}}',
      '{"name":"\\ud800","role":"dpo","kind":"server"}',
      '{"email":"a\\u0000@example.com","type":"access","language":"en"}',
      '{"code":"\\u0000"}',
      '{"a":1,"a":2}',
      '{"batch":[]}',
      'null',
      '[]',
      '"string"',
      '1e999',
    ),
    fc.string({ unit: 'binary', maxLength: 60 }).map((s) => `{${s}`),
    fc.integer({ min: 100_000, max: 700_000 }).map((n) => JSON.stringify({ big: 'x'.repeat(n) })),
  );
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ payload: json as fc.Arbitrary<string | Buffer>, contentType: fc.constantFrom<string | null>('application/json', 'application/json; charset=utf-8', 'text/plain') }) },
    { weight: 1, arbitrary: fc.record({ payload: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b) as string | Buffer), contentType: fc.constantFrom<string | null>('application/json', 'text/plain') }) },
    {
      weight: 1,
      arbitrary: fc.record({
        payload: json as fc.Arbitrary<string | Buffer>,
        contentType: fc.constantFrom<string | null>(null, 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'text/html', 'application/json-patch+json', 'application/octet-stream'),
      }),
    },
  );
}

function queryFor(op: Operation): fc.Arbitrary<string> {
  const names = Object.keys(op.query);
  const known = names.length > 0 ? fc.dictionary(fc.constantFrom(...names), pathValue, { maxKeys: names.length }) : fc.constant({});
  const extra = fc.dictionary(fc.oneof(fc.constantFrom('__proto__', 'constructor', 'limit', 'purpose', 'format'), nasty.map(encode)), pathValue, { maxKeys: 2 });
  return fc.tuple(known, extra, fc.boolean()).map(([a, b, withExtra]) => {
    const parts = Object.entries(a).map(([k, v]) => `${k}=${v}`);
    if (withExtra) parts.push(...Object.entries(b).map(([k, v]) => `${encode(k)}=${v}`));
    return parts.length > 0 ? `?${parts.join('&')}` : '';
  });
}

await eachDialect('fuzzing every route', (dialect) => {
  let f: Running;
  let browserKey = '';
  let ops: Operation[] = [];
  before(async () => {
    f = await startFiducia(dialect, { mailer: new CaptureMailer(), rightsSweepMs: 0, demo: true });
    browserKey = f.bootstrap.generated.browserWriteKey ?? '';
    await seedSubject(f, 'fuzz', 2);
    ops = await listOperations(f.app);
  });
  after(async () => f.stop());

  const counts = async (): Promise<string> => {
    const q = sql.raw(`select ${TABLES.map((t) => `(select count(*) from ${t}) as ${t}`).join(', ')}`);
    const row = (await q.execute(f.dbs.data)).rows[0] as Record<string, number | string | bigint>;
    return TABLES.map((t) => `${t}=${String(row[t])}`).join(' ');
  };

  it('answers bad requests to every operation with a catalogued 4xx, never a 5xx, and stores nothing for them', async () => {
    assert.ok(ops.length >= 35, `the OpenAPI document lists the operations (${ops.length})`);
    const failures: string[] = [];
    for (const op of ops) {
      const name = `${op.method} ${op.path}`;
      const credentials = op.security === 'token' ? [`Bearer ${ADMIN_TOKEN}`, null] : op.security === 'writeKey' ? [basicAuth(), basicAuth(browserKey), null] : [null];
      const arb = fc.record({
        auth: fc.constantFrom(...credentials),
        params: fc.array(pathValue, { minLength: op.params.length, maxLength: op.params.length }),
        query: queryFor(op),
        body: op.hasBody ? bodyFor(op) : fc.constant(null),
        ip: fc.tuple(fc.integer({ min: 1, max: 254 }), fc.integer({ min: 1, max: 254 })).map(([a, b]) => `10.77.${a}.${b}`),
      });
      try {
        await fc.assert(
          fc.asyncProperty(arb, async ({ auth, params, query, body, ip }) => {
            let path = op.path;
            op.params.forEach((p, i) => (path = path.replace(`{${p}}`, params[i] || 'x')));
            const headers: Record<string, string> = {};
            if (auth) headers.authorization = auth;
            if (body?.contentType) headers['content-type'] = body.contentType;
            const before = await counts();
            const res = await f.app.inject({
              method: op.method as 'GET' | 'POST' | 'PUT' | 'DELETE',
              url: `${path}${query}`,
              headers,
              remoteAddress: ip,
              ...(body ? { payload: body.payload } : {}),
            });
            const what = `${name} ${path}${query.slice(0, 80)} auth=${auth ? 'yes' : 'no'} body=${body ? String(body.payload).slice(0, 80) : '-'}`;
            assert.ok(res.statusCode < 500, `${what}: ${res.statusCode} ${res.body.slice(0, 300)}`);
            if (res.statusCode >= 400) {
              assertCataloguedError(res, what);
              assert.equal(await counts(), before, `${what}: a rejected request (${res.statusCode}) changed stored data`);
            }
          }),
          { numRuns: RUNS * credentials.length, endOnFailure: true },
        );
      } catch (err) {
        failures.push(`${name}: ${(err as Error).message.replace(/(.)\1{20,}/gs, '$1…').slice(0, 1500)}`);
      }
      const health = await f.app.inject({ method: 'GET', url: '/healthz' });
      assert.equal(health.statusCode, 200, `the app still answers after fuzzing ${name}`);
    }
    assert.deepEqual(failures, [], failures.join('\n\n'));
  });

  it('answers malformed %-escapes and over-long path parameters in the catalogue\'s shape, without echoing the URL', async () => {
    const failures: string[] = [];
    for (const op of ops.filter((o) => o.params.length > 0)) {
      for (const bad of MALFORMED_PATH_VALUES) {
        const url = op.params.reduce((p, name) => p.replace(`{${name}}`, bad), op.path);
        for (const auth of [op.security === 'writeKey' ? basicAuth() : `Bearer ${ADMIN_TOKEN}`, null]) {
          const res = await f.app.inject({ method: op.method as 'GET', url, headers: auth ? { authorization: auth } : {}, ...(op.hasBody ? { payload: {} } : {}) });
          try {
            assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${res.statusCode}`);
            assertCataloguedError(res, `${op.method} ${url.slice(0, 60)}`);
            assert.ok(!res.body.includes(bad), 'the answer does not echo the URL');
          } catch (err) {
            failures.push(`${op.method} ${url.slice(0, 60)}: ${(err as Error).message.split('\n')[0]} — ${res.body.slice(0, 120)}`);
          }
        }
      }
    }
    assert.deepEqual(failures, [], failures.slice(0, 10).join('\n'));
  });

  it('refuses a NUL in any query filter or path parameter with a 400, on every operation (PostgreSQL refuses NUL in text)', async () => {
    const failures: string[] = [];
    for (const op of ops) {
      const path = op.params.reduce((p, name) => p.replace(`{${name}}`, 'a%00b'), op.path);
      for (const url of [`${path}?actor=%00&action=x%00&purpose=%00`, ...(op.params.length > 0 ? [path] : [])]) {
        const auth = op.security === 'writeKey' ? basicAuth() : `Bearer ${ADMIN_TOKEN}`;
        const res = await f.app.inject({ method: op.method as 'GET', url, headers: { authorization: auth }, ...(op.hasBody ? { payload: {} } : {}) });
        if (res.statusCode !== 400) failures.push(`${op.method} ${url}: ${res.statusCode} ${res.body.slice(0, 120)}`);
        else assertCataloguedError(res, `${op.method} ${url}`);
      }
    }
    assert.deepEqual(failures, [], failures.slice(0, 10).join('\n'));
  });
});
