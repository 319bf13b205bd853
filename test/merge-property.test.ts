// Property-based tests of identity resolution and merging: random message sequences, then invariants of the stored state.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, it } from 'node:test';
import fc from 'fast-check';
import { ciphertextKeyVersion, decryptJson } from '../src/crypto/envelope.ts';
import type { IdentityKind } from '../src/domain/identity.ts';
import { basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';

type F = Awaited<ReturnType<typeof startFiducia>>;

/** One generated message, by pool index; turned into a Segment message with this run's ids. */
interface GenMsg {
  type: 'identify' | 'track' | 'page' | 'alias';
  user: number | null;
  /** identify/track/page: the anonymousId; alias: the previousId (an anonymousId or, with prevIsUser, a userId). */
  anon: number;
  prevIsUser: boolean;
  email: number | null;
  upper: boolean;
  fav: string | null;
  /** Seconds after BASE; the index is added in ms so that no two messages share a timestamp. */
  t: number;
  /** Start a new batch before this message. */
  cut: boolean;
}

interface Sent {
  type: GenMsg['type'];
  messageId: string;
  userId?: string;
  anonymousId?: string;
  previousId?: string;
  traits: { email?: string; favoriteCategory?: string };
  ts: number;
}

const USERS = 3;
const ANONS = 4;
const EMAILS = 2;
const BASE = Date.parse('2026-01-01T00:00:00Z');
const TRAITS = ['email', 'favoriteCategory'] as const;

const arbMsg: fc.Arbitrary<GenMsg> = fc.record({
  type: fc.constantFrom('identify', 'identify', 'track', 'page', 'alias'),
  user: fc.option(fc.nat({ max: USERS - 1 }), { nil: null }),
  anon: fc.nat({ max: ANONS - 1 }),
  prevIsUser: fc.boolean(),
  email: fc.option(fc.nat({ max: EMAILS - 1 }), { nil: null }),
  upper: fc.boolean(),
  fav: fc.option(fc.constantFrom('shoes', 'bags', 'hats'), { nil: null }),
  t: fc.nat({ max: 50 }),
  cut: fc.boolean(),
});

const arbScenario = fc.record({
  /** Also grant consent to every userId up front (then every subject holds consent and every event is kept). */
  consentUserIds: fc.boolean(),
  messages: fc.array(arbMsg, { minLength: 1, maxLength: 14 }),
  /** Send the batches all at once, so that several of them share one group commit (order then is the server's). */
  concurrent: fc.boolean(),
  /** Send every message again afterwards: replays must change nothing. */
  replay: fc.boolean(),
});

type Scenario = { consentUserIds: boolean; messages: GenMsg[]; concurrent?: boolean; replay?: boolean };

function build(g: GenMsg, i: number, run: { users: string[]; anons: string[]; emails: string[]; id: string }): Sent {
  const base = { type: g.type, messageId: `m${i}-${run.id}`, ts: BASE + g.t * 1000 + i, traits: {} };
  if (g.type === 'alias') {
    const previousId = g.prevIsUser ? run.users[g.anon % USERS]! : run.anons[g.anon]!;
    return { ...base, userId: run.users[g.user ?? 0]!, previousId };
  }
  const out: Sent = { ...base, anonymousId: run.anons[g.anon]! };
  if (g.user !== null) out.userId = run.users[g.user]!;
  if (g.type === 'identify') {
    if (g.email !== null) {
      const e = run.emails[g.email]!;
      // Another spelling of the same address must link the same subject.
      out.traits.email = g.upper ? ` ${e.toUpperCase()}` : e;
    }
    if (g.fav !== null) out.traits.favoriteCategory = g.fav;
  }
  return out;
}

function toSegment(m: Sent): Record<string, unknown> {
  const out: Record<string, unknown> = { type: m.type, messageId: m.messageId, timestamp: new Date(m.ts).toISOString() };
  if (m.userId !== undefined) out.userId = m.userId;
  if (m.anonymousId !== undefined) out.anonymousId = m.anonymousId;
  if (m.previousId !== undefined) out.previousId = m.previousId;
  if (m.type === 'identify') out.traits = m.traits;
  if (m.type === 'track') Object.assign(out, { event: 'Product Viewed', properties: { product_id: m.messageId } });
  if (m.type === 'page') Object.assign(out, { name: 'Home', properties: { url: `https://shop.example/${m.messageId}` } });
  return out;
}

await eachDialect('merge properties', (dialect) => {
  let f: F;
  before(async () => {
    f = await startFiducia(dialect);
  });
  after(async () => f.stop());

  const post = async (url: string, payload: Record<string, unknown>): Promise<void> => {
    const r = await f.app.inject({ method: 'POST', url, headers: { authorization: basicAuth() }, payload });
    assert.equal(r.statusCode, 200, r.body);
  };
  const subjectOf = async (kind: IdentityKind, value: string): Promise<string | undefined> => {
    const row = await f.dbs.data.selectFrom('identities').select('subject_id').where('kind', '=', kind).where('blind_index', '=', f.ring.blindIndex.index(kind, value)).executeTakeFirst();
    return row?.subject_id;
  };
  const open = async (subject: string, field: string, blob: Uint8Array): Promise<unknown> => {
    const key = await f.ring.keyVersion(subject, ciphertextKeyVersion(blob));
    assert.ok(key, `live subject ${subject} has its data key`);
    return decryptJson(key, subject, field, blob);
  };

  /** Invariants that hold for the whole database, whatever ran before. */
  const checkGlobal = async (): Promise<Set<string>> => {
    const db = f.dbs.data;
    const subjects = await db.selectFrom('subjects').selectAll().execute();
    const live = new Set(subjects.filter((s) => s.merged_into === null).map((s) => s.id));
    const merged = subjects.filter((s) => s.merged_into !== null);
    for (const s of merged) assert.ok(live.has(s.merged_into!), 'a merged subject points straight at a live one');
    if (merged.length > 0) {
      const keys = await f.dbs.keys.selectFrom('data_keys').select('subject_id').where('subject_id', 'in', merged.map((s) => s.id)).execute();
      assert.deepEqual(keys, [], 'merged subjects keep no data key');
    }
    // (a) at most one userId per subject; (b) identities, and every other personal row, belong to live subjects.
    const identities = await db.selectFrom('identities').select(['kind', 'subject_id']).execute();
    const userIds = identities.filter((i) => i.kind === 'userId').map((i) => i.subject_id);
    assert.equal(new Set(userIds).size, userIds.length, 'a subject with two userIds');
    for (const table of ['identities', 'traits', 'events', 'consents'] as const) {
      const rows = await db.selectFrom(table).select('subject_id').execute();
      for (const r of rows) assert.ok(live.has(r.subject_id), `${table} row on a merged or missing subject`);
    }
    return live;
  };

  const runScenario = async (scenario: Scenario): Promise<void> => {
    const id = randomBytes(5).toString('hex');
    const run = {
      id,
      users: Array.from({ length: USERS }, (_, i) => `u${i}-${id}`),
      anons: Array.from({ length: ANONS }, (_, i) => `a${i}-${id}`),
      emails: Array.from({ length: EMAILS }, (_, i) => `e${i}-${id}@example.com`),
    };
    const purposes = { analytics: true, personalization: true };
    for (const anonymousId of run.anons) await post('/v1/consent', { anonymousId, purposes, noticeVersion: '2026-11' });
    if (scenario.consentUserIds) for (const userId of run.users) await post('/v1/consent', { userId, purposes, noticeVersion: '2026-11' });

    const sent = scenario.messages.map((g, i) => build(g, i, run));
    const batches: Record<string, unknown>[][] = [[]];
    for (const [i, m] of sent.entries()) {
      if (scenario.messages[i]!.cut && batches.at(-1)!.length > 0) batches.push([]);
      batches.at(-1)!.push(toSegment(m));
    }
    if (scenario.concurrent) await Promise.all(batches.map((batch) => post('/v1/batch', { batch })));
    else for (const batch of batches) await post('/v1/batch', { batch });
    if (scenario.replay) await post('/v1/batch', { batch: sent.map(toSegment) });

    const live = await checkGlobal();
    const db = f.dbs.data;

    // Every id a message carried is linked to a live subject. Not so for an alias's userId (a second userId is
    // refused), nor for a track/page with a new userId on someone else's device and nothing it may keep.
    const linked = new Map<string, string | undefined>();
    const lookup = async (kind: IdentityKind, v: string) => {
      const k = `${kind}:${v}`;
      if (!linked.has(k)) linked.set(k, await subjectOf(kind, v));
      return linked.get(k);
    };
    for (const m of sent) {
      if (m.anonymousId) assert.ok(await lookup('anonymousId', m.anonymousId), 'every anonymousId is linked');
      const mustLink = m.type === 'identify' || (m.type !== 'alias' && scenario.consentUserIds);
      if (m.userId && mustLink) assert.ok(await lookup('userId', m.userId), `userId of ${m.messageId} is linked`);
      if (m.traits.email) assert.ok(await lookup('email', m.traits.email.trim().toLowerCase()), 'every email is linked');
    }
    /** Where a message's data belongs now: its userId's subject, else its anonymousId's. */
    const finalSubject = async (m: Sent): Promise<string | undefined> =>
      (m.userId ? await lookup('userId', m.userId) : undefined) ?? (m.anonymousId ? await lookup('anonymousId', m.anonymousId) : undefined);

    // (c) events: on the subject of their message, decrypting under that subject's key. (g) follows: one userId, one subject.
    const eventMsgs = sent.filter((m) => m.type === 'track' || m.type === 'page');
    const events = eventMsgs.length === 0 ? [] : await db.selectFrom('events').selectAll().where('message_id', 'in', eventMsgs.map((m) => m.messageId)).execute();
    for (const e of events) {
      const m = eventMsgs.find((x) => x.messageId === e.message_id)!;
      assert.ok(live.has(e.subject_id));
      if (m.userId) assert.ok(await lookup('userId', m.userId), `userId of stored ${m.messageId} is linked`);
      assert.equal(e.subject_id, await finalSubject(m), `event of ${m.messageId} is on its sender's subject`);
      const payload = (await open(e.subject_id, `event:${e.id}`, e.payload_enc)) as { properties: Record<string, unknown> };
      assert.equal(m.type === 'track' ? payload.properties.product_id : payload.properties.url, m.type === 'track' ? m.messageId : `https://shop.example/${m.messageId}`);
    }
    // (e) idempotent and complete: one event per track/page message; all of them when every subject holds consent.
    assert.equal(new Set(events.map((e) => e.message_id)).size, events.length, 'one event per messageId');
    if (scenario.consentUserIds) assert.equal(events.length, eventMsgs.length, 'every consented track/page is stored');
    else assert.ok(events.length <= eventMsgs.length);

    // The run's subjects: identities decrypt under their subject's key and match their blind index.
    const subjects = new Set([...linked.values()].filter((s): s is string => s !== undefined));
    for (const s of subjects) {
      for (const i of await db.selectFrom('identities').selectAll().where('subject_id', '=', s).execute()) {
        const value = await open(s, `identity:${i.kind}`, i.value_enc);
        assert.ok(typeof value === 'string' && f.ring.blindIndex.index(i.kind, value).equals(Buffer.from(i.blind_index)), 'identity value matches its index');
      }
    }

    // (d) traits decrypt; (f) each is the most recent write among the identify messages that ended up on the subject.
    const identifies = [];
    for (const m of sent) if (m.type === 'identify') identifies.push({ m, subject: await finalSubject(m) });
    for (const s of subjects) {
      const stored = new Map<string, unknown>();
      for (const t of await db.selectFrom('traits').selectAll().where('subject_id', '=', s).execute()) stored.set(t.name, await open(s, `trait:${t.name}`, t.value_enc));
      for (const name of TRAITS) {
        const writes = identifies.filter((x) => x.subject === s && x.m.traits[name] !== undefined).map((x) => x.m).sort((a, b) => a.ts - b.ts);
        const got = stored.get(name);
        // email is kept under `service` (contract) whatever the consent; favoriteCategory needs personalization.
        if (name === 'email' || scenario.consentUserIds) {
          assert.equal(got, writes.at(-1)?.traits[name], `${name} is the most recent write`);
        } else if (got !== undefined) {
          assert.ok(writes.some((w) => w.traits[name] === got), `${name} was sent to this subject`);
        }
      }
    }
  };

  it('random identify/track/page/alias sequences keep the identity graph consistent', async () => {
    await fc.assert(fc.asyncProperty(arbScenario, runScenario), { numRuns: Number(process.env.FIDUCIA_PROPERTY_RUNS ?? 20) });
  });

  // A hand-picked sequence: two anonymous devices joined by an email, then a userId on each, in one batch.
  it('a chain of merges in one batch', async () => {
    const msgs: GenMsg[] = [
      { type: 'identify', user: null, anon: 0, prevIsUser: false, email: 0, upper: false, fav: 'shoes', t: 1, cut: false },
      { type: 'identify', user: null, anon: 1, prevIsUser: false, email: 0, upper: true, fav: 'bags', t: 2, cut: false },
      { type: 'page', user: null, anon: 1, prevIsUser: false, email: null, upper: false, fav: null, t: 3, cut: false },
      { type: 'identify', user: 0, anon: 2, prevIsUser: false, email: null, upper: false, fav: 'hats', t: 0, cut: false },
      { type: 'alias', user: 0, anon: 0, prevIsUser: false, email: null, upper: false, fav: null, t: 4, cut: false },
      { type: 'track', user: 1, anon: 1, prevIsUser: false, email: null, upper: false, fav: null, t: 5, cut: false },
    ];
    await runScenario({ consentUserIds: false, messages: msgs });
    await runScenario({ consentUserIds: true, messages: msgs });
  });
});
