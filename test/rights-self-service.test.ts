// Self-service requests from the privacy center: the email code, attempts and rate limits, answers that reveal nothing, downloads.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, beforeEach, it } from 'node:test';
import { pino } from 'pino';
import type { AccessPackage } from '../src/domain/rights-package.ts';
import { SELF_SERVICE_LIMITS, VERIFICATION } from '../src/domain/rights.ts';
import { basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';
import { CaptureMailer, getRequest, seedSubject, staff, subjectOf, type Running, type Seeded } from './helpers/rights.ts';

let ipCounter = 0;
/** Each test speaks from its own address, so the per-address limits of one test do not leak into the next. */
const nextIp = () => `198.51.${100 + Math.floor(++ipCounter / 250)}.${(ipCounter % 250) + 1}`;

await eachDialect('self-service rights requests', (dialect) => {
  let f: Running;
  let mail: CaptureMailer;
  let ada: Seeded;
  before(async () => {
    mail = new CaptureMailer();
    f = await startFiducia(dialect, { mailer: mail, rightsSweepMs: 0 });
    ada = await seedSubject(f, 'self', 8);
  });
  after(async () => f.stop());
  // Every test starts with fresh rate-limit windows (several of them ask for the same person within the hour).
  beforeEach(async () => {
    await f.dbs.data.deleteFrom('rate_limit_windows').execute();
  });

  const ask = (body: Record<string, unknown>, ip: string, auth = basicAuth()) =>
    f.app.inject({ method: 'POST', url: '/v1/rights-requests', headers: { authorization: auth, origin: 'https://shop.example' }, payload: body, remoteAddress: ip });
  const confirm = (id: string, code: string, ip: string) =>
    f.app.inject({ method: 'POST', url: `/v1/rights-requests/${id}/verify`, headers: { authorization: basicAuth() }, payload: { code }, remoteAddress: ip });
  const wrongCode = (code: string) => String((Number(code) + 1) % 10 ** VERIFICATION.codeDigits).padStart(VERIFICATION.codeDigits, '0');

  it('answers the same whether or not the person is known, and sends a code either way', async () => {
    const ip = nextIp();
    const known = await ask({ email: ada.email, type: 'access', language: 'en' }, ip);
    const unknown = await ask({ email: 'nobody-here@example.com', type: 'access', language: 'en' }, ip);
    for (const r of [known, unknown]) {
      assert.equal(r.statusCode, 202, r.body);
      assert.deepEqual(Object.keys(r.json()).sort(), ['id', 'status']);
      assert.equal(r.json<{ status: string }>().status, 'awaiting_verification');
      assert.equal(r.headers['access-control-allow-origin'], 'https://shop.example');
    }
    assert.match(mail.codeFor(ada.email), /^\d{6}$/);
    assert.match(mail.codeFor('nobody-here@example.com'), /^\d{6}$/);
    // Nothing about the person is resolved before verification.
    const row = await f.dbs.data.selectFrom('rights_requests').selectAll().where('id', '=', known.json<{ id: string }>().id).executeTakeFirstOrThrow();
    assert.equal(row.subject_id, null);
  });

  it('keeps codes hashed and addresses encrypted at rest', async () => {
    const ip = nextIp();
    const r = await ask({ email: ada.email, type: 'portability', language: 'it', details: 'per favore' }, ip);
    const id = r.json<{ id: string }>().id;
    const code = mail.codeFor(ada.email);
    const row = await f.dbs.data.selectFrom('rights_requests').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    const hash = Buffer.from(row.code_hash!);
    assert.equal(hash.length, 32);
    assert.notDeepEqual(hash, createHash('sha256').update(code).digest());
    assert.notDeepEqual(hash, createHash('sha256').update(`${id}:${code}`).digest());
    const dump = Object.values(row)
      .map((v) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : String(v)))
      .join('|');
    assert.ok(!dump.includes(code) && !dump.includes(ada.email) && !dump.includes('per favore'));
    assert.ok(row.contact_enc !== null && row.params_enc !== null);
  });

  it('does nothing for an unverified request', async () => {
    const ip = nextIp();
    const subject = await subjectOf(f, ada.userId);
    const r = await ask({ email: ada.email, type: 'erasure', language: 'en' }, ip);
    const id = r.json<{ id: string }>().id;
    const processed = await f.app.inject({ method: 'POST', url: `/api/v1/rights-requests/${id}/process`, headers: staff, payload: {} });
    assert.equal(processed.statusCode, 409);
    assert.equal((await getRequest(f, id)).status, 'received');
    const events = await f.dbs.data.selectFrom('events').select('id').where('subject_id', '=', subject).execute();
    assert.equal(events.length, ada.messageIds.length, 'the data is still there');
    assert.equal((await f.dbs.keys.selectFrom('data_keys').select('version').where('subject_id', '=', subject).execute()).length, 1);
    // An unconfirmed request expires: rejected, and its contact address crypto-shredded.
    await f.dbs.data.updateTable('rights_requests').set({ code_expires_at: Date.now() - 1 }).where('id', '=', id).execute();
    await f.sweepRights();
    const view = await getRequest(f, id);
    assert.deepEqual([view.status, view.statusReason], ['rejected', 'verification_expired']);
    assert.equal((await f.dbs.keys.selectFrom('data_keys').select('version').where('subject_id', '=', `rights:${id}`).execute()).length, 0);
    assert.equal(events.length, (await f.dbs.data.selectFrom('events').select('id').where('subject_id', '=', subject).execute()).length);
  });

  it('rejects a wrong code, then carries out the request with the right one and mails a download link', async () => {
    const ip = nextIp();
    const r = await ask({ email: ada.email, type: 'access', language: 'it' }, ip);
    const id = r.json<{ id: string }>().id;
    const code = mail.codeFor(ada.email);
    const bad = await confirm(id, wrongCode(code), ip);
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json<{ error: { code: string } }>().error.code, 'FIDUCIA_VERIFICATION_FAILED');
    assert.equal((await getRequest(f, id)).status, 'received');
    assert.equal(await f.dbs.data.selectFrom('rights_packages').select('request_id').where('request_id', '=', id).executeTakeFirst(), undefined);
    const good = await confirm(id, code, ip);
    assert.equal(good.statusCode, 200, good.body);
    const answer = good.json<{ id: string; status: string; download?: { token: string; expiresAt: string } }>();
    assert.deepEqual([answer.id, answer.status], [id, 'completed']);
    // The page that asked gets the token of the emailed link, so it can open the person's data at once.
    assert.match(answer.download?.token ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.ok(Date.parse(answer.download?.expiresAt ?? '') > Date.now(), 'the link expires later');
    // A double click answers the status, without handing out the link again.
    assert.deepEqual((await confirm(id, code, ip)).json(), { id, status: 'completed' });
    const link = mail.linkFor(ada.email);
    assert.ok(link, 'the outcome message carries a download link');
    const url = new URL(link);
    assert.equal(url.searchParams.get('token'), answer.download?.token, 'one link: the emailed one');
    // The emailed link of an access request opens the readable page, in the request's language, with the status in words.
    assert.equal(url.searchParams.get('format'), 'html');
    const html = await f.app.inject({ method: 'GET', url: `${url.pathname}${url.search}`, remoteAddress: ip });
    assert.equal(html.statusCode, 200, html.body);
    assert.match(String(html.headers['content-type']), /^text\/html/);
    assert.ok(html.body.includes('I tuoi dati personali'));
    assert.ok(html.body.includes('Richiesta di accesso ai dati: completata.'), 'the status in words');
    assert.ok(html.body.includes(`>${String(ada.traits.favoriteCategory)}</td>`) && html.body.includes('>Categoria preferita</td>'), 'a trait, named in words');
    assert.ok(!html.body.includes('entro un mese'), 'nothing about answering later once completed');
    // The page links to the same package as a file (portability) and back to the privacy center.
    const jsonHref = /href="(\?token=[^"]+&amp;format=json)"/.exec(html.body)?.[1]?.replaceAll('&amp;', '&');
    assert.ok(jsonHref, 'a link to the JSON file');
    assert.ok(html.body.includes('href="../../../privacy?lang=it"'), 'a link back to the privacy center');
    const dl = await f.app.inject({ method: 'GET', url: `${url.pathname}${jsonHref}`, remoteAddress: ip });
    assert.equal(dl.statusCode, 200, dl.body);
    const pkg = dl.json<AccessPackage>();
    assert.deepEqual(pkg.events.map((e) => e.messageId).sort(), [...ada.messageIds].sort());
    const english = await f.app.inject({ method: 'GET', url: `${url.pathname}${url.search}&lang=en`, remoteAddress: ip });
    assert.ok(english.body.includes('Request for access to your data: completed.'), 'the same page in English');
    const forged = await f.app.inject({ method: 'GET', url: `${url.pathname}?token=${'A'.repeat(43)}`, remoteAddress: ip });
    assert.equal(forged.statusCode, 404);
    // Once told, the request no longer holds the address.
    const row = await f.dbs.data.selectFrom('rights_requests').select(['contact_enc']).where('id', '=', id).executeTakeFirstOrThrow();
    assert.equal(row.contact_enc, null);
  });

  it('locks a request after repeated wrong codes (429), even for the right code', async () => {
    const ip = nextIp();
    const r = await ask({ email: ada.email, type: 'erasure', language: 'en' }, ip);
    const id = r.json<{ id: string }>().id;
    const code = mail.codeFor(ada.email);
    const statuses: number[] = [];
    for (let i = 0; i < VERIFICATION.maxAttempts; i++) statuses.push((await confirm(id, wrongCode(code), ip)).statusCode);
    assert.deepEqual(statuses, [...Array<number>(VERIFICATION.maxAttempts - 1).fill(400), 429]);
    const late = await confirm(id, code, ip);
    assert.ok(late.statusCode === 400 || late.statusCode === 429, String(late.statusCode));
    const view = await getRequest(f, id);
    assert.deepEqual([view.status, view.statusReason], ['rejected', 'too_many_attempts']);
    assert.equal((await f.app.inject({ method: 'GET', url: `/api/v1/profiles/userId:${ada.userId}?purpose=service`, headers: staff })).statusCode, 200, 'nothing was erased');
  });

  it('rate-limits intake per address and stops mailing one inbox over and over', async () => {
    const ip = nextIp();
    const codes: number[] = [];
    for (let i = 0; i < SELF_SERVICE_LIMITS.intakePerIp.max + 1; i++) codes.push((await ask({ email: `flood${i}@example.com`, type: 'access', language: 'en' }, ip)).statusCode);
    assert.deepEqual(codes, [...Array<number>(SELF_SERVICE_LIMITS.intakePerIp.max).fill(202), 429]);
    const limited = await ask({ email: 'flood-x@example.com', type: 'access', language: 'en' }, ip);
    assert.equal(limited.json<{ error: { code: string } }>().error.code, 'FIDUCIA_RATE_LIMITED');
    assert.ok(Number(limited.headers['retry-after']) > 0);
    // The counter lives in the database: a second instance sharing it would see the same windows.
    assert.ok((await f.dbs.data.selectFrom('rate_limit_windows').selectAll().execute()).some((w) => w.hits > SELF_SERVICE_LIMITS.intakePerIp.max));

    // Per address and network: a third party's requests for an address do not use up its owner's.
    const target = 'victim@example.com';
    const attacker = nextIp();
    const before = mail.sent.length;
    const fromAttacker: number[] = [];
    for (let i = 0; i < SELF_SERVICE_LIMITS.intakePerEmailAndNetwork.max + 1; i++) fromAttacker.push((await ask({ email: target, type: 'access', language: 'en' }, attacker)).statusCode);
    assert.deepEqual(fromAttacker, [...Array<number>(SELF_SERVICE_LIMITS.intakePerEmailAndNetwork.max).fill(202), 429], 'the limit is told plainly, not hidden behind a 202');
    assert.equal(mail.sent.length - before, SELF_SERVICE_LIMITS.intakePerEmailAndNetwork.max);
    const own = await ask({ email: target, type: 'access', language: 'en' }, nextIp());
    assert.equal(own.statusCode, 202, 'the owner, from another network, can still ask');
    assert.equal(mail.sent.length - before, SELF_SERVICE_LIMITS.intakePerEmailAndNetwork.max + 1, 'and the owner gets the code');

    // In all, one mailbox gets at most intakePerEmail codes a day, from however many networks.
    const daily: number[] = [];
    for (let i = 0; i < SELF_SERVICE_LIMITS.intakePerEmail.max; i++) daily.push((await ask({ email: 'mailbox@example.com', type: 'access', language: 'en' }, nextIp())).statusCode);
    const over = await ask({ email: 'mailbox@example.com', type: 'access', language: 'en' }, nextIp());
    assert.deepEqual([...new Set(daily), over.statusCode], [202, 429]);
    assert.ok(Number(over.headers['retry-after']) > 0, 'a refusal says when to try again');
  });

  it('rate-limits code attempts per address across requests', async () => {
    const ip = nextIp();
    const statuses = new Set<number>();
    for (let i = 0; i < SELF_SERVICE_LIMITS.verifyPerIp.max + 1; i++) statuses.add((await confirm('01a22222-2222-7222-8222-222222222222', '123456', ip)).statusCode);
    assert.deepEqual([...statuses], [400, 429]);
  });

  it('erases the person on a confirmed self-service erasure', async () => {
    const bob = await seedSubject(f, 'selfbob', 3);
    const subject = await subjectOf(f, bob.userId);
    const ip = nextIp();
    const id = (await ask({ email: bob.email, type: 'erasure', language: 'en' }, ip)).json<{ id: string }>().id;
    const ok = await confirm(id, mail.codeFor(bob.email), ip);
    assert.deepEqual(ok.json(), { id, status: 'completed' });
    assert.equal((await f.dbs.data.selectFrom('events').select('id').where('subject_id', '=', subject).execute()).length, 0);
    assert.equal((await f.dbs.keys.selectFrom('data_keys').select('version').where('subject_id', '=', subject).execute()).length, 0);
    assert.ok(mail.sent.some((m) => m.to === bob.email && m.kind === 'rights.outcome'));
  });

  it('asks staff for the values of a self-service rectification', async () => {
    const ip = nextIp();
    const id = (await ask({ email: ada.email, type: 'rectification', language: 'en', details: 'my last name is wrong' }, ip)).json<{ id: string }>().id;
    const ok = await confirm(id, mail.codeFor(ada.email), ip);
    assert.deepEqual(ok.json(), { id, status: 'in_progress' });
    assert.equal((await getRequest(f, id)).waiting?.reason, 'needs_values');
    const done = await f.app.inject({ method: 'POST', url: `/api/v1/rights-requests/${id}/process`, headers: staff, payload: { traits: { lastName: 'Lovelace' } } });
    assert.equal(done.json<{ status: string }>().status, 'completed', done.body);
  });

  it('refuses requests without a write key and malformed addresses', async () => {
    const ip = nextIp();
    const noKey = await f.app.inject({ method: 'POST', url: '/v1/rights-requests', payload: { email: ada.email, type: 'access', language: 'en' }, remoteAddress: ip });
    assert.equal(noKey.statusCode, 401);
    assert.equal((await ask({ email: ada.email, type: 'access', language: 'en' }, ip, basicAuth('not-a-key-0123456789'))).statusCode, 401);
    assert.equal((await ask({ email: 'not-an-email', type: 'access', language: 'en' }, ip)).statusCode, 400);
    assert.equal((await ask({ email: ada.email, type: 'delete-everything', language: 'en' }, ip)).statusCode, 400);
    const pre = await f.app.inject({ method: 'OPTIONS', url: '/v1/rights-requests', headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' } });
    assert.equal(pre.statusCode, 204);
  });
});

