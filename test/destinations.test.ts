// Destinations (issue 16, items 4 and 5), on both databases, with a real receiver on loopback that checks every
// signature with the `standardwebhooks` package: it gets only what the consented purposes allow, a withdrawal stops
// messages still queued, an erasure arrives as a signed deletion, a receiver that was down gets everything in order
// per person once back, dead letters can be replayed, and an address on a private network is refused unless allowed.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_CONFIG_PATH } from '../src/services/config/config-loader.ts';
import { ADMIN_TOKEN, basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';
import { Receiver } from './helpers/receiver.ts';
import { SmtpServer } from './helpers/smtp-server.ts';
import { seedSubject, staffRequest, subjectOf } from './helpers/rights.ts';

type Running = Awaited<ReturnType<typeof startFiducia>>;
const staff = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** The shipped configuration plus destinations pointing at the receivers (extra YAML per test). */
function configWith(destinations: string): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'fiducia-destinations-'));
  const path = join(dir, 'fiducia.yaml');
  writeFileSync(path, `${readFileSync(DEFAULT_CONFIG_PATH, 'utf8')}\ndestinations:\n${destinations}`);
  return { dir, path };
}

const webhook = (id: string, url: string, purposes: string, extra = '') =>
  `  - { id: ${id}, kind: webhook, purposes: [${purposes}], endpoint: "${url}/hooks", secretEnv: SECRET_${id.toUpperCase().replace(/-/g, '_')}, country: IT, allowPrivateNetwork: true${extra} }\n`;

async function send(f: Running, batch: Record<string, unknown>[]): Promise<void> {
  const r = await f.app.inject({ method: 'POST', url: '/v1/batch', headers: { authorization: basicAuth() }, payload: { batch } });
  assert.equal(r.statusCode, 200, r.body);
}

async function consent(f: Running, anonymousId: string, purposes: Record<string, boolean>): Promise<void> {
  const r = await f.app.inject({ method: 'POST', url: '/v1/consent', headers: { authorization: basicAuth() }, payload: { anonymousId, purposes, noticeVersion: f.cfg.config.notice.current } });
  assert.equal(r.statusCode, 200, r.body);
}

async function deliveries(f: Running, destination: string): Promise<{ id: string; kind: string; status: string; attempts: number; lastError: string | null; subjectId: string }[]> {
  const r = await f.app.inject({ method: 'GET', url: `/api/v1/destinations/${destination}/deliveries?limit=500`, headers: staff });
  assert.equal(r.statusCode, 200, r.body);
  return (r.json() as { deliveries: { id: string; kind: string; status: string; attempts: number; lastError: string | null; subjectId: string }[] }).deliveries;
}

const events = (r: Receiver) => r.unique().filter((m) => String(m.body.type).startsWith('event.'));
const dataOf = (m: { body: Record<string, unknown> }) => m.body.data as Record<string, unknown>;

