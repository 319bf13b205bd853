// Segment's own Node client, unchanged, against a listening Fiducia; then no personal value may rest in storage in clear.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { Analytics } from '@segment/analytics-node';
import pg from 'pg';
import { ciphertextKeyVersion, decryptJson } from '../src/crypto/envelope.ts';
import { PG_URL, WRITE_KEY, basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';

type F = Awaited<ReturnType<typeof startFiducia>>;

// Distinctive values: any plaintext copy of them in storage is a leak, never a coincidence.
const EMAIL = 'Zephyrine.Quill@Example.org';
const FIRST = 'Zephyrine';
const LAST = 'Quillfeather';
const SECRETS = [EMAIL, FIRST, LAST].map((s) => s.toLowerCase());
const ANON = 'anon-7f3c1e9a-sdk';
const USER = 'user-sdk-4711';

/** Secrets found in the bytes (case-insensitive), plus whether a known clear value is there (proof the scan sees the data). */
function scanText(text: string): { leaks: string[]; control: boolean } {
  const lower = text.toLowerCase();
  return { leaks: SECRETS.filter((s) => lower.includes(s)), control: lower.includes('product viewed') };
}

function scanSqliteDir(dir: string): { files: string[]; leaks: string[]; control: boolean } {
  const files = readdirSync(dir).filter((n) => statSync(join(dir, n)).isFile());
  const text = files.map((n) => readFileSync(join(dir, n)).toString('latin1')).join('\n');
  return { files, ...scanText(text) };
}

/** Every row of every table of the data and key schemas, bytea read as raw bytes. */
async function scanPostgres(schemas: string[]): Promise<{ tables: string[]; leaks: string[]; control: boolean }> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    const tables: string[] = [];
    const parts: string[] = [];
    for (const schema of schemas) {
      const { rows } = await client.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'`,
        [schema],
      );
      for (const { table_name } of rows) {
        tables.push(`${schema}.${table_name}`);
        const data = await client.query(`SELECT * FROM "${schema}"."${table_name}"`);
        for (const row of data.rows as Record<string, unknown>[]) {
          const flat = Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString('latin1') : v]));
          parts.push(JSON.stringify(flat));
        }
      }
    }
    return { tables, ...scanText(parts.join('\n')) };
  } finally {
    await client.end();
  }
}

await eachDialect('Segment analytics-node client', (dialect) => {
  let f: F;
  let base: string;
  before(async () => {
    f = await startFiducia(dialect);
    base = await f.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => f?.stop());

  async function scan() {
    if (dialect === 'sqlite') return scanSqliteDir(f.store.options.dataDir);
    return scanPostgres([f.store.options.schema!, f.store.options.keysSchema!]);
  }

  it('delivers identify, track and page through the unchanged SDK, all acknowledged', async () => {
    const c = await fetch(`${base}/v1/consent`, {
      method: 'POST',
      headers: { authorization: basicAuth(), 'content-type': 'application/json' },
      body: JSON.stringify({ anonymousId: ANON, purposes: { analytics: true, personalization: true, marketing: false }, noticeVersion: '2026-11' }),
    });
    assert.equal(c.status, 200, await c.clone().text());
    assert.deepEqual(((await c.json()) as { consents: unknown }).consents, { analytics: 'granted', personalization: 'granted', marketing: 'denied' });

    // `path` defaults to /v1/batch; it is spelled out so the test says what it exercises.
    const analytics = new Analytics({ writeKey: WRITE_KEY, host: base, path: '/v1/batch', maxRetries: 1 });
    const errors: unknown[] = [];
    const statuses: number[] = [];
    const callbacks: unknown[] = [];
    analytics.on('error', (e) => errors.push(e));
    analytics.on('http_response', (r) => statuses.push(r.status));
    const cb = (err?: unknown) => callbacks.push(err ?? null);

    analytics.identify(
      { userId: USER, anonymousId: ANON, traits: { email: EMAIL, firstName: FIRST, lastName: LAST, favoriteCategory: 'lanterns', lastCampaign: 'winter-sale-zq' } },
      cb,
    );
    analytics.track({ userId: USER, anonymousId: ANON, event: 'Product Viewed', properties: { product_id: 'lantern-42', price: 19.9 } }, cb);
    analytics.page({ userId: USER, anonymousId: ANON, name: 'Lanterns', properties: { url: 'https://shop.example/lanterns' } }, cb);
    await analytics.closeAndFlush();

    assert.deepEqual(errors, []);
    assert.deepEqual(callbacks, [null, null, null]);
    assert.ok(statuses.length > 0 && statuses.every((s) => s === 200), statuses.join(','));
  });

  it('stored the events and the consented traits, but not the marketing-only trait', async () => {
    const bi = f.ring.blindIndex.index('userId', USER);
    const subject = (await f.dbs.data.selectFrom('identities').select('subject_id').where('kind', '=', 'userId').where('blind_index', '=', bi).executeTakeFirstOrThrow()).subject_id;
    const anon = await f.dbs.data.selectFrom('identities').select('subject_id').where('kind', '=', 'anonymousId').where('blind_index', '=', f.ring.blindIndex.index('anonymousId', ANON)).executeTakeFirstOrThrow();
    assert.equal(anon.subject_id, subject, 'the consent and the SDK calls are one person');
    const emailId = await f.dbs.data.selectFrom('identities').select('subject_id').where('kind', '=', 'email').where('blind_index', '=', f.ring.blindIndex.index('email', EMAIL.toLowerCase())).executeTakeFirst();
    assert.equal(emailId?.subject_id, subject);

    const events = await f.dbs.data.selectFrom('events').select(['type', 'event_name', 'purposes']).where('subject_id', '=', subject).orderBy('id').execute();
    assert.deepEqual(events.map((e) => `${e.type}:${e.event_name}`), ['track:Product Viewed', 'page:Lanterns']);
    for (const e of events) assert.ok((JSON.parse(e.purposes) as string[]).includes('analytics'), e.purposes);

    const traits = await f.dbs.data.selectFrom('traits').selectAll().where('subject_id', '=', subject).orderBy('name').execute();
    assert.deepEqual(traits.map((t) => t.name), ['email', 'favoriteCategory', 'firstName', 'lastName']);
    const values: Record<string, unknown> = {};
    for (const t of traits) {
      const key = await f.ring.keyVersion(subject, ciphertextKeyVersion(t.value_enc));
      assert.ok(key);
      values[t.name] = decryptJson(key, subject, `trait:${t.name}`, t.value_enc);
    }
    assert.deepEqual(values, { email: EMAIL, favoriteCategory: 'lanterns', firstName: FIRST, lastName: LAST });
  });

  it('keeps no email or name in clear while running', async () => {
    const r = await scan();
    assert.ok(r.control, 'the scan sees the stored (clear) event names');
    assert.deepEqual(r.leaks, [], `plain personal data in ${JSON.stringify('files' in r ? r.files : r.tables)}`);
    if ('files' in r) assert.ok(r.files.includes('fiducia.db') && r.files.includes('keys.db'), r.files.join(','));
  });

  it('keeps no email or name in clear after shutdown', async () => {
    await f.close(); // not stop(): the data must still be there to scan
    const r = await scan();
    assert.ok(r.control, 'the scan sees the stored (clear) event names');
    assert.deepEqual(r.leaks, []);
  });
});