await eachDialect('self-service without SMTP', (dialect) => {
  let f: Running;
  const lines: string[] = [];
  before(async () => {
    const sink = new Writable({ write(chunk: Buffer, _enc, cb) { lines.push(chunk.toString()); cb(); } });
    f = await startFiducia(dialect, { logger: pino({ level: 'info' }, sink), rightsSweepMs: 0 });
  });
  after(async () => f.stop());

  it('writes the message to the outbox folder and logs it without the code', async () => {
    const r = await f.app.inject({ method: 'POST', url: '/v1/rights-requests', headers: { authorization: basicAuth() }, payload: { email: 'outbox@example.com', type: 'access', language: 'en' }, remoteAddress: '203.0.113.9' });
    assert.equal(r.statusCode, 202, r.body);
    const dir = join(f.store.options.dataDir, 'outbox');
    const files = readdirSync(dir);
    assert.equal(files.length, 1);
    const eml = readFileSync(join(dir, files[0]!), 'utf8');
    const code = /verification code is: (\d{6})/.exec(eml)?.[1];
    assert.ok(code && eml.includes('To: outbox@example.com'));
    const logged = lines.join('');
    assert.ok(logged.includes('outbox'), 'the outbox file is logged');
    assert.ok(!logged.includes(code), 'the code is never logged');
    assert.ok(!logged.includes('outbox@example.com'), 'the address is never logged');
  });
});
