// The retention sweep works a page of subjects per transaction: one page holding a subject under a legal hold, a
// restricted one, one with more expired events than a transaction reads, one left empty and erased and one kept comes
// out of one sweep with each outcome as if each subject had been swept alone.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { EVENT_ROWS } from '../src/services/retention/retention-step.ts';
import { RetentionSweep } from '../src/services/retention/retention-sweep.ts';
import { ADMIN_TOKEN, basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';
import { staffRequest } from './helpers/rights.ts';

type Running = Awaited<ReturnType<typeof startFiducia>>;
const DAY = 86_400_000;
const staff = { authorization: `Bearer ${ADMIN_TOKEN}` };
/** More events than one transaction reads, so the subject goes on in transactions of its own. */
const BIG = EVENT_ROWS + 150;

async function send(f: Running, batch: Record<string, unknown>[]): Promise<void> {
  for (let i = 0; i < batch.length; i += 100) {
    const r = await f.app.inject({ method: 'POST', url: '/v1/batch', headers: { authorization: basicAuth() }, payload: { batch: batch.slice(i, i + 100) } });
    assert.equal(r.statusCode, 200, r.body);
  }
}

async function consent(f: Running, anonymousId: string, purposes: Record<string, boolean>): Promise<void> {
  const r = await f.app.inject({ method: 'POST', url: '/v1/consent', headers: { authorization: basicAuth() }, payload: { anonymousId, purposes, noticeVersion: f.cfg.config.notice.current } });
  assert.equal(r.statusCode, 200, r.body);
}

const analytics = { consent: { categoryPreferences: { analytics: true } } };
const views = (who: Record<string, string>, tag: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({ type: 'track', ...who, event: 'Product Viewed', properties: { product_id: `${tag}-p${i}` }, context: analytics, messageId: `${tag}-view-${i}` }));
/** A customer (a userId from a server source: an asserted identity) with one trait and `n` events, for analytics only. */
const customer = (userId: string, n: number) => [{ type: 'identify', userId, traits: { age: 40 }, context: analytics, messageId: `${userId}-id` }, ...views({ userId }, userId, n)];

async function subjectOf(f: Running, kind: 'userId' | 'anonymousId', value: string): Promise<string> {
  const row = await f.dbs.data.selectFrom('identities').select('subject_id').where('kind', '=', kind).where('blind_index', '=', f.ring.blindIndex.index(kind, value)).executeTakeFirst();
  assert.ok(row, `no subject for ${kind}:${value}`);
  return row.subject_id;
}

async function rows(f: Running, subjectId: string): Promise<{ events: number; traits: string[]; erased: boolean; key: boolean }> {
  const events = await f.dbs.data.selectFrom('events').select((eb) => eb.fn.countAll<number>().as('n')).where('subject_id', '=', subjectId).executeTakeFirstOrThrow();
  const traits = await f.dbs.data.selectFrom('traits').select('name').where('subject_id', '=', subjectId).orderBy('name').execute();
  const subject = await f.dbs.data.selectFrom('subjects').select('erased_at').where('id', '=', subjectId).executeTakeFirst();
  const key = await f.dbs.keys.selectFrom('data_keys').select('subject_id').where('subject_id', '=', subjectId).executeTakeFirst();
  return { events: Number(events.n), traits: traits.map((t) => t.name), erased: subject?.erased_at != null, key: key !== undefined };
}

await eachDialect('retention: one page of subjects in different states', (dialect) => {
  let f: Running;
  let offset = 0;
  before(async () => {
    f = await startFiducia(dialect, { retentionClock: () => Date.now() + offset, rightsSweepMs: 0, auditCheckpointSeconds: 0, segmentRefreshMs: 0 });
  });
  after(async () => f?.stop());

  it('leaves the held and the restricted alone, deletes past the row bound, erases the empty one and keeps the kept', async () => {
    // Created in this order, so the big subject sits in the middle of the page: some finished before it, some after.
    await send(f, customer('user-held', 3));
    await consent(f, 'anon-empty', { analytics: true });
    await send(f, [{ type: 'identify', anonymousId: 'anon-empty', traits: { age: 31 }, messageId: 'empty-id' }, ...views({ anonymousId: 'anon-empty' }, 'empty', 2)]);
    await send(f, customer('user-big', BIG));
    await send(f, customer('user-restricted', 3));
    await consent(f, 'anon-kept', { analytics: true, personalization: true });
    await send(f, [{ type: 'identify', anonymousId: 'anon-kept', traits: { favoriteCategory: 'shoes' }, messageId: 'kept-id' }, ...views({ anonymousId: 'anon-kept' }, 'kept', 2)]);

    const hold = await f.app.inject({ method: 'PUT', url: '/api/v1/legal-holds/userId:user-held', headers: staff, payload: { reason: 'pending litigation, case 7/2026' } });
    assert.equal(hold.statusCode, 200, hold.body);
    assert.equal((await staffRequest(f, { type: 'restriction', identity: 'userId:user-restricted' })).status, 'completed');

    const held = await subjectOf(f, 'userId', 'user-held');
    const empty = await subjectOf(f, 'anonymousId', 'anon-empty');
    const big = await subjectOf(f, 'userId', 'user-big');
    const restricted = await subjectOf(f, 'userId', 'user-restricted');
    const kept = await subjectOf(f, 'anonymousId', 'anon-kept');
    assert.deepEqual(await rows(f, big), { events: BIG, traits: ['age'], erased: false, key: true });

    // Past analytics' 395 days, within personalization's 730.
    offset = 400 * DAY;
    const r = await f.jobs.runOnce('retention');
    assert.equal(r.outcome, 'ok', JSON.stringify(r));

    assert.deepEqual(await rows(f, held), { events: 3, traits: ['age'], erased: false, key: true }, 'legal hold: nothing deleted');
    assert.deepEqual(await rows(f, restricted), { events: 3, traits: ['age'], erased: false, key: true }, 'restriction: nothing deleted');
    assert.deepEqual(await rows(f, big), { events: 0, traits: [], erased: false, key: true }, 'every expired event deleted past the row bound; an account holder is kept');
    assert.deepEqual(await rows(f, empty), { events: 0, traits: [], erased: true, key: false }, 'left with nothing: crypto-shredded');
    assert.deepEqual(await rows(f, kept), { events: 2, traits: ['favoriteCategory'], erased: false, key: true }, 'personalization still keeps its rows');
    const identities = await f.dbs.data.selectFrom('identities').select('kind').where('subject_id', '=', empty).execute();
    assert.deepEqual(identities, [], 'the erased subject has no identity left');
    const segmentStates = async (id: string) => (await f.dbs.data.selectFrom('segment_states').select('subject_id').where('subject_id', '=', id).execute()).length;
    assert.equal(await segmentStates(empty), 0, 'the erased subject has no segment state left');
    assert.equal(await segmentStates(held), 1, 'the held subject keeps its segment state');

    const c = r.counts;
    assert.equal(c.subjectsChecked, 5, JSON.stringify(c));
    assert.equal(c.subjectsHeld, 2, JSON.stringify(c));
    assert.equal(c.subjectsErased, 1, JSON.stringify(c));
    assert.equal(c.eventsDeleted, BIG + 2, JSON.stringify(c));
    assert.equal(c.traitsDeleted, 2, JSON.stringify(c));
    assert.equal(c.expired, BIG + 4, JSON.stringify(c));

    // A second sweep finds nothing more to do.
    const again = await f.jobs.runOnce('retention');
    const { eventsDeleted, traitsDeleted, subjectsErased } = again.counts;
    assert.deepEqual([eventsDeleted, traitsDeleted, subjectsErased], [0, 0, 0], JSON.stringify(again.counts));
    assert.equal(again.counts.subjectsChecked, 4, 'the erased subject is no longer live');
  });
});

await eachDialect('retention: small row bounds, rows cut in both tables', (dialect) => {
  let f: Running;
  let offset = 0;
  before(async () => {
    f = await startFiducia(dialect, { retentionClock: () => Date.now() + offset, rightsSweepMs: 0, auditCheckpointSeconds: 0, segmentRefreshMs: 0 });
  });
  after(async () => f?.stop());

  it('finishes every subject whatever table stops a transaction, and deletes nothing of a held one', async () => {
    // Five traits and three events each; a transaction reads 4 events and 7 traits, so both tables stop it mid-subject.
    const traits = { email: 'x@example.com', firstName: 'Ada', lastName: 'Rossi', favoriteCategory: 'shoes', age: 40 };
    const context = { consent: { categoryPreferences: { analytics: true, personalization: true } } };
    const users = Array.from({ length: 9 }, (_, i) => `user-${i}`);
    for (const userId of users) {
      await send(f, [{ type: 'identify', userId, traits, context, messageId: `${userId}-id` }, ...views({ userId }, userId, 3)]);
    }
    const hold = await f.app.inject({ method: 'PUT', url: '/api/v1/legal-holds/userId:user-4', headers: staff, payload: { reason: 'audit' } });
    assert.equal(hold.statusCode, 200, hold.body);
    const held = await subjectOf(f, 'userId', 'user-4');
    const before = await rows(f, held);
    const total = async (table: 'events' | 'traits') =>
      Number((await f.dbs.data.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    const [events, traitRows] = [await total('events'), await total('traits')];
    assert.ok(before.events === 3 && before.traits.length > 1, JSON.stringify(before));

    // Past every period of the configuration: every row is due.
    offset = 3700 * DAY;
    const sweep = new RetentionSweep({ db: f.dbs.store, ring: f.ring, cfg: f.cfg, audit: f.audit, segments: f.segments, logger: f.logger, now: () => Date.now() + offset, rowBounds: { events: 4, traits: 7 } });
    const r = await sweep.run();
    assert.equal(r.subjectsChecked, users.length, JSON.stringify(r));
    assert.equal(r.subjectsHeld, 1, JSON.stringify(r));
    assert.equal(r.eventsDeleted, events - before.events, JSON.stringify(r));
    assert.equal(r.traitsDeleted, traitRows - before.traits.length, JSON.stringify(r));
    assert.deepEqual([await total('events'), await total('traits')], [before.events, before.traits.length], 'only the held subject keeps rows');
    assert.deepEqual(await rows(f, held), before, 'the held subject is untouched');
  });
});
