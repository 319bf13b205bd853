// Rights requests by staff: lifecycle and deadlines, access and portability packages, rectification, restriction, objection.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { AccessPackage, PortabilityPackage } from '../src/domain/rights-package.ts';
import { addCalendarMonths } from '../src/domain/rights.ts';
import { decryptField } from '../src/crypto/envelope.ts';
import { gunzipSync } from 'node:zlib';
import { basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';
import { CaptureMailer, auditActions, getRequest, seedSubject, staff, staffRequest, subjectOf, type Running, type Seeded } from './helpers/rights.ts';

const DAY = 86_400_000;

await eachDialect('rights requests', (dialect) => {
  let f: Running;
  let ada: Seeded;
  let bob: Seeded;
  before(async () => {
    f = await startFiducia(dialect, { mailer: new CaptureMailer(), rightsSweepMs: 0 });
    ada = await seedSubject(f, 'ada', 30);
    bob = await seedSubject(f, 'bob', 12);
  });
  after(async () => f.stop());

  const exportOf = async (id: string, query = '') => f.app.inject({ method: 'GET', url: `/api/v1/rights-requests/${id}/export${query}`, headers: staff });
  const profile = async (userId: string, purpose: string) => f.app.inject({ method: 'GET', url: `/api/v1/profiles/userId:${userId}?purpose=${purpose}`, headers: staff });

  it('answers an access request with every event and trait of the subject and nothing of another', async () => {
    const req = await staffRequest(f, { type: 'access', identity: `userId:${ada.userId}` });
    assert.equal(req.status, 'completed');
    const res = await exportOf(req.id);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['cache-control'], 'no-store');
    const pkg = res.json<AccessPackage>();
    assert.deepEqual(Object.keys(pkg).sort(), ['consents', 'events', 'identities', 'purposes', 'recipients', 'retention', 'subject', 'traits']);
    assert.equal(pkg.subject.id, await subjectOf(f, ada.userId));
    assert.deepEqual(pkg.events.map((e) => e.messageId).sort(), [...ada.messageIds].sort());
    for (const e of pkg.events) {
      assert.equal(typeof e.timestamp, 'string');
      assert.ok(e.event === 'Product Viewed' || e.event === 'Order Completed');
      assert.equal(typeof e.properties, 'object');
    }
    const traits = Object.fromEntries(pkg.traits.map((t) => [t.name, t.value]));
    assert.deepEqual(traits, ada.traits);
    assert.deepEqual(pkg.identities.map((i) => `${i.kind}:${String(i.value)}`).sort(), [`anonymousId:${ada.anonymousId}`, `email:${ada.email}`, `userId:${ada.userId}`]);
    // Consent history, purposes with legal bases, recipients and retention of what is held.
    assert.deepEqual(pkg.consents.map((c) => c.purpose).sort(), ['analytics', 'marketing', 'personalization']);
    assert.ok(pkg.purposes.some((p) => p.key === 'service' && p.legalBasis === 'contract'));
    assert.ok(pkg.recipients.some((r) => r.name === 'Payment service provider'));
    assert.ok(pkg.retention.some((r) => r.purpose === 'marketing' && r.days === 730));
    assert.equal(pkg.subject.sources[0]?.name, 'default');
    // Nothing of Bob: no message id, no value, no subject id.
    const text = res.body;
    for (const id of bob.messageIds) assert.ok(!text.includes(`"${id}"`), `bob's ${id} leaked`);
    for (const v of Object.values(bob.traits)) assert.ok(!text.includes(String(v)), `bob's ${String(v)} leaked`);
    assert.ok(!text.includes(await subjectOf(f, bob.userId)));
  });

  it('writes every step of a request to the audit log and to its history', async () => {
    const req = await staffRequest(f, { type: 'access', identity: `email:${bob.email}` });
    const view = await getRequest(f, req.id);
    assert.deepEqual(view.history?.map((h) => `${h.status}/${h.step}`), ['received/received', 'verified/verified', 'in_progress/started', 'completed/completed']);
    assert.equal(view.dueAt, req.dueAt);
    const actions = (await auditActions(f)).map((a) => a.action);
    for (const a of ['rights.request.received', 'rights.request.verified', 'rights.request.started', 'rights.package.built', 'rights.request.completed']) {
      assert.ok(actions.includes(a), `missing audit entry ${a}`);
    }
    const before = (await auditActions(f, 'rights.package.read')).length;
    assert.equal((await exportOf(req.id)).statusCode, 200);
    assert.equal((await auditActions(f, 'rights.package.read')).length, before + 1, 'the export read is audited');
  });

  it('renders a readable HTML page in Italian and in English, with values escaped', async () => {
    const req = await staffRequest(f, { type: 'access', identity: `userId:${ada.userId}`, language: 'it' });
    const it = await exportOf(req.id, '?format=html');
    assert.equal(it.statusCode, 200);
    assert.match(String(it.headers['content-type']), /text\/html/);
    for (const s of ['<html lang="it">', 'I tuoi dati personali', 'Consenso', 'Esecuzione di un contratto', 'Le tue scelte sul consenso', 'Fornitore dei servizi di pagamento', `First-ada`, 'Garante', 'Richiesta di accesso ai dati: completata.'])
      assert.ok(it.body.includes(s), `it: ${s}`);
    for (const key of ['favoriteCategory', 'Payment service provider', 'preference_center', '>granted<', '>completed<']) assert.ok(!it.body.includes(key), `it: no ${key}`);
    const en = await exportOf(req.id, '?format=html&lang=en');
    for (const s of ['<html lang="en">', 'Your personal data', 'Legal basis', 'Your consent choices', 'How long', 'Favourite category', 'Request for access to your data: completed.']) assert.ok(en.body.includes(s), `en: ${s}`);
    // A trait value is data, never markup.
    const rect = await staffRequest(f, { type: 'rectification', identity: `userId:${ada.userId}`, traits: { lastName: '<script>alert(1)</script>' } });
    assert.equal(rect.status, 'completed');
    const again = await staffRequest(f, { type: 'access', identity: `userId:${ada.userId}` });
    const html = (await exportOf(again.id, '?format=html&lang=en')).body;
    assert.ok(!html.includes('<script>alert(1)</script>'));
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.equal((await exportOf(again.id, '?format=csv')).statusCode, 409, 'CSV is for portability');
  });

  it('exports portability data as JSON and CSV', async () => {
    const req = await staffRequest(f, { type: 'portability', identity: `userId:${bob.userId}` });
    const json = (await exportOf(req.id)).json<PortabilityPackage>();
    assert.equal(json.format, 'fiducia.portability/1');
    assert.deepEqual(json.events.map((e) => e.messageId).sort(), [...bob.messageIds].sort());
    assert.deepEqual(Object.fromEntries(json.traits.map((t) => [t.name, t.value])), bob.traits);
    const csv = await exportOf(req.id, '?format=csv');
    assert.equal(csv.statusCode, 200);
    assert.match(String(csv.headers['content-disposition']), /attachment/);
    const lines = csv.body.trim().split('\r\n');
    assert.equal(lines[0], 'record,name,messageId,type,event,timestamp,value');
    for (const id of bob.messageIds) assert.ok(lines.some((l) => l.startsWith(`event,,${id},`)), id);
    assert.ok(lines.includes(`trait,favoriteCategory,,,,${json.traits.find((t) => t.name === 'favoriteCategory')!.updatedAt},category-bob`));
    assert.equal((await exportOf(req.id, '?format=html')).statusCode, 409);
  });

  it('keeps packages encrypted at rest and destroys them when they expire', async () => {
    const req = await staffRequest(f, { type: 'access', identity: `userId:${bob.userId}` });
    const row = await f.dbs.data.selectFrom('rights_packages').selectAll().where('request_id', '=', req.id).executeTakeFirstOrThrow();
    const raw = Buffer.from(row.package_enc).toString('latin1');
    for (const s of [bob.email, 'First-bob', bob.messageIds[0]!, 'category-bob']) assert.ok(!raw.includes(s), `plaintext ${s} at rest`);
    // Sealed under the subject's own key and bound to the request: it does not open as another request's package.
    const subject = await subjectOf(f, bob.userId);
    const key = (await f.ring.currentKeys([subject])).get(subject)!;
    assert.throws(() => decryptField(key.key, subject, 'package:another-request', row.package_enc));
    assert.ok(gunzipSync(decryptField(key.key, subject, `package:${req.id}`, row.package_enc)).toString().includes('First-bob'));
    await f.dbs.data.updateTable('rights_packages').set({ expires_at: Date.now() - 1000 }).where('request_id', '=', req.id).execute();
    assert.equal((await exportOf(req.id)).statusCode, 410);
    await f.sweepRights();
    assert.equal(await f.dbs.data.selectFrom('rights_packages').select('request_id').where('request_id', '=', req.id).executeTakeFirst(), undefined);
    const res = await exportOf(req.id);
    assert.equal(res.statusCode, 410);
    assert.equal(res.json<{ error: { code: string } }>().error.code, 'FIDUCIA_EXPORT_EXPIRED');
  });

  it('answers an access request for an unknown person with an empty package', async () => {
    const req = await staffRequest(f, { type: 'access', identity: 'email:nobody@example.com' });
    const pkg = (await exportOf(req.id)).json<AccessPackage>();
    assert.equal(pkg.subject.id, null);
    assert.deepEqual([pkg.identities, pkg.traits, pkg.events, pkg.consents], [[], [], [], []]);
  });

  it('extends the deadline once by up to two months with a reason, and lists overdue requests', async () => {
    // A request received 40 days ago, still open: an erasure waiting on a legal hold.
    const hold = await f.app.inject({ method: 'PUT', url: `/api/v1/legal-holds/userId:${bob.userId}`, headers: staff, payload: { reason: 'tax audit 2026' } });
    assert.equal(hold.statusCode, 200, hold.body);
    const received = new Date(Date.now() - 40 * DAY).toISOString();
    const req = await staffRequest(f, { type: 'erasure', identity: `userId:${bob.userId}`, receivedAt: received });
    assert.equal(req.status, 'in_progress');
    const view = await getRequest(f, req.id);
    assert.deepEqual(view.waiting, { reason: 'legal_hold', holdReason: 'tax audit 2026' });
    assert.equal(view.overdue, true);
    const overdue = await f.app.inject({ method: 'GET', url: '/api/v1/rights-requests?overdue=true', headers: staff });
    assert.deepEqual(overdue.json<{ requests: { id: string }[] }>().requests.map((r) => r.id), [req.id]);
    const done = await f.app.inject({ method: 'GET', url: '/api/v1/rights-requests?status=completed', headers: staff });
    assert.ok(!done.json<{ requests: { id: string }[] }>().requests.some((r) => r.id === req.id));
    // Past its deadline it can no longer be extended.
    const late = await f.app.inject({ method: 'POST', url: `/api/v1/rights-requests/${req.id}/extend`, headers: staff, payload: { months: 2, reason: 'complex' } });
    assert.equal(late.statusCode, 409);

    const fresh = await staffRequest(f, { type: 'erasure', identity: `userId:${bob.userId}` });
    const tooLong = await f.app.inject({ method: 'POST', url: `/api/v1/rights-requests/${fresh.id}/extend`, headers: staff, payload: { months: 3, reason: 'x' } });
    assert.equal(tooLong.statusCode, 400);
    const ext = await f.app.inject({ method: 'POST', url: `/api/v1/rights-requests/${fresh.id}/extend`, headers: staff, payload: { months: 2, reason: 'several linked requests' } });
    assert.equal(ext.statusCode, 200, ext.body);
    assert.equal(ext.json<{ dueAt: string }>().dueAt, new Date(addCalendarMonths(Date.parse(fresh.dueAt), 2)).toISOString());
    assert.deepEqual(ext.json<{ extension: unknown }>().extension && Object.keys(ext.json<{ extension: object }>().extension).sort(), ['at', 'months', 'reason']);
    const twice = await f.app.inject({ method: 'POST', url: `/api/v1/rights-requests/${fresh.id}/extend`, headers: staff, payload: { months: 1, reason: 'again' } });
    assert.equal(twice.statusCode, 409);
    // Rejecting closes it with a reason; a closed request cannot be rejected again.
    const rej = await f.app.inject({ method: 'POST', url: `/api/v1/rights-requests/${fresh.id}/reject`, headers: staff, payload: { reason: 'excessive', note: 'third identical request this month' } });
    assert.equal(rej.statusCode, 200, rej.body);
    assert.equal(rej.json<{ status: string; statusReason: string }>().status, 'rejected');
    assert.equal(rej.json<{ statusReason: string }>().statusReason, 'excessive');
    assert.equal((await f.app.inject({ method: 'POST', url: `/api/v1/rights-requests/${fresh.id}/reject`, headers: staff, payload: { reason: 'other' } })).statusCode, 409);
    // Bob stays: the waiting erasure is withdrawn before the hold is released (a release resumes waiting erasures).
    assert.equal((await f.app.inject({ method: 'POST', url: `/api/v1/rights-requests/${req.id}/reject`, headers: staff, payload: { reason: 'other', note: 'withdrawn' } })).statusCode, 200);
    const released = await f.app.inject({ method: 'DELETE', url: `/api/v1/legal-holds/userId:${bob.userId}`, headers: staff });
    assert.deepEqual(released.json<{ released: number; resumed: unknown[] }>().resumed, []);
  });

  it('rectifies traits re-encrypted, records the change and tells the recipients', async () => {
    const subject = await subjectOf(f, ada.userId);
    const before = await f.dbs.data.selectFrom('traits').select(['value_enc']).where('subject_id', '=', subject).where('name', '=', 'firstName').executeTakeFirstOrThrow();
    const req = await staffRequest(f, { type: 'rectification', identity: `userId:${ada.userId}`, traits: { firstName: 'Adelaide', email: 'adelaide@example.com', nickname: 'x' } });
    assert.equal(req.status, 'completed');
    const view = await getRequest(f, req.id);
    assert.deepEqual(view.outcome, { subjectFound: true, updated: ['firstName', 'email'], added: [], removed: [], refused: { nickname: 'unknown_trait' } });
    const after = await f.dbs.data.selectFrom('traits').select(['value_enc', 'source_id']).where('subject_id', '=', subject).where('name', '=', 'firstName').executeTakeFirstOrThrow();
    assert.notDeepEqual(Buffer.from(after.value_enc), Buffer.from(before.value_enc));
    assert.ok(!Buffer.from(after.value_enc).toString('latin1').includes('Adelaide'));
    assert.equal(after.source_id, `rights:${req.id}`);
    const p = (await profile(ada.userId, 'personalization')).json<{ traits: Record<string, unknown> }>();
    assert.equal(p.traits.firstName, 'Adelaide');
    // The corrected email is now the identity; the old one no longer finds the person.
    const byNew = await f.app.inject({ method: 'GET', url: '/api/v1/profiles/email:adelaide@example.com?purpose=service', headers: staff });
    assert.equal(byNew.statusCode, 200);
    assert.equal((await f.app.inject({ method: 'GET', url: `/api/v1/profiles/email:${ada.email}?purpose=service`, headers: staff })).statusCode, 404);
    const audit = (await f.dbs.data.selectFrom('audit_entries').selectAll().where('action', '=', 'rights.rectification').where('subject_id', '=', subject).execute()).filter((e) =>
      e.data.includes(req.id),
    );
    assert.equal(audit.length, 1);
    assert.ok(audit[0]!.data.includes('trait:firstName'));
    assert.ok(!JSON.stringify(audit).includes('Adelaide'), 'the audit log holds names, not values');
    const notes = await f.dbs.data.selectFrom('recipient_notifications').selectAll().where('request_id', '=', req.id).execute();
    assert.ok(notes.some((n) => n.recipient === 'Email service provider' && n.action === 'rectification' && JSON.parse(n.fields).includes('trait:email')));
    assert.ok(notes.every((n) => n.delivered_at === null));
  });

  it('restricts processing: every use returns nothing until the restriction is lifted', async () => {
    const req = await staffRequest(f, { type: 'restriction', identity: `userId:${bob.userId}` });
    assert.equal(req.status, 'completed');
    const p = (await profile(bob.userId, 'personalization')).json<{ traits: Record<string, unknown>; withheld: { reason: string }[] }>();
    assert.deepEqual(p.traits, {});
    assert.ok(p.withheld.length > 0 && p.withheld.every((w) => w.reason === 'restricted'));
    // The person can still see their data.
    const acc = await staffRequest(f, { type: 'access', identity: `userId:${bob.userId}` });
    const pkg = (await exportOf(acc.id)).json<AccessPackage>();
    assert.equal(pkg.subject.restricted, true);
    assert.equal(pkg.events.length, bob.messageIds.length);
    const notes = await f.dbs.data.selectFrom('recipient_notifications').select(['action']).where('request_id', '=', req.id).execute();
    assert.ok(notes.length > 0 && notes.every((n) => n.action === 'restriction'));
    const lift = await f.app.inject({ method: 'POST', url: `/api/v1/rights-requests/${req.id}/lift-restriction`, headers: staff, payload: { reason: 'accuracy verified' } });
    assert.equal(lift.statusCode, 200, lift.body);
    const again = (await profile(bob.userId, 'personalization')).json<{ traits: Record<string, unknown> }>();
    assert.equal(again.traits.favoriteCategory, 'category-bob');
    assert.equal((await f.app.inject({ method: 'POST', url: `/api/v1/rights-requests/${req.id}/lift-restriction`, headers: staff, payload: { reason: 'again' } })).statusCode, 409);
  });

  it('records objections per purpose: absolute for direct marketing, not for contract', async () => {
    const req = await staffRequest(f, { type: 'objection', identity: `userId:${bob.userId}`, purposes: ['marketing', 'service'] });
    assert.equal(req.status, 'completed');
    assert.deepEqual((await getRequest(f, req.id)).outcome, { subjectFound: true, purposes: { marketing: 'stopped_absolute', service: 'not_objectable' } });
    const m = (await profile(bob.userId, 'marketing')).json<{ traits: Record<string, unknown>; withheld: { reason: string }[] }>();
    assert.deepEqual(m.traits, {});
    assert.ok(m.withheld.length > 0 && m.withheld.every((w) => w.reason === 'objection'));
    const s = (await profile(bob.userId, 'service')).json<{ traits: Record<string, unknown> }>();
    assert.equal(s.traits.email, bob.email);
    // Collection for the purpose stops too: campaign engagement (read by marketing only) is no longer stored.
    const later = await f.app.inject({
      method: 'POST',
      url: '/v1/batch',
      headers: { authorization: basicAuth() },
      payload: {
        batch: [
          { type: 'track', userId: bob.userId, event: 'Email Opened', properties: { email_id: 'e1', campaign_id: 'c1' }, messageId: 'bob-after-objection-1' },
          { type: 'track', userId: bob.userId, event: 'Product Viewed', properties: { product_id: 'p9' }, messageId: 'bob-after-objection-2' },
        ],
      },
    });
    assert.equal(later.statusCode, 200);
    const kept = await f.dbs.data.selectFrom('events').select(['message_id', 'purposes']).where('message_id', 'like', 'bob-after-objection-%').execute();
    assert.deepEqual(kept.map((e) => e.message_id), ['bob-after-objection-2']);
    assert.ok(!JSON.parse(kept[0]!.purposes).includes('marketing'));
    const only = await staffRequest(f, { type: 'objection', identity: `userId:${bob.userId}`, purposes: ['service'] });
    assert.equal(only.status, 'rejected');
    assert.equal((await getRequest(f, only.id)).statusReason, 'not_applicable');
    // Without purposes an objection is to direct marketing.
    const dm = await staffRequest(f, { type: 'objection', identity: `userId:${ada.userId}` });
    assert.deepEqual((await getRequest(f, dm.id)).options, { purposes: ['marketing', 'advertising'] });
  });

  it('refuses bad input and callers who are not dpo or admin', async () => {
    const bad = await f.app.inject({ method: 'POST', url: '/api/v1/rights-requests', headers: staff, payload: { type: 'access', identity: 'nickname:ada' } });
    assert.equal(bad.statusCode, 400);
    const unknownPurpose = await f.app.inject({ method: 'POST', url: '/api/v1/rights-requests', headers: staff, payload: { type: 'objection', identity: `userId:${ada.userId}`, purposes: ['astrology'] } });
    assert.equal(unknownPurpose.statusCode, 400);
    const noTraits = await f.app.inject({ method: 'POST', url: '/api/v1/rights-requests', headers: staff, payload: { type: 'rectification', identity: `userId:${ada.userId}` } });
    assert.equal(noTraits.statusCode, 400);
    assert.equal((await f.app.inject({ method: 'GET', url: '/api/v1/rights-requests' })).statusCode, 401);
    const analyst = await f.access.createToken({ name: 'a', role: 'analyst', purposes: [] });
    const denied = await f.app.inject({ method: 'GET', url: '/api/v1/rights-requests', headers: { authorization: `Bearer ${analyst.token}` } });
    assert.equal(denied.statusCode, 403);
    const dpo = await f.access.createToken({ name: 'd', role: 'dpo', purposes: [] });
    const ok = await f.app.inject({ method: 'GET', url: '/api/v1/rights-requests?limit=5', headers: { authorization: `Bearer ${dpo.token}` } });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.json<{ requests: unknown[] }>().requests.length, 5);
    assert.equal((await f.app.inject({ method: 'GET', url: '/api/v1/rights-requests/00000000-0000-7000-8000-000000000000', headers: staff })).statusCode, 404);
  });
});
