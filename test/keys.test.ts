import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { createFiducia, type Fiducia, type FiduciaOptions } from '../src/app.ts';
import { DecryptError, ciphertextKeyVersion, decryptJson } from '../src/crypto/envelope.ts';
import { MasterKeyMismatchError } from '../src/services/keys/keyring.ts';
import { basicAuth, eachDialect, freshStore, startFiducia, cliEnv } from './helpers/harness.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

async function fiducia(o: FiduciaOptions, ...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, env: cliEnv(o), timeout: 60_000 });
  return stdout;
}

async function post(f: Fiducia, url: string, payload: object): Promise<void> {
  const r = await f.app.inject({ method: 'POST', url, headers: { authorization: basicAuth() }, payload });
  assert.equal(r.statusCode, 200, r.body);
}

/** Consent, an identify and a few events for `n` people; returns the traits sent, as `name=value` lines. */
async function ingestPeople(f: Fiducia, n: number, tag = 'p'): Promise<string[]> {
  const sent: string[] = [];
  for (let i = 0; i < n; i++) {
    const ids = { userId: `${tag}-user-${i}`, anonymousId: `${tag}-anon-${i}` };
    await post(f, '/v1/consent', { ...ids, purposes: { analytics: true, personalization: true, marketing: i % 2 === 0 }, noticeVersion: '2026-11' });
    const traits = { email: `${tag}${i}@example.com`, firstName: `Name${i}`, name: `Name${i} Surname`, favoriteCategory: `cat-${i}` };
    await post(f, '/v1/batch', {
      batch: [
        { type: 'identify', ...ids, traits },
        { type: 'track', ...ids, event: 'Product Viewed', properties: { product_id: `prod-${i}`, price: 10 + i } },
        { type: 'track', ...ids, event: 'Order Completed', properties: { order_id: `order-${i}`, total: 20 + i } },
        { type: 'page', ...ids, name: 'Home', properties: { url: `https://shop.example/${i}` } },
      ],
    });
    for (const [k, v] of Object.entries(traits)) sent.push(`${k}=${JSON.stringify(v)}`);
  }
  return sent.sort();
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Every ciphertext byte of the data database, keyed by row. */
async function dataCiphertexts(f: Fiducia): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const r of await f.dbs.data.selectFrom('traits').select(['subject_id', 'name', 'value_enc']).execute()) out.set(`trait ${r.subject_id} ${r.name}`, hex(r.value_enc));
  for (const r of await f.dbs.data.selectFrom('events').select(['id', 'payload_enc']).execute()) out.set(`event ${r.id}`, hex(r.payload_enc));
  for (const r of await f.dbs.data.selectFrom('identities').select(['kind', 'blind_index', 'value_enc']).execute()) out.set(`identity ${r.kind} ${hex(r.blind_index)}`, hex(r.value_enc));
  return out;
}

async function dataKeys(f: Fiducia): Promise<Map<string, { kek: number; wrapped: string }>> {
  const rows = await f.dbs.keys.selectFrom('data_keys').selectAll().execute();
  return new Map(rows.map((r) => [`${r.subject_id}:${r.version}`, { kek: Number(r.kek_version), wrapped: hex(r.wrapped) }]));
}

async function kekVersions(f: Fiducia): Promise<number[]> {
  return (await f.dbs.keys.selectFrom('kek_versions').select('version').orderBy('version').execute()).map((r) => Number(r.version));
}

async function decrypt(f: Fiducia, subjectId: string, field: string, blob: Uint8Array): Promise<unknown> {
  const key = await f.ring.keyVersion(subjectId, ciphertextKeyVersion(blob));
  assert.ok(key, `no data key for ${subjectId}`);
  return decryptJson(key, subjectId, field, blob);
}

/** Decrypts every trait, event and identity through `f`'s keyring; throws if any does not authenticate. */
async function decryptAll(f: Fiducia): Promise<{ traits: string[]; events: number; identities: string[] }> {
  const traits: string[] = [];
  for (const r of await f.dbs.data.selectFrom('traits').selectAll().execute()) {
    traits.push(`${r.name}=${JSON.stringify(await decrypt(f, r.subject_id, `trait:${r.name}`, r.value_enc))}`);
  }
  let events = 0;
  for (const r of await f.dbs.data.selectFrom('events').selectAll().execute()) {
    const payload = (await decrypt(f, r.subject_id, `event:${r.id}`, r.payload_enc)) as { properties: object };
    assert.equal(typeof payload.properties, 'object');
    events++;
  }
  const identities: string[] = [];
  for (const r of await f.dbs.data.selectFrom('identities').selectAll().execute()) {
    identities.push(`${r.kind}=${String(await decrypt(f, r.subject_id, `identity:${r.kind}`, r.value_enc))}`);
  }
  return { traits: traits.sort(), events, identities: identities.sort() };
}

