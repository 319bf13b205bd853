// Crypto-shredding leaves nothing behind: no copy of a destroyed key in the keystore's files or pages, no erased
// ciphertext in SQLite's free space, owner-only files whatever the umask, and no outbox mail outliving its request.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { sql, type Kysely } from 'kysely';
import { createFiducia } from '../src/app.ts';
import { completionMessage } from '../src/services/rights/mailer.ts';
import { MAIL_KEEP_MS } from '../src/services/rights/rights-sweep.ts';
import type { Dialect } from '../src/store/database.ts';
import { basicAuth, eachDialect, freshStore, startFiducia } from './helpers/harness.ts';
import { getRequest, seedSubject, staff, staffRequest, subjectOf, type Running } from './helpers/rights.ts';

const KEY_FILES = ['keys.db', 'keys.db-wal', 'keys.db-shm', 'keys.db-journal'];
const DATA_FILES = ['fiducia.db', 'fiducia.db-wal', 'fiducia.db-shm', 'fiducia.db-journal'];

/** The files among `names` (in `dir`) whose bytes contain `needle`. */
function filesHolding(dir: string, names: readonly string[], needle: Buffer): string[] {
  return names.filter((n) => existsSync(join(dir, n)) && readFileSync(join(dir, n)).includes(needle));
}

/**
 * The schema of pageinspect, created in one of its own if the database lacks it (test processes run in parallel
 * against one database: losing the race to create it is fine).
 */
async function withPageinspect(db: Kysely<unknown>): Promise<string> {
  const available = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_available_extensions WHERE name = 'pageinspect'`.execute(db);
  assert.equal(available.rows[0]?.n, 1, 'these tests read PostgreSQL pages with pageinspect (Debian ships it with the server)');
  const schema = 'fiducia_test_pageinspect';
  for (const statement of [sql`CREATE SCHEMA IF NOT EXISTS ${sql.id(schema)}`, sql`CREATE EXTENSION IF NOT EXISTS pageinspect WITH SCHEMA ${sql.id(schema)}`]) {
    try {
      await statement.execute(db);
    } catch (err) {
      if (!['23505', '42710', '42P06'].includes((err as { code?: string }).code ?? '')) throw err;
    }
  }
  const r = await sql<{ nspname: string }>`SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pageinspect'`.execute(db);
  assert.ok(r.rows[0], 'pageinspect is installed');
  return r.rows[0].nspname;
}

/** Where pageinspect's functions are (set once per PostgreSQL suite). */
let inspect = '';

/**
 * Where the keystore holds `bytes`: its files on SQLite; on PostgreSQL, every tuple of `data_keys`, live or dead,
 * read page by page with pageinspect (what a copy of the table's files would show, short of free space in a page,
 * which PostgreSQL does not clear: see docs/architecture.md, "What an erasure can promise").
 */
async function keystoreCopies(f: Running, bytes: Buffer): Promise<string[]> {
  if (f.dbs.dialect === 'sqlite') return filesHolding(f.store.options.dataDir, KEY_FILES, bytes);
  const rel = `${f.store.options.keysSchema!}.data_keys`;
  const r = await sql<{ at: string }>`
    SELECT '(' || b || ',' || h.lp || ') ' || CASE WHEN h.t_xmax = '0' THEN 'live' ELSE 'deleted' END AS at
    FROM generate_series(0, (pg_relation_size(${rel}::regclass) / current_setting('block_size')::int)::int - 1) AS b,
      ${sql.id(inspect)}.heap_page_items(${sql.id(inspect)}.get_raw_page(${rel}::text, b::int)) AS h
    WHERE position(${bytes} in h.t_data) > 0`.execute(f.dbs.keys);
  return r.rows.map((x) => x.at);
}

async function wrappedKey(f: Running, subjectId: string): Promise<Buffer> {
  const row = await f.dbs.keys.selectFrom('data_keys').select('wrapped').where('subject_id', '=', subjectId).executeTakeFirst();
  assert.ok(row, `no data key for ${subjectId}`);
  return Buffer.from(row.wrapped);
}

function outboxOf(f: Running): string {
  return join(f.store.options.dataDir, 'outbox');
}