await eachDialect('destinations: what consent allows, at send time', (dialect) => {
  const crm = new Receiver();
  const ads = new Receiver();
  let f: Running;
  let cfg: { dir: string; path: string };
  before(async () => {
    await crm.start();
    await ads.start();
    // crm serves marketing (email, names, preferences, purchases); ads serves advertising, to which nobody here consents.
    cfg = configWith(webhook('crm', crm.url, 'marketing') + webhook('ads', ads.url, 'advertising'));
    f = await startFiducia(dialect, {
      configPath: cfg.path,
      destinationSecrets: { SECRET_CRM: crm.secret, SECRET_ADS: ads.secret },
      deliveries: { enabled: false, retry: { baseMs: 1, maxMs: 5, maxAttempts: 3 } },
      rightsSweepMs: 0,
      auditCheckpointSeconds: 0,
      segmentRefreshMs: 0,
    });
  });
  after(async () => {
    await f?.stop();
    await crm.stop();
    await ads.stop();
    rmSync(cfg.dir, { recursive: true, force: true });
  });

  it('sends each destination only the fields its consented purposes allow, signed, and nothing without consent', async () => {
    const s = await seedSubject(f, `dest-${dialect}`, 4);
    await send(f, [{ type: 'track', userId: s.userId, event: 'Order Completed', properties: { order_id: 'o-ip', total: 10 }, context: { ip: '203.0.113.7' }, messageId: 'with-ip' }]);
    const report = await f.deliveries.drain();
    assert.equal(report.dead, 0);
    assert.ok(crm.received.length > 0, 'crm got messages');
    for (const m of crm.received) assert.equal(m.verified, true, 'every message verifies with standardwebhooks');
    // The identify: marketing may have email and names, and favoriteCategory (preferences); the identifiers are not
    // among its categories, so only the pseudonymous subject id names the person.
    const identify = crm.unique().find((m) => m.body.type === 'profile.identify');
    assert.ok(identify);
    const traits = dataOf(identify).traits as Record<string, unknown>;
    assert.deepEqual(Object.keys(traits).sort(), ['email', 'favoriteCategory', 'firstName', 'lastName']);
    assert.equal(dataOf(identify).userId, undefined);
    assert.equal(dataOf(identify).subjectId, await subjectOf(f, s.userId));
    // Purchases are marketing's; browsing (Product Viewed) is not, so it was never queued for crm.
    const sent = events(crm);
    assert.ok(sent.length >= 3);
    for (const m of sent) assert.equal(dataOf(m).event, 'Order Completed');
    const withIp = sent.find((m) => (dataOf(m).properties as Record<string, unknown>).order_id === 'o-ip');
    assert.ok(withIp);
    assert.deepEqual(dataOf(withIp).context, {}, 'the IP address is no marketing category: withheld');
    assert.deepEqual(dataOf(withIp).purposes, ['marketing']);
    // ads: rows were queued (its purpose covers browsing and purchases) but the person never consented to advertising.
    assert.equal(ads.received.length, 0);
    const adsRows = await deliveries(f, 'ads');
    assert.ok(adsRows.length > 0);
    for (const d of adsRows) {
      assert.equal(d.status, 'skipped');
      assert.equal(d.lastError, 'no_consent');
    }
    // Deliveries of personal data are in the audit log, names only.
    const audited = await f.dbs.data.selectFrom('audit_entries').select(['data', 'actor']).where('action', '=', 'destination.delivery').execute();
    assert.ok(audited.length >= sent.length);
    assert.ok(audited.every((a) => a.actor === 'destination:crm' && !a.data.includes(s.email)));
  });

  it('a withdrawal stops the messages still queued', async () => {
    await consent(f, 'anon-withdraw', { marketing: true });
    await send(f, [{ type: 'identify', anonymousId: 'anon-withdraw', traits: { email: 'w@example.com' }, messageId: 'w-id' }]);
    await send(f, [{ type: 'track', anonymousId: 'anon-withdraw', event: 'Order Completed', properties: { order_id: 'w-1', total: 5 }, messageId: 'w-ev' }]);
    const before = crm.received.length;
    await consent(f, 'anon-withdraw', { marketing: false });
    await f.deliveries.drain();
    assert.equal(crm.received.length, before, 'nothing of the withdrawn purpose left');
    const subjectRows = (await deliveries(f, 'crm')).filter((d) => d.status === 'skipped');
    assert.ok(subjectRows.some((d) => d.lastError === 'consent_withdrawn'));
  });

  it('an erasure reaches every destination that received data, as a signed deletion naming the person', async () => {
    const s = await seedSubject(f, `erase-${dialect}`, 2);
    const subjectId = await subjectOf(f, s.userId);
    await f.deliveries.drain();
    const req = await staffRequest(f, { type: 'erasure', identity: `userId:${s.userId}` });
    assert.equal(req.status, 'completed');
    await f.deliveries.drain();
    const deletion = crm.unique().find((m) => m.body.type === 'subject.erasure' && dataOf(m).subjectId === subjectId);
    assert.ok(deletion, 'the erasure notice arrived');
    assert.equal(deletion.verified, true);
    assert.deepEqual(dataOf(deletion).userIds, [s.userId]);
    assert.equal(dataOf(deletion).requestId, req.id);
    // ads never received anything of this person: no notice for it.
    assert.equal(ads.received.filter((m) => m.body.type === 'subject.erasure').length, 0);
    // The notice's key is gone once delivered: nothing of the identifiers is left in clear or readable.
    const notices = await f.dbs.data.selectFrom('deliveries').select(['id', 'secret_enc', 'status']).where('kind', '=', 'notice').where('subject_id', '=', subjectId).execute();
    assert.equal(notices.length, 1);
    assert.equal(notices[0]!.status, 'delivered');
    assert.equal(notices[0]!.secret_enc, null);
    const key = await f.dbs.keys.selectFrom('data_keys').select('subject_id').where('subject_id', '=', `notice:${notices[0]!.id}`).executeTakeFirst();
    assert.equal(key, undefined);
  });

  it('a receiver that is down for a while gets everything once it is back, in order per person, without replay', async () => {
    await crm.stop();
    const s = await seedSubject(f, `back-${dialect}`, 6);
    const subjectId = await subjectOf(f, s.userId);
    const first = await f.deliveries.drain();
    assert.ok(first.retried > 0 && first.delivered === 0, `connection refused: every head of queue backs off ${JSON.stringify(first)}`);
    const waiting = (await deliveries(f, 'crm')).filter((d) => d.subjectId === subjectId);
    assert.ok(waiting.every((d) => d.status === 'pending'));
    assert.equal(waiting.filter((d) => d.attempts > 0).length, 1, "only the head of the person's queue was tried");
    await crm.start();
    for (let i = 0; i < 20 && (await deliveries(f, 'crm')).some((d) => d.subjectId === subjectId && d.status === 'pending'); i++) {
      await new Promise((r) => setTimeout(r, 10));
      await f.deliveries.drain();
    }
    const mine = crm.unique().filter((m) => dataOf(m).subjectId === subjectId);
    assert.equal(mine.length, waiting.length, 'everything arrived');
    const ids = mine.map((m) => m.id);
    assert.deepEqual(ids, [...ids].sort(), 'in the order they were collected');
    assert.equal(mine[0]!.body.type, 'profile.identify');
  });

  it('a receiver that is down gets everything once it is back, in order per person; dead letters replay', async () => {
    crm.answer = 503;
    const s = await seedSubject(f, `down-${dialect}`, 6);
    const first = await f.deliveries.drain();
    assert.ok(first.retried > 0);
    // Every further attempt fails too, until the rows are dead letters (3 attempts).
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 10));
      await f.deliveries.drain();
    }
    const dead = (await deliveries(f, 'crm')).filter((d) => d.status === 'dead');
    assert.ok(dead.length > 0);
    assert.ok(dead.every((d) => d.attempts === 3 && d.lastError === 'http_503'));
    crm.answer = 200;
    const replay = await f.app.inject({ method: 'POST', url: '/api/v1/destinations/crm/replay', headers: staff, payload: {} });
    assert.equal(replay.statusCode, 200, replay.body);
    assert.ok((replay.json() as { replayed: number }).replayed >= dead.length);
    await f.deliveries.drain();
    const subjectId = await subjectOf(f, s.userId);
    const mine = crm.unique().filter((m) => dataOf(m).subjectId === subjectId);
    assert.equal(mine[0]!.body.type, 'profile.identify');
    const ids = mine.map((m) => m.id);
    assert.deepEqual(ids, [...ids].sort(), 'in the order they were collected');
  });

  it('lists destinations and deliveries without values; refuses what is not an admin or dpo', async () => {
    const r = await f.app.inject({ method: 'GET', url: '/api/v1/destinations', headers: staff });
    assert.equal(r.statusCode, 200, r.body);
    const list = (r.json() as { destinations: { id: string; endpointOrigin: string; deliveries: Record<string, number> }[] }).destinations;
    assert.deepEqual(list.map((d) => d.id), ['crm', 'ads']);
    assert.equal(list[0]!.endpointOrigin, crm.url);
    assert.ok(!r.body.includes(crm.secret));
    assert.ok((list[0]!.deliveries.delivered ?? 0) > 0);
    const unknown = await f.app.inject({ method: 'GET', url: '/api/v1/destinations/nope/deliveries', headers: staff });
    assert.equal(unknown.statusCode, 404);
    const anon = await f.app.inject({ method: 'GET', url: '/api/v1/destinations' });
    assert.equal(anon.statusCode, 401);
  });
});

