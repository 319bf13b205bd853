// The hot-path reader (src/store/reader.ts) sees committed state only, even while a transaction is open beside it.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { after, before, it } from 'node:test';
import { openCore } from '../src/app.ts';
import { AccessRepo } from '../src/store/access-repo.ts';
import { SubjectStateRepo } from '../src/store/subject-state-repo.ts';
import { eachDialect, freshStore, type StoreHandle } from './helpers/harness.ts';

await eachDialect('committed-state reader', (dialect) => {
  let store: StoreHandle;
  let core: Awaited<ReturnType<typeof openCore>>;
  before(async () => {
    store = freshStore(dialect);
    core = await openCore(store.options);
  });
  after(async () => {
    await core.dbs.close();
    await store.cleanup();
  });

  /** A token and a person known by one identity, with the repositories that read them through the reader. */
  const tokenAndPerson = async (kind: string) => {
    const hash = randomBytes(32).toString('hex');
    await core.dbs.data.insertInto('tokens').values({ id: randomUUID(), name: 't', role: 'admin', purposes: '[]', token_hash: hash, created_at: 1, revoked_at: null }).execute();
    const subjectId = randomUUID();
    const blindIndex = randomBytes(32);
    await core.dbs.data.insertInto('subjects').values({ id: subjectId, created_at: 1, updated_at: 1, merged_into: null, restricted_at: null, erased_at: null }).execute();
    await core.dbs.data.insertInto('identities').values({ kind, blind_index: blindIndex, subject_id: subjectId, value_enc: Buffer.from('x'), created_at: 1, asserted: 'server' }).execute();
    return { access: new AccessRepo(core.dbs.data, core.dbs.reader), repo: new SubjectStateRepo(core.dbs.data, core.dbs.reader), hash, subjectId, blindIndex };
  };

  it('a token inserted in an open transaction is found only once it commits', async () => {
    const hash = randomBytes(32).toString('hex');
    const reader = new AccessRepo(core.dbs.data, core.dbs.reader);
    await core.dbs.data.transaction().execute(async (trx) => {
      await trx.insertInto('tokens').values({ id: randomUUID(), name: 't', role: 'admin', purposes: '[]', token_hash: hash, created_at: Date.now(), revoked_at: null }).execute();
      assert.equal(await reader.tokenByHash(hash), undefined, 'not visible before the commit');
      assert.ok(await new AccessRepo(trx).tokenByHash(hash), 'the transaction itself sees it');
    });
    assert.equal((await reader.tokenByHash(hash))?.role, 'admin', 'visible after the commit');
  });

  it('a rolled-back subject is never seen; a committed one is, with its markers and traits', async () => {
    const repo = new SubjectStateRepo(core.dbs.data, core.dbs.reader);
    const subjectId = randomUUID();
    const blindIndex = randomBytes(32);
    const insert = async (trx: typeof core.dbs.data) => {
      await trx.insertInto('subjects').values({ id: subjectId, created_at: 1, updated_at: 1, merged_into: null, restricted_at: 5, erased_at: null }).execute();
      await trx.insertInto('identities').values({ kind: 'userId', blind_index: blindIndex, subject_id: subjectId, value_enc: Buffer.from('x'), created_at: 1, asserted: 'server' }).execute();
      await trx.insertInto('traits').values({ subject_id: subjectId, name: 'b', category: 'user.preference', value_enc: Buffer.from('vb'), purposes: '[]', source_id: 's', updated_at: 1 }).execute();
      await trx.insertInto('traits').values({ subject_id: subjectId, name: 'a', category: 'user.contact.email', value_enc: Buffer.from('va'), purposes: '[]', source_id: 's', updated_at: 1 }).execute();
    };
    await assert.rejects(
      core.dbs.data.transaction().execute(async (trx) => {
        await insert(trx);
        assert.equal(await repo.profile({ kind: 'userId', blindIndex }, { blobsFor: ['user.preference'] }), null, 'not visible inside the open transaction');
        throw new Error('roll back');
      }),
      /roll back/,
    );
    assert.equal(await repo.profile({ kind: 'userId', blindIndex }, null), null, 'rolled back: never seen');
    await core.dbs.data.transaction().execute(insert);
    const snap = await repo.profile({ kind: 'userId', blindIndex }, { blobsFor: ['user.preference'] });
    assert.equal(snap?.subjectId, subjectId);
    assert.equal(snap?.restrictedAt, 5);
    assert.deepEqual(snap?.traits.map((t) => [t.name, t.value_enc?.toString() ?? null]), [['a', null], ['b', 'vb']], 'sorted by name; ciphertext only for the covered category');
    assert.deepEqual(await repo.profile({ subjectId }, null).then((s) => s?.traits), [], 'by subject id, without traits');
  });

  it('a subject read before is read again as it is now: after a write, inside and after a transaction, and after another connection wrote', async () => {
    const repo = new SubjectStateRepo(core.dbs.data, core.dbs.reader);
    const subjectId = randomUUID();
    const blindIndex = randomBytes(32);
    const consent = (id: string, status: string) => ({ id, subject_id: subjectId, purpose: 'personalization', status, notice_version: '1', method: 'api', source_id: null, receipt_id: 'r', at: 1, ua_hash: null, ip_truncated: null, explicit: 0 });
    const trait = (value: string) => ({ subject_id: subjectId, name: 'color', category: 'user.preference', value_enc: Buffer.from(value), purposes: '[]', source_id: 's', updated_at: 1 });
    const read = async () => {
      const s = await repo.profile({ kind: 'userId', blindIndex }, { blobsFor: ['user.preference'] });
      return { status: s?.consents[0]?.status, color: s?.traits[0]?.value_enc?.toString(), restricted: s?.restrictedAt };
    };
    await core.dbs.data.transaction().execute(async (trx) => {
      await trx.insertInto('subjects').values({ id: subjectId, created_at: 1, updated_at: 1, merged_into: null, restricted_at: null, erased_at: null }).execute();
      await trx.insertInto('identities').values({ kind: 'userId', blind_index: blindIndex, subject_id: subjectId, value_enc: Buffer.from('x'), created_at: 1, asserted: 'server' }).execute();
      await trx.insertInto('consents').values(consent('00000000-0000-7000-8000-000000000001', 'granted')).execute();
      await trx.insertInto('traits').values(trait('blue')).execute();
    });
    assert.deepEqual(await read(), { status: 'granted', color: 'blue', restricted: null });
    assert.deepEqual(await read(), { status: 'granted', color: 'blue', restricted: null }, 'read twice');

    await core.dbs.data.insertInto('consents').values(consent('00000000-0000-7000-8000-000000000002', 'withdrawn')).execute();
    assert.equal((await read()).status, 'withdrawn', 'a consent written since is seen');

    await core.dbs.data.transaction().execute(async (trx) => {
      await trx.updateTable('traits').set({ value_enc: Buffer.from('green') }).where('subject_id', '=', subjectId).execute();
      assert.equal((await read()).color, 'blue', 'inside the open transaction: the committed value');
    });
    assert.equal((await read()).color, 'green', 'after the commit: the new value, not the one read during the transaction');

    await core.dbs.data.updateTable('subjects').set({ restricted_at: 7 }).where('id', '=', subjectId).execute();
    assert.equal((await read()).restricted, 7, 'markers are current');

    if (dialect === 'sqlite') {
      // Another process writing the same file fires no trigger in this one.
      const other = new SQLite(core.dbs.raw.dialect === 'sqlite' ? core.dbs.raw.db.name : '');
      other.prepare('update traits set value_enc = ? where subject_id = ?').run(Buffer.from('red'), subjectId);
      other.close();
      assert.equal((await read()).color, 'red', 'a write by another connection is seen');
    }
  });

  it('a token or an identity read before is read again as it is now: revoked, pointed elsewhere, removed', async () => {
    const access = new AccessRepo(core.dbs.data, core.dbs.reader);
    const repo = new SubjectStateRepo(core.dbs.data, core.dbs.reader);
    const other = () => new SQLite(core.dbs.raw.dialect === 'sqlite' ? core.dbs.raw.db.name : '');
    const hash = randomBytes(32).toString('hex');
    const tokenId = randomUUID();
    await core.dbs.data.insertInto('tokens').values({ id: tokenId, name: 't', role: 'service', purposes: '["analytics"]', token_hash: hash, created_at: 1, revoked_at: null }).execute();
    assert.equal((await access.tokenByHash(hash))?.id, tokenId);
    assert.equal((await access.tokenByHash(hash))?.id, tokenId, 'read twice');
    await core.dbs.data.updateTable('tokens').set({ revoked_at: 2 }).where('id', '=', tokenId).execute();
    assert.equal(await access.tokenByHash(hash), undefined, 'a revoked token is refused at once');

    if (dialect === 'sqlite') {
      const hash2 = randomBytes(32).toString('hex');
      await core.dbs.data.insertInto('tokens').values({ id: randomUUID(), name: 't2', role: 'service', purposes: '[]', token_hash: hash2, created_at: 1, revoked_at: null }).execute();
      assert.ok(await access.tokenByHash(hash2));
      const db = other();
      db.prepare('update tokens set revoked_at = 3 where token_hash = ?').run(hash2);
      db.close();
      assert.equal(await access.tokenByHash(hash2), undefined, 'revoked by another process: refused at once');
    }

    const a = randomUUID();
    const b = randomUUID();
    const blindIndex = randomBytes(32);
    for (const id of [a, b]) await core.dbs.data.insertInto('subjects').values({ id, created_at: 1, updated_at: 1, merged_into: null, restricted_at: null, erased_at: null }).execute();
    await core.dbs.data.insertInto('identities').values({ kind: 'email', blind_index: blindIndex, subject_id: a, value_enc: Buffer.from('x'), created_at: 1, asserted: 'server' }).execute();
    const subjectOf = async () => (await repo.profile({ kind: 'email', blindIndex }, null))?.subjectId ?? null;
    assert.equal(await subjectOf(), a);
    assert.equal(await subjectOf(), a, 'read twice');
    await core.dbs.data.updateTable('identities').set({ subject_id: b }).where('blind_index', '=', blindIndex).execute();
    assert.equal(await subjectOf(), b, 'an identity moved to another subject (a merge) is followed');
    await core.dbs.data.updateTable('subjects').set({ erased_at: 9 }).where('id', '=', b).execute();
    assert.equal((await repo.profile({ kind: 'email', blindIndex }, null))?.erasedAt, 9, 'the subject row is current');
    if (dialect === 'sqlite') {
      const db = other();
      db.prepare('update identities set subject_id = ? where blind_index = ?').run(a, blindIndex);
      db.close();
      assert.equal(await subjectOf(), a, 'moved by another process: followed');
    }
    await core.dbs.data.deleteFrom('identities').where('blind_index', '=', blindIndex).execute();
    assert.equal(await subjectOf(), null, 'a removed identity finds nothing');
  });

  it('nothing kept is used while the writer has a transaction open: another process\'s commit is seen there too', async (t) => {
    if (dialect !== 'sqlite') return t.skip('SQLite only: PostgreSQL keeps no rows');
    const { access, repo, hash, subjectId, blindIndex } = await tokenAndPerson('email');
    assert.ok(await access.tokenByHash(hash), 'read once (kept)');
    assert.equal((await repo.profile({ kind: 'email', blindIndex }, null))?.erasedAt, null);
    await core.dbs.data.transaction().execute(async (trx) => {
      // The transaction has read (as an audit append's head lock does): its own view of the file is fixed from here.
      await trx.selectFrom('audit_head').selectAll().execute();
      const other = new SQLite(core.dbs.raw.dialect === 'sqlite' ? core.dbs.raw.db.name : '');
      other.prepare('update tokens set revoked_at = 5 where token_hash = ?').run(hash);
      other.prepare('update subjects set erased_at = 7 where id = ?').run(subjectId);
      other.close();
      assert.equal(await access.tokenByHash(hash), undefined, 'revoked by another process while a transaction is open here');
      assert.equal((await repo.profile({ kind: 'email', blindIndex }, null))?.erasedAt, 7, 'erased by another process while a transaction is open here');
    });
    assert.equal(await access.tokenByHash(hash), undefined, 'and after it');
  });

  it('a row moved to another subject drops what was kept for both; a row replaced drops what was kept for the old one', async (t) => {
    if (dialect !== 'sqlite') return t.skip('SQLite only: PostgreSQL keeps no rows');
    const repo = new SubjectStateRepo(core.dbs.data, core.dbs.reader);
    const [a, b] = [randomUUID(), randomUUID()];
    for (const id of [a, b]) await core.dbs.data.insertInto('subjects').values({ id, created_at: 1, updated_at: 1, merged_into: null, restricted_at: null, erased_at: null }).execute();
    await core.dbs.data
      .insertInto('consents')
      .values({ id: '00000000-0000-7000-8000-0000000000a1', subject_id: a, purpose: 'marketing', status: 'granted', notice_version: '1', method: 'api', source_id: null, receipt_id: 'r', at: 1, ua_hash: null, ip_truncated: null, explicit: 0 })
      .execute();
    const consentsOf = async (subjectId: string) => (await repo.profile({ subjectId }, null))?.consents.map((c) => c.purpose) ?? [];
    assert.deepEqual(await consentsOf(a), ['marketing']);
    assert.deepEqual(await consentsOf(b), []);
    // A merge moves the ledger: the update names the old subject and the new one.
    await core.dbs.data.updateTable('consents').set({ subject_id: b }).where('subject_id', '=', a).execute();
    assert.deepEqual(await consentsOf(a), [], 'the subject the row left');
    assert.deepEqual(await consentsOf(b), ['marketing'], 'the subject the row joined');

    const access = new AccessRepo(core.dbs.data, core.dbs.reader);
    const id = randomUUID();
    const [oldHash, newHash] = [randomBytes(32).toString('hex'), randomBytes(32).toString('hex')];
    await core.dbs.data.insertInto('tokens').values({ id, name: 't', role: 'admin', purposes: '[]', token_hash: oldHash, created_at: 1, revoked_at: null }).execute();
    assert.ok(await access.tokenByHash(oldHash));
    // REPLACE deletes the conflicting row without a delete trigger unless recursive triggers are on.
    const db = core.dbs.raw.dialect === 'sqlite' ? core.dbs.raw.db : undefined;
    db?.prepare("insert or replace into tokens (id, name, role, purposes, token_hash, created_at, revoked_at) values (?, 't', 'admin', '[]', ?, 1, null)").run(id, newHash);
    assert.equal(await access.tokenByHash(oldHash), undefined, 'the replaced row is gone');
    assert.ok(await access.tokenByHash(newHash));
  });

  it('a lookup made again is answered from what was kept: only data_version is asked', async (t) => {
    if (dialect !== 'sqlite' || core.dbs.raw.dialect !== 'sqlite') return t.skip('SQLite only: PostgreSQL keeps no rows');
    const { access, repo, hash, subjectId, blindIndex } = await tokenAndPerson('userId');
    await core.dbs.data.insertInto('traits').values({ subject_id: subjectId, name: 'color', category: 'user.preference', value_enc: Buffer.from('v'), purposes: '[]', source_id: 's', updated_at: 1 }).execute();
    const lookups = async () => {
      await access.tokenByHash(hash);
      return repo.profile({ kind: 'userId', blindIndex }, { blobsFor: ['user.preference'] });
    };
    const first = await lookups();
    // Count the statements run from here on (every statement object of the connection shares one prototype).
    const proto = Object.getPrototypeOf(core.dbs.raw.db.prepare('select 1')) as { get: (...a: unknown[]) => unknown; all: (...a: unknown[]) => unknown };
    const { get, all } = proto;
    const ran: string[] = [];
    proto.get = function (this: { source: string }, ...a: unknown[]) {
      ran.push(this.source);
      return get.apply(this, a);
    };
    proto.all = function (this: { source: string }, ...a: unknown[]) {
      ran.push(this.source);
      return all.apply(this, a);
    };
    try {
      const again = await lookups();
      assert.deepEqual(again, first, 'the same answer');
    } finally {
      Object.assign(proto, { get, all });
    }
    assert.deepEqual(ran, ['pragma data_version', 'pragma data_version'], 'one check per lookup, nothing else read');
  });

  it('PostgreSQL: a token read through a prepared statement is read again after a migration changed its table', async (t) => {
    if (dialect !== 'postgres') return t.skip('PostgreSQL prepares the reads by name (SQLite keeps its own statements)');
    const { access, hash } = await tokenAndPerson('userId');
    // Every pooled connection has prepared the lookup by now (more lookups at once than the pool has connections).
    const found = await Promise.all(Array.from({ length: 20 }, () => access.tokenByHash(hash)));
    assert.ok(found.every((r) => r?.token_hash === hash));
    // A column added under it makes the prepared plan's result type stale: PostgreSQL refuses to run it as prepared.
    await sql`alter table tokens add column reader_test_extra text`.execute(core.dbs.data);
    try {
      const again = await Promise.all(Array.from({ length: 20 }, () => access.tokenByHash(hash)));
      assert.ok(again.every((r) => r?.token_hash === hash), 'answered, unnamed, with the table as it is now');
      await core.dbs.data.updateTable('tokens').set({ revoked_at: 2 }).where('token_hash', '=', hash).execute();
      assert.equal(await access.tokenByHash(hash), undefined, 'a revocation is seen at once');
    } finally {
      await sql`alter table tokens drop column reader_test_extra`.execute(core.dbs.data);
    }
  });
});