/** Outbox files, by the request id their name carries. */
function outbox(f: Running): { name: string; requestId: string }[] {
  const dir = outboxOf(f);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => n.endsWith('.eml'))
    .map((name) => ({ name, requestId: name.split('_')[1] ?? '' }));
}

/** A message about `requestId` through the running mailer, as the rights services send them; its file's name. */
async function mailAbout(f: Running, requestId: string | undefined, to = 'someone@example.com'): Promise<string> {
  const before = new Set(outbox(f).map((m) => m.name));
  await f.rights.deps.mailer.send({ ...completionMessage(to, 'en', 'Shop', 'access', 'completed', null), requestId });
  const added = outbox(f).filter((m) => !before.has(m.name));
  assert.equal(added.length, 1, 'one file per message');
  return added[0]!.name;
}

const inOutbox = (f: Running, name: string) => existsSync(join(outboxOf(f), name));

function age(f: Running, requestId: string, ms: number): void {
  const when = new Date(Date.now() - ms);
  for (const m of outbox(f)) if (m.requestId === requestId) utimesSync(join(outboxOf(f), m.name), when, when);
}

let ipCounter = 0;

/** A self-service request waiting for its code: open until confirmed, rejected or expired. */
async function openRequest(f: Running, tag: string): Promise<string> {
  // Each from its own address and mailbox, below the per-address limits.
  const ip = `198.51.100.${++ipCounter}`;
  const r = await f.app.inject({ method: 'POST', url: '/v1/rights-requests', headers: { authorization: basicAuth() }, payload: { email: `${tag}@example.com`, type: 'access', language: 'en' }, remoteAddress: ip });
  assert.equal(r.statusCode, 202, r.body);
  return r.json<{ id: string }>().id;
}

