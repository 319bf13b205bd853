// The log at its most verbose holds no personal value: a whole flow (both keys, reads, export, erasure) logged at
// `trace` through the real createLogger, searched for every value of the test person.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, it } from 'node:test';
import { createLogger } from '../src/app.ts';
import { userHash } from '../src/crypto/user-hash.ts';
import { ADMIN_TOKEN, basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';
import type { Running } from './helpers/rights.ts';

const PERSON = {
  userId: 'redact-user-7f3a',
  anonymousId: 'redact-anon-91c2',
  email: 'grace.redact@example.org',
  firstName: 'Gracelyn',
  lastName: 'Hopperstein',
  phone: '+39 347 5550199',
  street: 'Via Redazione 42',
  city: 'Bergamotto',
};

await eachDialect('log redaction', (dialect) => {
  let f: Running;
  const lines: string[] = [];
  before(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    // No mailer injected: the outbox mailer and its log lines are part of what is searched.
    f = await startFiducia(dialect, { logger: createLogger('trace', sink), rightsSweepMs: 0 });
  });
  after(async () => f.stop());

  it('logs a whole flow at trace level without any of the person\'s values', async () => {
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const browserKey = f.bootstrap.generated.browserWriteKey ?? '';
    const secret = f.bootstrap.generated.verificationSecret ?? '';
    const { userId, anonymousId, email, firstName, lastName, phone, street, city } = PERSON;
    const traits = { email, firstName, lastName, name: `${firstName} ${lastName}`, phone, address: { street, city }, favoriteCategory: 'books' };
    const calls: { method: 'GET' | 'POST'; url: string; headers: Record<string, string>; payload?: object }[] = [
      { method: 'POST', url: '/v1/consent', headers: { authorization: basicAuth() }, payload: { userId, anonymousId, purposes: { analytics: true, personalization: true, marketing: true }, noticeVersion: f.cfg.config.notice.current } },
      { method: 'POST', url: '/v1/identify', headers: { authorization: basicAuth() }, payload: { userId, anonymousId, traits } },
      { method: 'POST', url: '/v1/track', headers: { authorization: basicAuth(browserKey) }, payload: { userId, anonymousId, event: 'Product Viewed', properties: { product_id: 'p1', email }, context: { fiducia: { userHash: userHash(secret, userId) }, traits: { email, phone } } } },
      { method: 'POST', url: '/v1/identify', headers: { authorization: basicAuth(browserKey) }, payload: { userId, anonymousId, traits } },
      { method: 'POST', url: '/v1/batch', headers: { authorization: basicAuth() }, payload: { batch: [{ type: 'track', userId, event: 'Order Completed', properties: { order_id: 'o1', total: 5, shipping_address: street } }] } },
      // Rejected requests log too: a bad message, an unknown identity, a purpose the caller may not use.
      { method: 'POST', url: '/v1/track', headers: { authorization: basicAuth() }, payload: { userId: { email }, event: phone } },
      { method: 'GET', url: `/api/v1/profiles/email:${encodeURIComponent(email)}?purpose=personalization`, headers: admin },
      { method: 'GET', url: `/api/v1/profiles/userId:${userId}?purpose=nope-${email}`, headers: admin },
      { method: 'GET', url: `/api/v1/profiles/anonymousId:${anonymousId}/events?purpose=analytics`, headers: admin },
      { method: 'GET', url: `/api/v1/profiles/email:${encodeURIComponent(`nobody-${email}`)}?purpose=service`, headers: admin },
      { method: 'GET', url: `/api/v1/audit?subject=userId:${userId}`, headers: admin },
    ];
    for (const c of calls) {
      const r = await f.app.inject(c);
      assert.ok(r.statusCode < 500, `${c.method} ${c.url}: ${r.statusCode} ${r.body}`);
    }
    const access = await f.app.inject({ method: 'POST', url: '/api/v1/rights-requests', headers: admin, payload: { type: 'access', identity: `email:${email}` } });
    assert.equal(access.statusCode, 202, access.body);
    const id = access.json<{ id: string }>().id;
    for (const format of ['json', 'html']) {
      const pkg = await f.app.inject({ method: 'GET', url: `/api/v1/rights-requests/${id}/export?format=${format}`, headers: admin });
      assert.equal(pkg.statusCode, 200, pkg.body);
    }
    const intake = await f.app.inject({ method: 'POST', url: '/v1/rights-requests', headers: { authorization: basicAuth(browserKey) }, payload: { email, type: 'access', language: 'en', details: `I am ${firstName}` } });
    assert.equal(intake.statusCode, 202, intake.body);
    const erasure = await f.app.inject({ method: 'POST', url: '/api/v1/rights-requests', headers: admin, payload: { type: 'erasure', identity: `userId:${userId}` } });
    assert.equal(erasure.statusCode, 202, erasure.body);
    await f.sweepRights();

    const log = lines.join('');
    assert.ok(lines.length > 10, `the flow was logged (${lines.length} lines)`);
    assert.ok(/"level":(10|20)/.test(log), 'trace or debug lines are in the capture');
    const leaks = Object.entries(PERSON).filter(([, v]) => log.includes(v) || log.includes(encodeURIComponent(v)) || log.includes(JSON.stringify(v).slice(1, -1)));
    const context = leaks.map(([k, v]) => `${k}: …${log.slice(Math.max(0, log.indexOf(v) - 200), log.indexOf(v) + 60)}…`);
    assert.deepEqual(leaks.map(([k]) => k), [], `personal values in the log:\n${context.join('\n')}`);
  });
});