await eachDialect('destinations: outbound requests to private addresses', (dialect) => {
  const local = new Receiver();
  let f: Running;
  let cfg: { dir: string; path: string };
  before(async () => {
    await local.start();
    // A host name that resolves to the loopback receiver: once without the explicit permission, once with it.
    const named = `http://receiver.example:${local.port}`;
    cfg = configWith(webhook('internal', named, 'marketing').replace('allowPrivateNetwork: true', 'allowPrivateNetwork: false') + webhook('allowed', named, 'marketing'));
    f = await startFiducia(dialect, {
      configPath: cfg.path,
      destinationSecrets: { SECRET_INTERNAL: local.secret, SECRET_ALLOWED: local.secret },
      deliveries: { enabled: false, retry: { baseMs: 1, maxMs: 5, maxAttempts: 3 }, lookup: async (host) => (host === 'receiver.example' ? [{ address: '127.0.0.1', family: 4 }] : []) },
      rightsSweepMs: 0,
      auditCheckpointSeconds: 0,
      segmentRefreshMs: 0,
    });
  });
  after(async () => {
    await f?.stop();
    await local.stop();
    rmSync(cfg.dir, { recursive: true, force: true });
  });

  it('refuses a loopback endpoint unless the destination allows private networks', async () => {
    await seedSubject(f, `ssrf-${dialect}`, 2);
    await f.deliveries.drain();
    const allowed = await deliveries(f, 'allowed');
    assert.ok(allowed.length > 0 && allowed.every((d) => d.status === 'delivered'));
    assert.equal(local.received.length, allowed.length, 'only the allowed destination reached the loopback receiver');
    const rows = await deliveries(f, 'internal');
    assert.ok(rows.length > 0);
    for (const d of rows) {
      assert.equal(d.status, 'dead');
      assert.equal(d.lastError, 'blocked_address');
    }
  });
});