await eachDialect('keys', (dialect) => {
  it('`fiducia keys rotate` rewraps every data key without touching the data; old ciphertext still reads', async () => {
    const f = await startFiducia(dialect);
    const opts = f.store.options;
    let g: Fiducia | undefined;
    try {
      const sent = await ingestPeople(f, 4);
      const before = await decryptAll(f);
      assert.deepEqual(before.traits, sent);
      assert.equal(before.events, 12);
      assert.equal(before.identities.filter((i) => i.startsWith('email=')).length, 4);
      const ciphertexts = await dataCiphertexts(f);
      const keysBefore = await dataKeys(f);
      assert.equal(keysBefore.size, 4);
      assert.deepEqual([...keysBefore.values()].map((k) => k.kek), [1, 1, 1, 1]);
      assert.deepEqual(await kekVersions(f), [1]);
      await f.close();

      const out = await fiducia(opts, 'keys', 'rotate');
      assert.match(out, /KEK version 2: 4 data keys rewrapped/);

      g = await createFiducia(opts);
      assert.equal(g.ring.kekVersion, 2);
      assert.deepEqual(await kekVersions(g), [1, 2]);
      const keysAfter = await dataKeys(g);
      assert.deepEqual([...keysAfter.keys()].sort(), [...keysBefore.keys()].sort());
      for (const [id, k] of keysAfter) {
        assert.equal(k.kek, 2, id);
        assert.notEqual(k.wrapped, keysBefore.get(id)!.wrapped, `${id} was rewrapped`);
      }
      assert.deepEqual(await dataCiphertexts(g), ciphertexts, 'events, traits and identities are byte-identical');
      assert.deepEqual(await decryptAll(g), before);

      // New subjects get keys wrapped by the new KEK.
      await ingestPeople(g, 1, 'late');
      const late = [...(await dataKeys(g)).entries()].filter(([id]) => !keysBefore.has(id));
      assert.equal(late.length, 1);
      assert.equal(late[0]![1].kek, 2);
      const before2 = await decryptAll(g);
      const ciphertexts2 = await dataCiphertexts(g);
      await g.close();
      g = undefined;

      assert.match(await fiducia(opts, 'keys', 'rotate'), /KEK version 3: 5 data keys rewrapped/);
      g = await createFiducia(opts);
      assert.equal(g.ring.kekVersion, 3);
      assert.deepEqual(await kekVersions(g), [1, 2, 3]);
      assert.deepEqual([...(await dataKeys(g)).values()].map((k) => k.kek), [3, 3, 3, 3, 3]);
      assert.deepEqual(await dataCiphertexts(g), ciphertexts2);
      assert.deepEqual(await decryptAll(g), before2);
    } finally {
      await g?.close();
      await f.close();
      await f.store.cleanup();
    }
  });

  it('a server running during `keys rotate` reads the rewrapped keys and wraps new keys with the new KEK', async () => {
    const f = await startFiducia(dialect);
    let g: Fiducia | undefined;
    try {
      await ingestPeople(f, 2);
      await f.close();
      g = await createFiducia(f.store.options); // knows KEK 1 only, and has no data key cached
      assert.match(await fiducia(f.store.options, 'keys', 'rotate'), /KEK version 2: 2 data keys rewrapped/);
      await ingestPeople(g, 1, 'after'); // a new person first: no read has made this process reload the KEKs yet
      // Old subjects: their rewrapped keys unwrap through a KEK this process learns from the keystore.
      assert.equal((await decryptAll(g)).traits.length, 12);
      const kek = await g.dbs.keys.selectFrom('data_keys').select('kek_version').execute();
      assert.equal(kek.length, 3);
      // Otherwise `keys rotate` reports every key rewrapped while new ones keep appearing under the old KEK.
      assert.deepEqual(kek.map((r) => Number(r.kek_version)), [2, 2, 2], 'every data key is under the newest KEK');
    } finally {
      await g?.close();
      await f.store.cleanup();
    }
  });

  describe('ciphertexts are bound to their subject and field', () => {
    it('a trait value copied into another subject\'s row does not decrypt', async () => {
      const f = await startFiducia(dialect);
      try {
        await ingestPeople(f, 2);
        const rows = await f.dbs.data.selectFrom('traits').selectAll().where('name', '=', 'email').orderBy('subject_id').execute();
        assert.equal(rows.length, 2);
        const [a, b] = rows as [(typeof rows)[number], (typeof rows)[number]];
        assert.notEqual(a.subject_id, b.subject_id);
        const aValue = await decrypt(f, a.subject_id, 'trait:email', a.value_enc);
        assert.ok(aValue === 'p0@example.com' || aValue === 'p1@example.com');
        await f.dbs.data.updateTable('traits').set({ value_enc: a.value_enc }).where('subject_id', '=', b.subject_id).where('name', '=', 'email').execute();
        const moved = await f.dbs.data.selectFrom('traits').select('value_enc').where('subject_id', '=', b.subject_id).where('name', '=', 'email').executeTakeFirstOrThrow();
        assert.equal(hex(moved.value_enc), hex(a.value_enc));
        await assert.rejects(decrypt(f, b.subject_id, 'trait:email', moved.value_enc), DecryptError);
        // The AAD alone refuses it: even A's own key does not open A's ciphertext as B's.
        const keyA = await f.ring.keyVersion(a.subject_id, ciphertextKeyVersion(a.value_enc));
        assert.throws(() => decryptJson(keyA!, b.subject_id, 'trait:email', a.value_enc), DecryptError);
        assert.equal(await decrypt(f, a.subject_id, 'trait:email', a.value_enc), aValue, "A's own row still reads");
      } finally {
        await f.stop();
      }
    });

    it('a value copied between two fields (or two events) of one subject does not decrypt', async () => {
      const f = await startFiducia(dialect);
      try {
        await ingestPeople(f, 1);
        const t = (name: string) => f.dbs.data.selectFrom('traits').selectAll().where('name', '=', name).executeTakeFirstOrThrow();
        const email = await t('email');
        await f.dbs.data.updateTable('traits').set({ value_enc: email.value_enc }).where('subject_id', '=', email.subject_id).where('name', '=', 'firstName').execute();
        const first = await t('firstName');
        assert.equal(hex(first.value_enc), hex(email.value_enc));
        await assert.rejects(decrypt(f, first.subject_id, 'trait:firstName', first.value_enc), DecryptError);
        assert.equal(await decrypt(f, email.subject_id, 'trait:email', email.value_enc), 'p0@example.com');

        const [e1, e2] = await f.dbs.data.selectFrom('events').selectAll().orderBy('id').execute();
        assert.ok(e1 && e2);
        await f.dbs.data.updateTable('events').set({ payload_enc: e1.payload_enc }).where('id', '=', e2.id).execute();
        const swapped = await f.dbs.data.selectFrom('events').selectAll().where('id', '=', e2.id).executeTakeFirstOrThrow();
        await assert.rejects(decrypt(f, swapped.subject_id, `event:${swapped.id}`, swapped.payload_enc), DecryptError);

        const ident = await f.dbs.data.selectFrom('identities').selectAll().where('kind', '=', 'email').executeTakeFirstOrThrow();
        await assert.rejects(decrypt(f, ident.subject_id, 'identity:userId', ident.value_enc), DecryptError);
      } finally {
        await f.stop();
      }
    });
  });

  it('refuses to start with a wrong master key, and changes nothing', async () => {
    const f = await startFiducia(dialect);
    const opts = f.store.options;
    try {
      await ingestPeople(f, 1);
      await f.close();
      const other = randomBytes(32).toString('base64');
      await assert.rejects(createFiducia({ ...opts, masterKey: other }), MasterKeyMismatchError);
      await assert.rejects(fiducia({ ...opts, masterKey: other }, 'keys', 'rotate'), (err: { code?: number; stderr?: string }) => {
        assert.equal(err.code, 1);
        assert.match(err.stderr ?? '', /master key does not match/);
        return true;
      });
      const g = await createFiducia(opts);
      try {
        assert.deepEqual(await kekVersions(g), [1], 'no KEK version was added by the failed starts');
        assert.equal((await decryptAll(g)).traits.length, 4);
      } finally {
        await g.close();
      }
    } finally {
      await f.store.cleanup();
    }
  });

  it('`fiducia migrate` creates both databases from the CLI', async () => {
    const store = freshStore(dialect);
    try {
      assert.match(await fiducia(store.options, 'migrate'), new RegExp(`migrations applied \\(${dialect}\\)`));
      assert.match(await fiducia(store.options, 'migrate'), /migrations applied/, 'idempotent');
      const f = await createFiducia(store.options);
      try {
        assert.deepEqual(await kekVersions(f), [1]);
        await ingestPeople(f, 1);
        assert.equal((await decryptAll(f)).events, 3);
      } finally {
        await f.close();
      }
    } finally {
      await store.cleanup();
    }
  });

  if (dialect === 'sqlite') {
    it('without FIDUCIA_MASTER_KEY: master.key is created 0600 on first start and reused on the second', async () => {
      const store = freshStore(dialect, { masterKey: undefined });
      const file = join(store.options.dataDir, 'master.key');
      try {
        assert.equal(existsSync(file), false);
        const f = await createFiducia(store.options);
        assert.equal(f.masterKeyCreated, true);
        await ingestPeople(f, 1);
        const before = await decryptAll(f);
        await f.close();
        assert.equal(statSync(file).mode & 0o777, 0o600);
        const content = readFileSync(file, 'utf8');
        assert.equal(Buffer.from(content.trim(), 'base64').length, 32);

        const g = await createFiducia(store.options);
        try {
          assert.equal(g.masterKeyCreated, false);
          assert.equal(readFileSync(file, 'utf8'), content, 'the key file is not rewritten');
          assert.deepEqual(await decryptAll(g), before);
        } finally {
          await g.close();
        }
        // The CLI finds the same key file.
        assert.match(await fiducia(store.options, 'migrate'), /migrations applied \(sqlite\)/);
        assert.match(await fiducia(store.options, 'keys', 'rotate'), /KEK version 2: 1 data keys rewrapped/);
        assert.equal(readFileSync(file, 'utf8'), content);
      } finally {
        await store.cleanup();
      }
    });

    it('`fiducia migrate` without FIDUCIA_MASTER_KEY writes a 0600 master.key that start then uses', async () => {
      const store = freshStore(dialect, { masterKey: undefined });
      const file = join(store.options.dataDir, 'master.key');
      try {
        await fiducia(store.options, 'migrate');
        assert.equal(statSync(file).mode & 0o777, 0o600);
        const f = await createFiducia(store.options);
        assert.equal(f.masterKeyCreated, false);
        await f.close();
      } finally {
        await store.cleanup();
      }
    });
  }

  if (dialect === 'postgres') {
    it('without FIDUCIA_MASTER_KEY on PostgreSQL: master.key is written 0600 even if the data dir does not exist yet', async () => {
      const store = freshStore(dialect, { masterKey: undefined });
      // On PostgreSQL nothing else creates FIDUCIA_DATA_DIR (the SQLite files would).
      const opts = { ...store.options, dataDir: join(store.options.dataDir, 'data') };
      try {
        const f = await createFiducia(opts);
        await f.close();
        assert.equal(f.masterKeyCreated, true);
        assert.equal(statSync(join(opts.dataDir, 'master.key')).mode & 0o777, 0o600);
      } finally {
        await store.cleanup();
      }
    });
  }

  it('keeps the keystore apart from the data', async () => {
    const f = await startFiducia(dialect);
    try {
      await ingestPeople(f, 1);
      if (dialect === 'sqlite') {
        const dir = f.store.options.dataDir;
        assert.ok(existsSync(join(dir, 'fiducia.db')));
        assert.ok(existsSync(join(dir, 'keys.db')));
        const tables = async (db: typeof f.dbs.data | typeof f.dbs.keys) =>
          (await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(db)).rows.map((r) => r.name);
        const dataTables = await tables(f.dbs.data);
        const keyTables = await tables(f.dbs.keys);
        assert.ok(dataTables.includes('traits') && dataTables.includes('events'));
        assert.ok(!dataTables.includes('data_keys') && !dataTables.includes('kek_versions'), dataTables.join());
        assert.ok(keyTables.includes('data_keys') && keyTables.includes('kek_versions'));
        assert.ok(!keyTables.includes('traits') && !keyTables.includes('events'), keyTables.join());
      } else {
        const { schema, keysSchema } = f.store.options;
        const where = async (table: string) =>
          (await sql<{ table_schema: string }>`select table_schema from information_schema.tables where table_name = ${table} and table_schema in (${schema}, ${keysSchema})`.execute(f.dbs.data)).rows
            .map((r) => r.table_schema)
            .sort();
        assert.deepEqual(await where('data_keys'), [keysSchema]);
        assert.deepEqual(await where('kek_versions'), [keysSchema]);
        assert.deepEqual(await where('traits'), [schema]);
        assert.deepEqual(await where('events'), [schema]);
        await assert.rejects(createFiducia({ ...f.store.options, keysSchema: schema }), /apart from the data/);
      }
      // The master key is in neither database.
      const master = Buffer.from(f.store.options.masterKey!, 'base64');
      const kekRows = await f.dbs.keys.selectFrom('kek_versions').selectAll().execute();
      for (const r of kekRows) {
        assert.ok(!Buffer.from(r.salt).equals(master) && !Buffer.from(r.check_value).equals(master));
      }
    } finally {
      await f.stop();
    }
  });
});
