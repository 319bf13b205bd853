// Identity resolution and subject merging, end to end through the Segment HTTP API.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ciphertextKeyVersion, decryptJson } from '../src/crypto/envelope.ts';
import type { IdentityKind } from '../src/domain/identity.ts';
import { basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';

type F = Awaited<ReturnType<typeof startFiducia>>;
type Msg = Record<string, unknown>;

const uniq = (p: string): string => `${p}-${randomBytes(5).toString('hex')}`;
const at = (iso: string): string => new Date(iso).toISOString();
// Consent rows are ordered by their time; a short pause keeps two requests out of the same millisecond.
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 3));

await eachDialect('identity resolution', (dialect) => {
  let f: F;
  before(async () => {
    f = await startFiducia(dialect);
  });
  after(async () => f.stop());

  const batch = async (messages: Msg[]): Promise<void> => {
    const r = await f.app.inject({ method: 'POST', url: '/v1/batch', headers: { authorization: basicAuth() }, payload: { batch: messages } });
    assert.equal(r.statusCode, 200, r.body);
  };
  const consent = async (ids: { userId?: string; anonymousId?: string }, purposes: Record<string, boolean> = { analytics: true, personalization: true }) => {
    const r = await f.app.inject({ method: 'POST', url: '/v1/consent', headers: { authorization: basicAuth() }, payload: { ...ids, purposes, noticeVersion: '2026-11' } });
    return r;
  };
  const grant = async (ids: { userId?: string; anonymousId?: string }, purposes?: Record<string, boolean>) => {
    const r = await consent(ids, purposes);
    assert.equal(r.statusCode, 200, r.body);
    return r.json() as { consents: Record<string, string> };
  };
  /** The subject an identity is linked to (value given already normalized). */
  const subjectOf = async (kind: IdentityKind, value: string): Promise<string | undefined> => {
    const row = await f.dbs.data.selectFrom('identities').select('subject_id').where('kind', '=', kind).where('blind_index', '=', f.ring.blindIndex.index(kind, value)).executeTakeFirst();
    return row?.subject_id;
  };
  const subjectRow = (id: string) => f.dbs.data.selectFrom('subjects').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const keyOf = async (subject: string, blob: Uint8Array): Promise<Buffer> => {
    const key = await f.ring.keyVersion(subject, ciphertextKeyVersion(blob));
    assert.ok(key, `subject ${subject} has a data key`);
    return key;
  };
  /** Decrypted identities of a subject, as `kind:value`, sorted. */
  const identitiesOf = async (subject: string): Promise<string[]> => {
    const rows = await f.dbs.data.selectFrom('identities').selectAll().where('subject_id', '=', subject).execute();
    const out = [];
    for (const r of rows) out.push(`${r.kind}:${String(decryptJson(await keyOf(subject, r.value_enc), subject, `identity:${r.kind}`, r.value_enc))}`);
    return out.sort();
  };
  const traitsOf = async (subject: string): Promise<Record<string, unknown>> => {
    const rows = await f.dbs.data.selectFrom('traits').selectAll().where('subject_id', '=', subject).execute();
    const out: Record<string, unknown> = {};
    for (const r of rows) out[r.name] = decryptJson(await keyOf(subject, r.value_enc), subject, `trait:${r.name}`, r.value_enc);
    return out;
  };
  const eventsOf = (messageIds: string[]) => f.dbs.data.selectFrom('events').selectAll().where('message_id', 'in', messageIds).execute();
  const page = (anonymousId: string | undefined, messageId: string, extra: Msg = {}): Msg => ({ type: 'page', anonymousId, messageId, name: 'Home', properties: { url: 'https://shop.example/' }, ...extra });
  const viewed = (anonymousId: string, messageId: string): Msg => ({ type: 'track', anonymousId, messageId, event: 'Product Viewed', properties: { product_id: 'p1', price: 10 } });

  it('anonymous page views, then identify: one subject holds both identities and all events', async () => {
    const a = uniq('anon');
    const u = uniq('user');
    await grant({ anonymousId: a });
    const ids = [uniq('m'), uniq('m'), uniq('m')];
    await batch([page(a, ids[0]!), page(a, ids[1]!), viewed(a, ids[2]!)]);
    const before = await subjectOf('anonymousId', a);
    assert.ok(before);
    await batch([{ type: 'identify', userId: u, anonymousId: a, traits: { firstName: 'Ada' } }]);
    const s = await subjectOf('userId', u);
    assert.equal(s, before, 'the userId joins the visitor subject');
    assert.deepEqual(await identitiesOf(s), [`anonymousId:${a}`, `userId:${u}`].sort());
    const events = await eventsOf(ids);
    assert.equal(events.length, 3);
    assert.ok(events.every((e) => e.subject_id === s));
    assert.deepEqual(await traitsOf(s), { firstName: 'Ada' });
  });

  it('two devices of one user merge into the known user; rows move, re-encrypted, and the loser key is destroyed', async () => {
    const [a, b, u] = [uniq('anon-a'), uniq('anon-b'), uniq('user')];
    await grant({ anonymousId: a });
    await grant({ anonymousId: b });
    const mids = [uniq('m'), uniq('m'), uniq('m'), uniq('m')];
    await batch([page(a, mids[0]!), viewed(a, mids[1]!), { type: 'identify', anonymousId: a, traits: { favoriteCategory: 'shoes' } }]);
    await batch([page(b, mids[2]!), viewed(b, mids[3]!), { type: 'identify', anonymousId: b, traits: { lifestyle: 'sporty' } }]);
    const sa = await subjectOf('anonymousId', a);
    const sb = await subjectOf('anonymousId', b);
    assert.ok(sa && sb && sa !== sb, 'two devices start as two subjects');
    const loserKey = (await f.ring.currentKeys([sb])).get(sb)?.key;
    assert.ok(loserKey);

    await batch([{ type: 'identify', userId: u, anonymousId: a }]);
    await batch([{ type: 'identify', userId: u, anonymousId: b }]);

    const s = await subjectOf('userId', u);
    assert.equal(s, sa, 'the subject that already had the userId survives');
    assert.equal(await subjectOf('anonymousId', b), s);
    assert.equal((await subjectRow(s)).merged_into, null);
    assert.equal((await subjectRow(sb)).merged_into, s, 'the loser stays as a redirect');
    const events = await eventsOf(mids);
    assert.equal(events.length, 4);
    assert.ok(events.every((e) => e.subject_id === s));
    assert.deepEqual(await identitiesOf(s), [`anonymousId:${a}`, `anonymousId:${b}`, `userId:${u}`].sort());
    assert.deepEqual(await traitsOf(s), { favoriteCategory: 'shoes', lifestyle: 'sporty' });

    // Nothing personal is left on the loser, and its key is gone.
    for (const table of ['identities', 'traits', 'events', 'consents'] as const) {
      const n = await f.dbs.data.selectFrom(table).select('subject_id').where('subject_id', '=', sb).execute();
      assert.equal(n.length, 0, `${table} of the loser`);
    }
    assert.equal((await f.dbs.keys.selectFrom('data_keys').select('subject_id').where('subject_id', '=', sb).execute()).length, 0);
    assert.equal(await f.ring.keyVersion(sb, 1), undefined);

    // Every moved ciphertext is bound to the survivor: it opens with its key and id, not with the loser's.
    const survivorKey = (await f.ring.currentKeys([s])).get(s)!.key;
    const blobs: [string, Buffer][] = [
      ...events.map((e): [string, Buffer] => [`event:${e.id}`, e.payload_enc]),
      ...(await f.dbs.data.selectFrom('traits').selectAll().where('subject_id', '=', s).execute()).map((t): [string, Buffer] => [`trait:${t.name}`, t.value_enc]),
      ...(await f.dbs.data.selectFrom('identities').selectAll().where('subject_id', '=', s).execute()).map((i): [string, Buffer] => [`identity:${i.kind}`, i.value_enc]),
    ];
    assert.equal(blobs.length, 4 + 2 + 3);
    for (const [field, blob] of blobs) {
      assert.doesNotThrow(() => decryptJson(survivorKey, s, field, blob), field);
      assert.throws(() => decryptJson(survivorKey, sb, field, blob), /does not authenticate/, field);
      assert.throws(() => decryptJson(loserKey, sb, field, blob), /does not authenticate/, field);
    }
    const moved = events.find((e) => e.message_id === mids[3]);
    assert.deepEqual((decryptJson(survivorKey, s, `event:${moved!.id}`, moved!.payload_enc) as { properties: unknown }).properties, { product_id: 'p1', price: 10 });
  });

  describe('traits: the most recent write wins a merge', () => {
    const scenario = async (tA: string, tB: string, oneBatch: boolean): Promise<unknown> => {
      const [a, b, u] = [uniq('anon-a'), uniq('anon-b'), uniq('user')];
      await grant({ anonymousId: a });
      await grant({ anonymousId: b });
      const writes = [
        { type: 'identify', anonymousId: a, timestamp: at(tA), traits: { favoriteCategory: 'shoes' } },
        { type: 'identify', anonymousId: b, timestamp: at(tB), traits: { favoriteCategory: 'bags' } },
      ];
      const links = [
        { type: 'identify', userId: u, anonymousId: a },
        { type: 'identify', userId: u, anonymousId: b },
      ];
      if (oneBatch) await batch([...writes, ...links]);
      else for (const m of [...writes, ...links]) await batch([m]);
      const s = await subjectOf('userId', u);
      assert.ok(s);
      assert.equal(await subjectOf('anonymousId', b), s);
      return (await traitsOf(s)).favoriteCategory;
    };
    for (const oneBatch of [false, true]) {
      const how = oneBatch ? 'in one batch' : 'in separate requests';
      it(`keeps the survivor's newer value (${how})`, async () => {
        assert.equal(await scenario('2026-01-02T00:00:00Z', '2026-01-01T00:00:00Z', oneBatch), 'shoes');
      });
      it(`takes the loser's newer value (${how})`, async () => {
        assert.equal(await scenario('2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', oneBatch), 'bags');
      });
    }
  });

  describe('email', () => {
    it('links a later anonymous visitor to the known user', async () => {
      const [u, z] = [uniq('user'), uniq('anon')];
      const email = `${uniq('ada')}@example.com`;
      await batch([{ type: 'identify', userId: u, traits: { email } }]);
      await batch([{ type: 'identify', anonymousId: z, traits: { email: `  ${email.toUpperCase()} ` } }]);
      const s = await subjectOf('userId', u);
      assert.ok(s);
      assert.equal(await subjectOf('anonymousId', z), s);
      assert.equal(await subjectOf('email', email), s);
      assert.deepEqual(await identitiesOf(s), [`anonymousId:${z}`, `email:${email}`, `userId:${u}`].sort());
    });

    it('links a known user to an earlier anonymous visitor with that email; the known user survives', async () => {
      const [u, z] = [uniq('user'), uniq('anon')];
      const email = `${uniq('bob')}@example.com`;
      await grant({ anonymousId: z });
      const mid = uniq('m');
      await batch([page(z, mid), { type: 'identify', anonymousId: z, traits: { email } }]);
      const visitor = await subjectOf('anonymousId', z);
      assert.ok(visitor);
      await batch([{ type: 'identify', userId: u, traits: { email } }]);
      const s = await subjectOf('userId', u);
      assert.ok(s);
      assert.equal(await subjectOf('anonymousId', z), s);
      assert.equal(await subjectOf('email', email), s);
      assert.equal((await eventsOf([mid]))[0]?.subject_id, s);
      if (s !== visitor) {
        assert.equal((await subjectRow(visitor)).merged_into, s);
        assert.equal((await f.dbs.keys.selectFrom('data_keys').select('subject_id').where('subject_id', '=', visitor).execute()).length, 0);
      }
      assert.deepEqual(await identitiesOf(s), [`anonymousId:${z}`, `email:${email}`, `userId:${u}`].sort());
    });

    it('a phone number written two ways links the same subject', async () => {
      const [u, z] = [uniq('user'), uniq('anon')];
      const digits = String(Date.now()).slice(-8);
      await batch([{ type: 'identify', userId: u, traits: { phone: `+39 3${digits.slice(0, 2)} ${digits.slice(2)}` } }]);
      await batch([{ type: 'identify', anonymousId: z, traits: { phone: `0039-3${digits}` } }]);
      const s = await subjectOf('userId', u);
      assert.ok(s);
      assert.equal(await subjectOf('phone', `+393${digits}`), s);
      assert.equal(await subjectOf('anonymousId', z), s);
    });

    it('merges two anonymous visitors into the older one', async () => {
      const [y, z] = [uniq('anon-y'), uniq('anon-z')];
      const email = `${uniq('cy')}@example.com`;
      await grant({ anonymousId: y });
      await tick();
      await grant({ anonymousId: z });
      const sy = await subjectOf('anonymousId', y);
      const sz = await subjectOf('anonymousId', z);
      assert.ok(sy && sz && sy !== sz);
      await batch([{ type: 'identify', anonymousId: z, traits: { email } }]);
      await batch([{ type: 'identify', anonymousId: y, traits: { email } }]);
      assert.equal(await subjectOf('anonymousId', z), sy, 'the older subject survives');
      assert.equal(await subjectOf('anonymousId', y), sy);
      assert.equal((await subjectRow(sz)).merged_into, sy);
    });
  });

  describe('alias', () => {
    it('links the previous anonymousId to the userId', async () => {
      const [a, u] = [uniq('anon'), uniq('user')];
      await grant({ anonymousId: a });
      const mid = uniq('m');
      await batch([page(a, mid)]);
      await batch([{ type: 'alias', previousId: a, userId: u }]);
      const s = await subjectOf('userId', u);
      assert.ok(s);
      assert.equal(await subjectOf('anonymousId', a), s);
      assert.equal((await eventsOf([mid]))[0]?.subject_id, s);
      assert.deepEqual(await identitiesOf(s), [`anonymousId:${a}`, `userId:${u}`].sort());
    });

    it('records an unseen previousId as the anonymousId of the user', async () => {
      const [p, u] = [uniq('anon'), uniq('user')];
      await batch([{ type: 'alias', previousId: p, userId: u }]);
      const s = await subjectOf('userId', u);
      assert.ok(s);
      assert.equal(await subjectOf('anonymousId', p), s);
      assert.equal(await subjectOf('userId', p), undefined);
    });
  });

  describe('blocked values', () => {
    for (const blocked of ['anonymous', '00000000-0000-0000-0000-000000000000', 'null']) {
      it(`"${blocked}" never links two visitors`, async () => {
        const bi = f.ring.blindIndex.index('anonymousId', blocked);
        const subjectsBefore = (await f.dbs.data.selectFrom('subjects').select('id').execute()).length;
        const r = await consent({ anonymousId: blocked });
        assert.equal(r.statusCode, 400, 'consent needs a real id');
        const mids = [uniq('m'), uniq('m'), uniq('m'), uniq('m')];
        // Two visitors on two devices, both sending the placeholder.
        await batch([page(blocked, mids[0]!), viewed(blocked, mids[1]!), { type: 'identify', anonymousId: blocked, traits: { email: `${uniq('v1')}@example.com` } }]);
        await batch([page(blocked, mids[2]!), viewed(blocked, mids[3]!), { type: 'identify', anonymousId: blocked, traits: { email: `${uniq('v2')}@example.com` } }]);
        assert.equal((await eventsOf(mids)).length, 0, 'events with only a blocked id are not stored');
        assert.equal((await f.dbs.data.selectFrom('identities').select('subject_id').where('blind_index', '=', bi).execute()).length, 0);
        assert.equal((await f.dbs.data.selectFrom('subjects').select('id').execute()).length, subjectsBefore, 'no subject was made');

        // Two users sending the placeholder as anonymousId (or previousId) stay apart.
        const [u1, u2, u3, u4] = [uniq('u1'), uniq('u2'), uniq('u3'), uniq('u4')];
        await batch([{ type: 'identify', userId: u1, anonymousId: blocked }]);
        await batch([{ type: 'identify', userId: u2, anonymousId: blocked }]);
        await batch([{ type: 'alias', userId: u3, previousId: blocked }]);
        await batch([{ type: 'alias', userId: u4, previousId: blocked }]);
        const subjects = await Promise.all([u1, u2, u3, u4].map((u) => subjectOf('userId', u)));
        assert.ok(subjects.every(Boolean), 'each user has a subject');
        assert.equal(new Set(subjects).size, 4, 'four users, four subjects');
        assert.equal((await f.dbs.data.selectFrom('identities').select('subject_id').where('blind_index', 'in', [bi, f.ring.blindIndex.index('userId', blocked)]).execute()).length, 0);

        // And as a userId: two devices sending it stay two visitors.
        const [a, b] = [uniq('anon-a'), uniq('anon-b')];
        await batch([{ type: 'identify', userId: blocked, anonymousId: a, traits: { firstName: 'A' } }]);
        await batch([{ type: 'identify', userId: blocked, anonymousId: b, traits: { firstName: 'B' } }]);
        const [sa, sb] = [await subjectOf('anonymousId', a), await subjectOf('anonymousId', b)];
        assert.ok(sa && sb);
        assert.notEqual(sa, sb);
        assert.equal(await subjectOf('userId', blocked), undefined);
      });
    }

    it('an alias whose userId is blocked makes no subject', async () => {
      const [a, u] = [uniq('anon'), uniq('user')];
      await batch([{ type: 'identify', userId: u, anonymousId: a }]);
      const count = async () => (await f.dbs.data.selectFrom('subjects').select('id').execute()).length;
      const n = await count();
      for (const blocked of ['anonymous', 'null', '0000']) await batch([{ type: 'alias', userId: blocked, previousId: a }]);
      assert.equal(await count(), n, 'an empty, unreachable subject (with a data key) was created');
    });

    it('a blocked email or phone trait links nothing', async () => {
      const [u1, u2] = [uniq('u1'), uniq('u2')];
      await batch([{ type: 'identify', userId: u1, traits: { email: 'null', phone: '0000000000' } }]);
      await batch([{ type: 'identify', userId: u2, traits: { email: 'null', phone: '0000000000' } }]);
      const [s1, s2] = [await subjectOf('userId', u1), await subjectOf('userId', u2)];
      assert.ok(s1 && s2 && s1 !== s2);
      assert.deepEqual(await identitiesOf(s1), [`userId:${u1}`]);
    });
  });

  describe('one userId per subject', () => {
    it('a second userId on a known device gets its own subject and does not take over the first user', async () => {
      const [a, u1, u2] = [uniq('anon'), uniq('u1'), uniq('u2')];
      const email2 = `${uniq('second')}@example.com`;
      await grant({ anonymousId: a });
      await batch([{ type: 'identify', userId: u1, anonymousId: a, traits: { favoriteCategory: 'shoes' } }]);
      await batch([{ type: 'identify', userId: u2, anonymousId: a, traits: { favoriteCategory: 'bags', email: email2 } }]);
      const s1 = await subjectOf('userId', u1);
      assert.ok(s1);
      assert.equal(await subjectOf('anonymousId', a), s1, 'the device stays with the first user');
      assert.deepEqual((await identitiesOf(s1)).filter((i) => i.startsWith('userId:')), [`userId:${u1}`]);
      // The second person's data must not land in the first person's profile.
      const t1 = await traitsOf(s1);
      assert.equal(t1.favoriteCategory, 'shoes', "u2's trait overwrote u1's profile");
      assert.equal(t1.email, undefined, "u2's email was stored on u1's profile");
      assert.notEqual(await subjectOf('email', email2), s1, "u2's email links to u1");
      const s2 = await subjectOf('userId', u2);
      assert.ok(s2, 'u2 is linked to a subject of its own');
      assert.notEqual(s2, s1);
    });

    it('an identity shared by two known users never merges them', async () => {
      const [a, b, u1, u2] = [uniq('anon-a'), uniq('anon-b'), uniq('u1'), uniq('u2')];
      const email = `${uniq('shared')}@example.com`;
      await grant({ anonymousId: a });
      await grant({ anonymousId: b });
      await batch([{ type: 'identify', userId: u1, anonymousId: a, traits: { email } }]);
      await batch([{ type: 'identify', userId: u2, anonymousId: b, traits: { email } }]);
      const mid = uniq('m');
      await batch([{ ...viewed(a, mid), userId: u2 }]);
      await batch([{ type: 'alias', previousId: u1, userId: u2 }]);
      const [s1, s2] = [await subjectOf('userId', u1), await subjectOf('userId', u2)];
      assert.ok(s1 && s2);
      assert.notEqual(s1, s2);
      assert.equal((await subjectRow(s1)).merged_into, null);
      assert.equal((await subjectRow(s2)).merged_into, null);
      assert.equal((await eventsOf([mid]))[0]?.subject_id, s2, "u2's event goes to u2");
      const userIds = await f.dbs.data.selectFrom('identities').select('subject_id').where('kind', '=', 'userId').execute();
      assert.equal(new Set(userIds.map((r) => r.subject_id)).size, userIds.length, 'no subject has two userIds');
    });
  });

  describe('consents follow a merge', () => {
    // Each case: consent calls in time order, then the merge; the merged state per purpose is the latest of either side.
    const cases: { name: string; calls: ['a' | 'b', Record<string, boolean>][]; want: Record<string, string>; pageStored: boolean }[] = [
      {
        name: "the loser's later withdrawal wins",
        calls: [['b', { marketing: false }], ['a', { analytics: true, personalization: true, marketing: true }], ['b', { analytics: true, personalization: true }], ['b', { analytics: false, personalization: false }]],
        want: { analytics: 'withdrawn', personalization: 'withdrawn', marketing: 'granted' },
        pageStored: false,
      },
      {
        name: "the survivor's later withdrawal wins",
        calls: [['a', { analytics: true }], ['b', { analytics: true }], ['a', { analytics: false }]],
        want: { analytics: 'withdrawn' },
        pageStored: false,
      },
      {
        name: "the loser's later grant wins",
        calls: [['a', { analytics: false, personalization: false }], ['b', { analytics: true }]],
        want: { analytics: 'granted', personalization: 'denied' },
        pageStored: true,
      },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const ids = { a: uniq('anon-a'), b: uniq('anon-b') };
        const u = uniq('user');
        for (const [who, purposes] of c.calls) {
          await grant({ anonymousId: ids[who] }, purposes);
          await tick();
        }
        const sb = await subjectOf('anonymousId', ids.b);
        assert.ok(sb);
        await batch([{ type: 'identify', userId: u, anonymousId: ids.a }]);
        const mid = uniq('m');
        // The page is planned right after the merge, in the same flush: it sees the merged state.
        await batch([{ type: 'identify', userId: u, anonymousId: ids.b }, page(undefined, mid, { userId: u })]);
        const s = await subjectOf('userId', u);
        assert.ok(s);
        assert.equal(await subjectOf('anonymousId', ids.b), s);
        const rows = await f.dbs.data.selectFrom('consents').select(['subject_id', 'purpose']).where('subject_id', 'in', [s, sb]).execute();
        const expected = c.calls.reduce((n, [, p]) => n + Object.keys(p).length, 0);
        assert.equal(rows.length, expected);
        assert.ok(rows.every((r) => r.subject_id === s), 'every ledger row moved to the survivor');
        assert.equal((await eventsOf([mid])).length, c.pageStored ? 1 : 0);
        // The ledger as stored: a new choice for an unrelated purpose answers with the whole merged state.
        const state = (await grant({ userId: u }, { advertising: false })).consents;
        for (const [purpose, status] of Object.entries(c.want)) assert.equal(state[purpose], status, purpose);
      });
    }
  });
});