describe('destinations: checked at start', () => {
  it('refuses a configuration whose endpoint is a literal private address without the permission', async () => {
    const cfg = configWith(webhook('crm', 'http://10.1.2.3', 'marketing').replace('allowPrivateNetwork: true', 'allowPrivateNetwork: false'));
    try {
      await assert.rejects(startFiducia('sqlite', { configPath: cfg.path, destinationSecrets: { SECRET_CRM: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' } }), /FIDUCIA_CONFIG_INVALID|private/);
    } finally {
      rmSync(cfg.dir, { recursive: true, force: true });
    }
  });

  it('stops the start, naming the variable', async () => {
    const cfg = configWith(webhook('crm', 'http://127.0.0.1:9', 'marketing'));
    try {
      await assert.rejects(startFiducia('sqlite', { configPath: cfg.path, destinationSecrets: {} }), /SECRET_CRM/);
    } finally {
      rmSync(cfg.dir, { recursive: true, force: true });
    }
  });
});

await eachDialect('rights-request mail through the delivery outbox (SMTP set)', (dialect) => {
  const smtp = new SmtpServer();
  let f: Running;
  let offset = 0;
  before(async () => {
    // Nothing listens yet: the first attempts fail as if the mail server were down.
    await smtp.start();
    const port = smtp.port;
    await smtp.stop();
    smtp.port = port;
    f = await startFiducia(dialect, {
      smtpUrl: `smtp://127.0.0.1:${port}`,
      deliveries: { enabled: false, retry: { baseMs: 1000, maxMs: 60_000, maxAttempts: 5 }, now: () => Date.now() + offset },
      rightsSweepMs: 0,
      auditCheckpointSeconds: 0,
      segmentRefreshMs: 0,
    });
  });
  after(async () => {
    await f?.stop();
    await smtp.stop();
  });

  it('queues the message encrypted, retries while the server is down, sends it once it is back and destroys its key', async () => {
    const r = await f.app.inject({ method: 'POST', url: '/v1/rights-requests', headers: { authorization: basicAuth(), origin: 'https://shop.example' }, payload: { email: `mail-${dialect}@example.com`, type: 'access', language: 'it' } });
    assert.equal(r.statusCode, 202, r.body);
    const queued = await f.dbs.data.selectFrom('deliveries').selectAll().where('destination_id', '=', '@mail').execute();
    assert.equal(queued.length, 1);
    assert.ok(queued[0]!.secret_enc && !Buffer.from(queued[0]!.secret_enc).toString('latin1').includes(`mail-${dialect}@example.com`), 'the address is not stored in clear');
    const first = await f.deliveries.drain();
    assert.equal(first.retried, 1);
    const waiting = await f.dbs.data.selectFrom('deliveries').select(['status', 'last_error', 'attempts']).where('destination_id', '=', '@mail').executeTakeFirstOrThrow();
    assert.equal(waiting.status, 'pending');
    assert.match(String(waiting.last_error), /^smtp_/);
    await smtp.start(smtp.port);
    offset += 5000; // past the first backoff
    const second = await f.deliveries.drain();
    assert.equal(second.delivered, 1);
    assert.equal(smtp.messages.length, 1);
    assert.deepEqual(smtp.messages[0]!.to, [`mail-${dialect}@example.com`]);
    const done = await f.dbs.data.selectFrom('deliveries').select(['id', 'status', 'secret_enc']).where('destination_id', '=', '@mail').executeTakeFirstOrThrow();
    assert.equal(done.status, 'delivered');
    assert.equal(done.secret_enc, null);
    const key = await f.dbs.keys.selectFrom('data_keys').select('subject_id').where('subject_id', '=', `mail:${done.id}`).executeTakeFirst();
    assert.equal(key, undefined);
  });
});

await eachDialect('a segment destination: Fiducia in front of another Segment-compatible stack', (dialect) => {
  let upstream: Running & { url: string };
  let f: Running;
  let cfg: { dir: string; path: string };
  before(async () => {
    // The downstream stack is another Fiducia (SQLite), listening on loopback; this one forwards to it.
    const down = await startFiducia('sqlite', { rightsSweepMs: 0, auditCheckpointSeconds: 0, segmentRefreshMs: 0, deliveries: { enabled: false } });
    await down.app.listen({ host: '127.0.0.1', port: 0 });
    upstream = Object.assign(down, { url: `http://127.0.0.1:${(down.app.server.address() as { port: number }).port}` });
    cfg = configWith(`  - { id: stack, kind: segment, purposes: [personalization], endpoint: "${upstream.url}", secretEnv: SECRET_STACK, country: IT, allowPrivateNetwork: true }\n`);
    f = await startFiducia(dialect, {
      configPath: cfg.path,
      destinationSecrets: { SECRET_STACK: 'test-write-key-0123456789' },
      deliveries: { enabled: false },
      rightsSweepMs: 0,
      auditCheckpointSeconds: 0,
      segmentRefreshMs: 0,
    });
  });
  after(async () => {
    await f?.stop();
    await upstream?.stop();
    rmSync(cfg.dir, { recursive: true, force: true });
  });

  it('forwards in the Tracking API format, only what the consented purpose allows, and the receiver stores it', async () => {
    await consent(f, 'anon-fw', { personalization: true, analytics: false });
    await send(f, [
      { type: 'identify', anonymousId: 'anon-fw', traits: { favoriteCategory: 'boots', email: 'fw@example.com' }, messageId: 'fw-id' },
      { type: 'track', anonymousId: 'anon-fw', event: 'Product Viewed', properties: { product_id: 'p-1', price: 90 }, context: { ip: '203.0.113.9' }, messageId: 'fw-ev' },
    ]);
    const report = await f.deliveries.drain();
    assert.equal(report.dead, 0, JSON.stringify(await deliveries(f, 'stack')));
    assert.equal(report.delivered, 2);
    // Downstream: the person is known by Fiducia's pseudonymous id (no identifier category is personalization's).
    const rows = await f.dbs.data.selectFrom('deliveries').select('subject_id').where('destination_id', '=', 'stack').executeTakeFirstOrThrow();
    const down = await upstream.app.inject({ method: 'GET', url: `/api/v1/profiles/${encodeURIComponent(`anonymousId:${rows.subject_id}`)}?purpose=service`, headers: staff });
    assert.equal(down.statusCode, 200, down.body);
    const traits = await upstream.dbs.data.selectFrom('traits').select('name').execute();
    assert.deepEqual(traits.map((t) => t.name), ['favoriteCategory'], 'the email is no personalization category: never forwarded');
    const events = await upstream.dbs.data.selectFrom('events').select(['event_name', 'type']).execute();
    assert.deepEqual(events, [{ event_name: 'Product Viewed', type: 'track' }]);
  });
});