async function reject(f: Running, id: string): Promise<void> {
  const r = await f.app.inject({ method: 'POST', url: `/api/v1/rights-requests/${id}/reject`, headers: staff, payload: { reason: 'other' } });
  assert.equal(r.statusCode, 200, r.body);
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

await eachDialect('crypto-shredding leaves nothing behind', (dialect: Dialect) => {
  let f: Running;
  before(async () => {
    f = await startFiducia(dialect, { rightsSweepMs: 0, auditCheckpointSeconds: 0, segmentRefreshMs: 0 });
    if (dialect === 'postgres') inspect = await withPageinspect(f.dbs.keys as Kysely<unknown>);
  });
  after(async () => f.stop());

  it('the wrapped data key is in the keystore before the erasure, and in none of its files or tuples after', async () => {
    const ada = await seedSubject(f, 'shred-key', 4);
    const subjectId = await subjectOf(f, ada.userId);
    const wrapped = await wrappedKey(f, subjectId);
    assert.ok((await keystoreCopies(f, wrapped)).length > 0, 'the search finds the wrapped key before the erasure');

    const req = await staffRequest(f, { type: 'erasure', identity: `userId:${ada.userId}` });
    assert.equal(req.status, 'completed');
    assert.equal((await getRequest(f, req.id)).outcome.keysDestroyed, true);
    assert.deepEqual(await keystoreCopies(f, wrapped), [], 'no copy of the destroyed key is left once the erasure says keysDestroyed');
  });

  it('keys destroyed outside an erasure (a merged-away profile’s) leave the keystore with the sweep', async () => {
    const batch = (messages: Record<string, unknown>[]) => f.app.inject({ method: 'POST', url: '/v1/batch', headers: { authorization: basicAuth() }, payload: { batch: messages } });
    const consent = await f.app.inject({ method: 'POST', url: '/v1/consent', headers: { authorization: basicAuth() }, payload: { anonymousId: 'anon-merge-1', purposes: { analytics: true }, noticeVersion: f.cfg.config.notice.current } });
    assert.equal(consent.statusCode, 200, consent.body);
    assert.equal((await batch([{ type: 'track', anonymousId: 'anon-merge-1', event: 'Product Viewed', messageId: 'merge-1' }])).statusCode, 200);
    const bi = f.ring.blindIndex.index('anonymousId', 'anon-merge-1');
    const first = await f.dbs.data.selectFrom('identities').select('subject_id').where('kind', '=', 'anonymousId').where('blind_index', '=', bi).executeTakeFirstOrThrow();
    const wrapped = await wrappedKey(f, first.subject_id);
    // A known user on another device, then the first device logs in: the anonymous profile merges into the user's.
    assert.equal((await batch([{ type: 'identify', userId: 'user-merge', anonymousId: 'anon-merge-2', messageId: 'merge-2' }])).statusCode, 200);
    assert.equal((await batch([{ type: 'identify', userId: 'user-merge', anonymousId: 'anon-merge-1', messageId: 'merge-3' }])).statusCode, 200);
    assert.notEqual(await subjectOf(f, 'user-merge'), first.subject_id, 'the user’s profile survives the merge');
    assert.equal((await f.dbs.keys.selectFrom('data_keys').select('version').where('subject_id', '=', first.subject_id).execute()).length, 0, 'the merged-away key is destroyed');

    await f.sweepRights();
    assert.deepEqual(await keystoreCopies(f, wrapped), [], 'the sweep purges the keys destroyed since the last purge');
  });

  it('SQLite: an erased person’s ciphertexts are not left in the data file or its WAL', { skip: dialect !== 'sqlite' && 'the data file is SQLite’s' }, async () => {
    const bea = await seedSubject(f, 'shred-data', 4);
    const subjectId = await subjectOf(f, bea.userId);
    const traits = await f.dbs.data.selectFrom('traits').select('value_enc').where('subject_id', '=', subjectId).execute();
    const events = await f.dbs.data.selectFrom('events').select('payload_enc').where('subject_id', '=', subjectId).execute();
    const blobs = [...traits.map((t) => Buffer.from(t.value_enc)), ...events.map((e) => Buffer.from(e.payload_enc))];
    assert.ok(traits.length > 0 && events.length > 0, 'the subject has traits and events');
    const dir = f.store.options.dataDir;
    for (const b of blobs) assert.ok(filesHolding(dir, DATA_FILES, b).length > 0, 'the search finds each ciphertext before the erasure');

    const req = await staffRequest(f, { type: 'erasure', identity: `userId:${bea.userId}` });
    assert.equal(req.status, 'completed');
    const left = blobs.map((b) => filesHolding(dir, DATA_FILES, b)).filter((files) => files.length > 0);
    assert.deepEqual(left, [], 'secure_delete zeroed the rows and the WAL holding their old pages was emptied');
  });

  it('outbox mail goes when its request closes; other requests’ mail stays', async () => {
    const closing = await openRequest(f, 'close-a');
    const open = await openRequest(f, 'close-b');
    const closingMail = await mailAbout(f, closing);
    const openMail = await mailAbout(f, open);
    const aboutNone = await mailAbout(f, undefined);
    assert.equal(closingMail.split('_')[1], closing, 'the file name carries the request id');

    await reject(f, closing);
    assert.ok(!inOutbox(f, closingMail), 'the closed request’s mail is deleted');
    assert.ok(inOutbox(f, openMail), 'an open request’s mail stays');
    assert.ok(inOutbox(f, aboutNone), 'mail about no request is left to the sweep');
  });

  it('the sweep deletes mail written after the close once it is a day old, and mail about no request', async () => {
    const closed = await openRequest(f, 'sweep-a');
    await reject(f, closed);
    // The outcome is mailed after the close: it stays a while for whoever delivers the outbox.
    await mailAbout(f, closed);
    const open = await openRequest(f, 'sweep-b');
    await mailAbout(f, open);
    await f.sweepRights();
    assert.ok(outbox(f).some((m) => m.requestId === closed), 'a fresh outcome mail stays for delivery');

    age(f, closed, MAIL_KEEP_MS + 3600_000);
    age(f, open, MAIL_KEEP_MS + 3600_000);
    age(f, 'none', MAIL_KEEP_MS + 3600_000);
    await f.sweepRights();
    const ids = outbox(f).map((m) => m.requestId);
    assert.ok(!ids.includes(closed), 'the closed request’s outcome mail is gone a day later');
    assert.ok(!ids.includes('none'), 'mail about no request is gone a day later');
    assert.ok(ids.includes(open), 'an open request keeps its mail until it closes');
  });

  it('an erasure deletes the mail of every request about the person', async () => {
    const cy = await seedSubject(f, 'shred-mail', 2);
    const access = await staffRequest(f, { type: 'access', identity: `userId:${cy.userId}` });
    assert.equal(access.status, 'completed');
    // The outcome of the access request, mailed after it closed.
    await mailAbout(f, access.id, cy.email);
    const other = await openRequest(f, 'someone-else');
    await mailAbout(f, other);

    const erasure = await staffRequest(f, { type: 'erasure', identity: `userId:${cy.userId}` });
    assert.equal(erasure.status, 'completed');
    const ids = outbox(f).map((m) => m.requestId);
    assert.ok(!ids.includes(access.id), 'mail about the erased person is deleted with the erasure');
    assert.ok(ids.includes(other), 'mail about someone else stays');
  });

  it(
    'self-service: the verification mail carries its request and goes when the request completes',
    async () => {
      const id = await openRequest(f, 'self-outbox');
      const verification = outbox(f).filter((m) => m.requestId === id);
      assert.equal(verification.length, 1, 'the verification mail names its request');
      await reject(f, id);
      // The outcome ("not granted") is mailed after the close and stays for the sweep; the code mail is gone.
      assert.ok(!inOutbox(f, verification[0]!.name), 'the verification mail is gone with the close');
    },
  );

  it('database files, master key and outbox are owner-only whatever the umask', async () => {
    const previous = process.umask(0o022);
    const store = freshStore(dialect);
    try {
      // An existing data dir and database file as another umask (or an older version) left them.
      const dataDir = join(store.options.dataDir, 'data');
      mkdirSync(dataDir, { mode: 0o755 });
      if (dialect === 'sqlite') writeFileSync(join(dataDir, 'fiducia.db'), '', { mode: 0o644 });
      const g = await createFiducia({ ...store.options, dataDir, masterKey: undefined, rightsSweepMs: 0, auditCheckpointSeconds: 0, segmentRefreshMs: 0 });
      const files = dialect === 'sqlite' ? [...DATA_FILES, ...KEY_FILES, 'master.key'] : ['master.key'];
      const check = (when: string) => {
        assert.equal(mode(dataDir).toString(8), '700', `data dir ${when}`);
        for (const name of files) {
          const path = join(dataDir, name);
          if (existsSync(path)) assert.equal(mode(path).toString(8), '600', `${name} ${when}`);
        }
        const outboxDir = join(dataDir, 'outbox');
        if (existsSync(outboxDir)) {
          assert.equal(mode(outboxDir).toString(8), '700', `outbox ${when}`);
          for (const name of readdirSync(outboxDir)) assert.equal(mode(join(outboxDir, name)).toString(8), '600', `outbox/${name} ${when}`);
        }
      };
      try {
        const expected = dialect === 'sqlite' ? ['fiducia.db', 'fiducia.db-wal', 'keys.db', 'keys.db-wal', 'master.key'] : ['master.key'];
        for (const name of expected) assert.ok(existsSync(join(dataDir, name)), `${name} exists after start`);
        check('after start');
        // Writes: ingestion, a self-service request (a mail in the outbox), an erasure.
        const running = Object.assign(g, { store: { ...store, options: { ...store.options, dataDir } }, stop: async () => undefined });
        const dee = await seedSubject(running, 'modes', 2);
        const r = await g.app.inject({ method: 'POST', url: '/v1/rights-requests', headers: { authorization: basicAuth() }, payload: { email: dee.email, type: 'access', language: 'en' }, remoteAddress: '198.51.100.11' });
        assert.equal(r.statusCode, 202, r.body);
        assert.ok(readdirSync(join(dataDir, 'outbox')).length > 0, 'the verification mail is in the outbox');
        assert.equal((await staffRequest(running, { type: 'erasure', identity: `userId:${dee.userId}` })).status, 'completed');
        check('after writes');
      } finally {
        await g.close();
      }
    } finally {
      process.umask(previous);
      await store.cleanup();
    }
  });
});
