// Erasure (Art. 17) by crypto-shredding: rows deleted, keys destroyed, an old copy of the data unreadable, suppression, legal hold, merges.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { sql } from 'kysely';
import { pino } from 'pino';
import { createFiducia, type Fiducia, type FiduciaOptions } from '../src/app.ts';
import { decryptJson } from '../src/crypto/envelope.ts';
import type { AccessPackage } from '../src/domain/rights-package.ts';
import { dropPgSchema, type Dialect } from '../src/store/database.ts';
import { ADMIN_TOKEN, PG_URL, WRITE_KEY, basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';
import { CaptureMailer, auditActions, getRequest, seedSubject, staff, staffRequest, subjectOf, type Running } from './helpers/rights.ts';

async function rowsOf(f: Fiducia, subjectId: string): Promise<Record<string, number>> {
  const count = async (table: 'events' | 'traits' | 'identities' | 'segment_members' | 'segment_states' | 'objections') =>
    Number((await f.dbs.data.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).where('subject_id', '=', subjectId).executeTakeFirstOrThrow()).n);
  return {
    events: await count('events'),
    traits: await count('traits'),
    identities: await count('identities'),
    segment_members: await count('segment_members'),
    segment_states: await count('segment_states'),
    objections: await count('objections'),
  };
}

async function keyCount(f: Fiducia, subjectId: string): Promise<number> {
  return (await f.dbs.keys.selectFrom('data_keys').select('version').where('subject_id', '=', subjectId).execute()).length;
}

/** A copy of the data as it is now, to be started later with whatever keystore exists then. */
interface Snapshot {
  restore(f: Running): Promise<{ fiducia: Fiducia; cleanup(): Promise<void> }>;
}

async function snapshot(dialect: Dialect, f: Running): Promise<Snapshot> {
  const opts = f.store.options;
  const base = (dataDir: string): FiduciaOptions => ({ dataDir, adminToken: ADMIN_TOKEN, writeKey: WRITE_KEY, logger: pino({ level: 'silent' }), mailer: new CaptureMailer(), rightsSweepMs: 0, auditCheckpointSeconds: 0, segmentRefreshMs: 0 });
  if (dialect === 'sqlite') {
    // A backup of fiducia.db alone, as an operator's file copy would take it (with its WAL).
    const saved = mkdtempSync(join(tmpdir(), 'fiducia-backup-'));
    for (const name of ['fiducia.db', 'fiducia.db-wal']) if (existsSync(join(opts.dataDir, name))) copyFileSync(join(opts.dataDir, name), join(saved, name));
    return {
      async restore(current) {
        // The old data, next to the CURRENT keystore and master key.
        await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(current.dbs.keys);
        const dir = mkdtempSync(join(tmpdir(), 'fiducia-restore-'));
        for (const name of ['fiducia.db', 'fiducia.db-wal']) if (existsSync(join(saved, name))) copyFileSync(join(saved, name), join(dir, name));
        for (const name of ['keys.db', 'keys.db-wal']) if (existsSync(join(opts.dataDir, name))) copyFileSync(join(opts.dataDir, name), join(dir, name));
        writeFileSync(join(dir, 'master.key'), `${opts.masterKey}\n`, { mode: 0o600 });
        const fiducia = await createFiducia(base(dir));
        return {
          fiducia,
          async cleanup() {
            await fiducia.close();
            rmSync(dir, { recursive: true, force: true });
            rmSync(saved, { recursive: true, force: true });
          },
        };
      },
    };
  }
  // PostgreSQL: the data schema's tables copied into another schema (what a dump of the data alone would restore).
  const schema = opts.schema!;
  const copy = `${schema}_backup`;
  await sql`CREATE SCHEMA ${sql.id(copy)}`.execute(f.dbs.data);
  const tables = await sql<{ table_name: string }>`SELECT table_name FROM information_schema.tables WHERE table_schema = ${schema} AND table_type = 'BASE TABLE'`.execute(f.dbs.data);
  for (const { table_name } of tables.rows) {
    await sql`CREATE TABLE ${sql.id(copy, table_name)} (LIKE ${sql.id(schema, table_name)} INCLUDING ALL)`.execute(f.dbs.data);
    await sql`INSERT INTO ${sql.id(copy, table_name)} SELECT * FROM ${sql.id(schema, table_name)}`.execute(f.dbs.data);
  }
  return {
    async restore() {
      const dir = mkdtempSync(join(tmpdir(), 'fiducia-restore-'));
      const fiducia = await createFiducia({ ...base(dir), databaseUrl: PG_URL, schema: copy, keysSchema: opts.keysSchema, masterKey: opts.masterKey });
      return {
        fiducia,
        async cleanup() {
          await fiducia.close();
          await dropPgSchema(PG_URL, copy);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  };
}

await eachDialect('erasure', (dialect) => {
  let f: Running;
  before(async () => {
    f = await startFiducia(dialect, { mailer: new CaptureMailer(), rightsSweepMs: 0 });
  });
  after(async () => f.stop());

  const profile = (identity: string, g: Fiducia = f) => g.app.inject({ method: 'GET', url: `/api/v1/profiles/${identity}?purpose=personalization`, headers: staff });

  it('deletes the rows, destroys the keys, keeps a pseudonymous marker and the consent ledger without proofs', async () => {
    const ada = await seedSubject(f, 'era', 20);
    const other = await seedSubject(f, 'keep', 5);
    const subject = await subjectOf(f, ada.userId);
    const otherSubject = await subjectOf(f, other.userId);
    assert.equal((await profile(`userId:${ada.userId}`)).statusCode, 200);
    assert.equal(f.readCache.holds(subject), true, 'the read kept decrypted traits');
    assert.equal((await rowsOf(f, subject)).events, 20);
    const req = await staffRequest(f, { type: 'erasure', identity: `email:${ada.email}` });
    assert.equal(f.readCache.holds(subject), false, 'the erasure dropped them from memory');
    assert.equal(req.status, 'completed');
    const view = await getRequest(f, req.id);
    assert.equal(view.outcome.keysDestroyed, true);
    assert.equal(view.outcome.events, 20);

    assert.equal((await profile(`userId:${ada.userId}`)).statusCode, 404);
    assert.equal((await profile(`email:${ada.email}`)).statusCode, 404);
    assert.deepEqual(await rowsOf(f, subject), { events: 0, traits: 0, identities: 0, segment_members: 0, segment_states: 0, objections: 0 });
    assert.equal(await keyCount(f, subject), 0);
    assert.equal((await f.ring.currentKeys([subject])).size, 0);
    const marker = await f.dbs.data.selectFrom('subjects').selectAll().where('id', '=', subject).executeTakeFirstOrThrow();
    assert.ok(marker.erased_at !== null);
    const ledger = await f.dbs.data.selectFrom('consents').selectAll().where('subject_id', '=', subject).execute();
    assert.ok(ledger.length >= 3, 'the consent ledger stays as proof of lawful processing');
    assert.ok(ledger.every((c) => c.ua_hash === null && c.ip_truncated === null));
    const notes = await f.dbs.data.selectFrom('recipient_notifications').selectAll().where('request_id', '=', req.id).execute();
    assert.ok(notes.length > 0 && notes.every((n) => n.action === 'erasure'));
    assert.ok((await auditActions(f, 'rights.erasure')).some((a) => a.subject_id === subject));
    // The other person is untouched.
    assert.equal((await rowsOf(f, otherSubject)).events, 5);
    assert.equal(await keyCount(f, otherSubject), 1);
    assert.equal((await profile(`userId:${other.userId}`)).statusCode, 200);
  });

  it('leaves a copy of the data taken before the erasure unreadable with the current keystore', async () => {
    const ada = await seedSubject(f, 'backup', 15);
    await seedSubject(f, 'bystander', 1); // so that the keystore holds other keys to try
    const subject = await subjectOf(f, ada.userId);
    const snap = await snapshot(dialect, f);
    await staffRequest(f, { type: 'erasure', identity: `userId:${ada.userId}` });
    const restored = await snap.restore(f);
    const g = restored.fiducia;
    try {
      // The old copy still holds the rows ...
      assert.equal((await rowsOf(g, subject)).events, 15);
      assert.equal((await rowsOf(g, subject)).traits, Object.keys(ada.traits).length);
      // ... but no key opens them: not the subject's (destroyed), nor any other in the keystore.
      assert.equal((await g.ring.currentKeys([subject])).size, 0);
      assert.equal(await g.ring.keyVersion(subject, 1), undefined);
      const keys = [];
      for (const k of await g.dbs.keys.selectFrom('data_keys').select(['subject_id', 'version']).execute()) keys.push((await g.ring.keyVersion(k.subject_id, k.version))!);
      assert.ok(keys.length > 0, 'the keystore has keys');
      const blobs = [
        ...(await g.dbs.data.selectFrom('events').select(['id', 'payload_enc']).where('subject_id', '=', subject).execute()).map((e) => ({ field: `event:${e.id}`, blob: e.payload_enc })),
        ...(await g.dbs.data.selectFrom('traits').select(['name', 'value_enc']).where('subject_id', '=', subject).execute()).map((t) => ({ field: `trait:${t.name}`, blob: t.value_enc })),
      ];
      for (const { field, blob } of blobs) for (const key of keys) assert.throws(() => decryptJson(key, subject, field, blob), /authenticate/);
      // Through the API: the profile shows nothing, and an access request finds only unreadable rows.
      const p = await profile(`userId:${ada.userId}`, g);
      if (p.statusCode === 200) {
        const body = p.json<{ traits: Record<string, unknown>; withheld: { reason: string }[] }>();
        assert.deepEqual(body.traits, {});
        assert.ok(body.withheld.some((w) => w.reason === 'erased') && body.withheld.every((w) => w.reason === 'erased' || w.reason === 'category_not_in_purpose'), JSON.stringify(body.withheld));
      } else assert.equal(p.statusCode, 404);
      for (const v of Object.values(ada.traits)) assert.ok(!p.body.includes(String(v)), `profile shows ${String(v)}`);
      const acc = await g.app.inject({ method: 'POST', url: '/api/v1/rights-requests', headers: staff, payload: { type: 'access', identity: `userId:${ada.userId}` } });
      assert.equal(acc.statusCode, 202, acc.body);
      const exp = await g.app.inject({ method: 'GET', url: `/api/v1/rights-requests/${acc.json<{ id: string }>().id}/export`, headers: staff });
      const pkg = exp.json<AccessPackage>();
      assert.deepEqual([pkg.identities, pkg.traits, pkg.events], [[], [], []]);
      for (const v of [...Object.values(ada.traits), ...ada.messageIds.map(() => `${ada.userId}-never`)]) assert.ok(!exp.body.includes(String(v)), `package shows ${String(v)}`);
      const accView = await getRequest(g as Running, acc.json<{ id: string }>().id);
      assert.ok((accView.outcome.unreadable as number) >= 15 + 4, JSON.stringify(accView));
      if (dialect === 'sqlite') {
        // Nothing readable in the file either: every value in it is ciphertext.
        const bytes = readFileSync(join(f.store.options.dataDir, 'fiducia.db')).toString('latin1');
        assert.ok(!bytes.includes('First-backup'), 'plaintext in fiducia.db');
      }
    } finally {
      await restored.cleanup();
    }
  });

  it('suppresses later events carrying the identifiers of an erased person, when asked', async () => {
    const s = await seedSubject(f, 'supp', 3);
    const req = await staffRequest(f, { type: 'erasure', identity: `userId:${s.userId}`, suppress: true });
    assert.equal(req.status, 'completed');
    const rows = await f.dbs.data.selectFrom('suppressions').selectAll().where('request_id', '=', req.id).execute();
    assert.deepEqual(rows.map((r) => r.kind).sort(), ['anonymousId', 'email', 'userId']);
    assert.ok(rows.every((r) => Buffer.from(r.blind_index).length === 32 && !Buffer.from(r.blind_index).toString('latin1').includes('supp')));
    const subjectsBefore = (await f.dbs.data.selectFrom('subjects').select('id').execute()).length;
    const droppedBefore = ((await f.metrics.dropped.get()).values.find((v) => v.labels.reason === 'suppressed')?.value ?? 0);
    const r = await f.app.inject({
      method: 'POST',
      url: '/v1/batch',
      headers: { authorization: basicAuth() },
      payload: {
        batch: [
          { type: 'track', anonymousId: s.anonymousId, event: 'Order Completed', properties: { order_id: 'again' }, messageId: 'supp-late-1' },
          { type: 'identify', userId: 'someone-new', traits: { email: s.email }, messageId: 'supp-late-2' },
          { type: 'track', userId: s.userId, event: 'Order Completed', properties: { order_id: 'again2' }, messageId: 'supp-late-3' },
          { type: 'track', userId: 'unrelated-user', event: 'Order Completed', properties: { order_id: 'fine' }, messageId: 'supp-late-4' },
        ],
      },
    });
    assert.equal(r.statusCode, 200);
    const stored = await f.dbs.data.selectFrom('events').select('message_id').where('message_id', 'like', 'supp-late-%').execute();
    assert.deepEqual(stored.map((e) => e.message_id), ['supp-late-4']);
    assert.equal((await f.dbs.data.selectFrom('subjects').select('id').execute()).length, subjectsBefore + 1, 'only the unrelated user is new');
    const droppedAfter = (await f.metrics.dropped.get()).values.find((v) => v.labels.reason === 'suppressed')?.value ?? 0;
    assert.equal(droppedAfter - droppedBefore, 3);
  });

  it('waits for a legal hold, with the reason recorded, and erases when it is released', async () => {
    const s = await seedSubject(f, 'hold', 4);
    const subject = await subjectOf(f, s.userId);
    const hold = await f.app.inject({ method: 'PUT', url: `/api/v1/legal-holds/userId:${s.userId}`, headers: staff, payload: { reason: 'pending litigation, case 12/2026' } });
    assert.equal(hold.statusCode, 200, hold.body);
    const req = await staffRequest(f, { type: 'erasure', identity: `userId:${s.userId}` });
    assert.equal(req.status, 'in_progress');
    const waiting = await getRequest(f, req.id);
    assert.deepEqual(waiting.waiting, { reason: 'legal_hold', holdReason: 'pending litigation, case 12/2026' });
    assert.equal(waiting.history?.at(-1)?.reason, 'legal_hold');
    assert.equal((await rowsOf(f, subject)).events, 4, 'nothing is erased while the hold stands');
    assert.equal(await keyCount(f, subject), 1);
    const again = await f.app.inject({ method: 'POST', url: `/api/v1/rights-requests/${req.id}/process`, headers: staff, payload: {} });
    assert.equal(again.json<{ status: string }>().status, 'in_progress');
    const released = await f.app.inject({ method: 'DELETE', url: `/api/v1/legal-holds/userId:${s.userId}`, headers: staff });
    assert.equal(released.statusCode, 200, released.body);
    assert.deepEqual(released.json<{ resumed: unknown[] }>().resumed, [{ id: req.id, status: 'completed' }]);
    assert.equal((await rowsOf(f, subject)).events, 0);
    assert.equal(await keyCount(f, subject), 0);
    const actions = (await auditActions(f)).filter((a) => a.subject_id === subject).map((a) => a.action);
    for (const a of ['rights.legal_hold.set', 'rights.request.waiting', 'rights.legal_hold.released', 'rights.erasure']) assert.ok(actions.includes(a), a);
  });

  it('erases subjects merged into the erased one', async () => {
    const consent = (anonymousId: string) =>
      f.app.inject({ method: 'POST', url: '/v1/consent', headers: { authorization: basicAuth() }, payload: { anonymousId, purposes: { analytics: true }, noticeVersion: f.cfg.config.notice.current } });
    await consent('merge-a');
    await consent('merge-b');
    const send = (batch: unknown[]) => f.app.inject({ method: 'POST', url: '/v1/batch', headers: { authorization: basicAuth() }, payload: { batch } });
    await send([{ type: 'track', anonymousId: 'merge-a', event: 'Product Viewed', properties: { product_id: 'a' }, messageId: 'merge-1' }]);
    await send([{ type: 'track', anonymousId: 'merge-b', event: 'Product Viewed', properties: { product_id: 'b' }, messageId: 'merge-2' }]);
    await send([{ type: 'identify', userId: 'merge-user', anonymousId: 'merge-a', traits: {}, messageId: 'merge-3' }]);
    await send([{ type: 'track', userId: 'merge-user', anonymousId: 'merge-b', event: 'Product Viewed', properties: { product_id: 'c' }, messageId: 'merge-4' }]);
    const survivor = await subjectOf(f, 'merge-user');
    const losers = (await f.dbs.data.selectFrom('subjects').select('id').where('merged_into', '=', survivor).execute()).map((r) => r.id);
    assert.equal(losers.length, 1, 'the two visitors were merged');
    const req = await staffRequest(f, { type: 'erasure', identity: 'anonymousId:merge-b' });
    assert.equal(req.status, 'completed');
    assert.equal((await getRequest(f, req.id)).outcome.mergedAway, 1);
    for (const id of [survivor, ...losers]) {
      const row = await f.dbs.data.selectFrom('subjects').select(['erased_at']).where('id', '=', id).executeTakeFirstOrThrow();
      assert.ok(row.erased_at !== null, `${id} marked erased`);
      assert.equal(await keyCount(f, id), 0);
    }
    assert.equal((await f.dbs.data.selectFrom('events').select('id').where('message_id', 'like', 'merge-%').execute()).length, 0);
  });

  it('completes an erasure for an unknown person without touching anyone', async () => {
    const before = (await f.dbs.data.selectFrom('events').select('id').execute()).length;
    const req = await staffRequest(f, { type: 'erasure', identity: 'email:stranger@example.com' });
    assert.equal(req.status, 'completed');
    assert.deepEqual((await getRequest(f, req.id)).outcome, { subjectFound: false, suppressed: 0 });
    assert.equal((await f.dbs.data.selectFrom('events').select('id').execute()).length, before);
  });
});
