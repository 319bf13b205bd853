// Retention and withdrawal that delete (issue 16, items 2 and 3): with the clock moved forward, rows past every
// purpose's period are gone from the tables, anonymous aggregates stay when configured, the sweep is in the audit log;
// a withdrawal hides data at once and the next sweep deletes what only the withdrawn purpose kept.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_CONFIG_PATH } from '../src/services/config/config-loader.ts';
import type { RetentionReport } from '../src/services/retention/retention-sweep.ts';
import { ADMIN_TOKEN, basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';

type Running = Awaited<ReturnType<typeof startFiducia>>;
const DAY = 86_400_000;
const staff = { authorization: `Bearer ${ADMIN_TOKEN}` };

async function consent(f: Running, anonymousId: string, purposes: Record<string, boolean>, headers: Record<string, string> = {}): Promise<void> {
  const r = await f.app.inject({ method: 'POST', url: '/v1/consent', headers: { authorization: basicAuth(), ...headers }, payload: { anonymousId, purposes, noticeVersion: f.cfg.config.notice.current } });
  assert.equal(r.statusCode, 200, r.body);
}

async function send(f: Running, batch: Record<string, unknown>[]): Promise<void> {
  const r = await f.app.inject({ method: 'POST', url: '/v1/batch', headers: { authorization: basicAuth() }, payload: { batch } });
  assert.equal(r.statusCode, 200, r.body);
}

const views = (who: Record<string, string>, tag: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({ type: 'track', ...who, event: 'Product Viewed', properties: { product_id: `${tag}-p${i}` }, messageId: `${tag}-view-${i}` }));

async function subjectOfAnon(f: Running, anonymousId: string): Promise<string> {
  const bi = f.ring.blindIndex.index('anonymousId', anonymousId);
  const row = await f.dbs.data.selectFrom('identities').select('subject_id').where('kind', '=', 'anonymousId').where('blind_index', '=', bi).executeTakeFirst();
  assert.ok(row, `no subject for ${anonymousId}`);
  return row.subject_id;
}

async function rows(f: Running, subjectId: string): Promise<{ events: number; traits: string[]; identities: number; erased: boolean; key: boolean }> {
  const events = await f.dbs.data.selectFrom('events').select('id').where('subject_id', '=', subjectId).execute();
  const traits = await f.dbs.data.selectFrom('traits').select('name').where('subject_id', '=', subjectId).orderBy('name').execute();
  const identities = await f.dbs.data.selectFrom('identities').select('kind').where('subject_id', '=', subjectId).execute();
  const subject = await f.dbs.data.selectFrom('subjects').select('erased_at').where('id', '=', subjectId).executeTakeFirst();
  const key = await f.dbs.keys.selectFrom('data_keys').select('subject_id').where('subject_id', '=', subjectId).executeTakeFirst();
  return { events: events.length, traits: traits.map((t) => t.name), identities: identities.length, erased: subject?.erased_at != null, key: key !== undefined };
}

async function aggregates(f: Running): Promise<{ day: string; purpose: string; type: string; event_name: string; count: number }[]> {
  const r = await f.dbs.data.selectFrom('retention_aggregates').selectAll().orderBy('purpose').orderBy('event_name').execute();
  return r.map((a) => ({ ...a, count: Number(a.count) }));
}

async function sweepEntries(f: Running): Promise<{ subject_id: string | null; counts: Record<string, number> }[]> {
  const r = await f.dbs.data.selectFrom('audit_entries').select(['subject_id', 'data']).where('action', '=', 'retention.sweep').orderBy('idx').execute();
  return r.map((e) => ({ subject_id: e.subject_id, counts: (JSON.parse(e.data) as { counts: Record<string, number> }).counts }));
}

function configWithAggregates(): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'fiducia-retention-'));
  const path = join(dir, 'fiducia.yaml');
  writeFileSync(path, `${readFileSync(DEFAULT_CONFIG_PATH, 'utf8')}\nretention:\n  aggregates: true\n`);
  return { dir, path };
}

await eachDialect('retention with the clock moved forward', (dialect) => {
  let f: Running;
  let offset = 0;
  const cfgFile = configWithAggregates();
  before(async () => {
    f = await startFiducia(dialect, { configPath: cfgFile.path, retentionClock: () => Date.now() + offset, rightsSweepMs: 0, auditCheckpointSeconds: 0, segmentRefreshMs: 0 });
  });
  after(async () => {
    await f?.stop();
    rmSync(cfgFile.dir, { recursive: true, force: true });
  });

  it('deletes rows past every purpose period, keeps the others, aggregates the deleted events and audits the sweep', async () => {
    // A: analytics only (395 days). B: analytics and personalization (730 days). C: analytics, a userId from a server source.
    await consent(f, 'anon-a', { analytics: true, personalization: false });
    await consent(f, 'anon-b', { analytics: true, personalization: true });
    await send(f, [{ type: 'identify', anonymousId: 'anon-a', traits: { age: 31 }, messageId: 'a-id' }, ...views({ anonymousId: 'anon-a' }, 'a', 3)]);
    await send(f, [{ type: 'identify', anonymousId: 'anon-b', traits: { favoriteCategory: 'shoes' }, messageId: 'b-id' }, ...views({ anonymousId: 'anon-b' }, 'b', 2)]);
    await send(f, [{ type: 'identify', userId: 'user-c', anonymousId: 'anon-c', traits: {}, context: { consent: { categoryPreferences: { analytics: true } } }, messageId: 'c-id' }]);
    await send(f, views({ userId: 'user-c' }, 'c', 1));
    const [a, b, c] = [await subjectOfAnon(f, 'anon-a'), await subjectOfAnon(f, 'anon-b'), await subjectOfAnon(f, 'anon-c')];
    assert.deepEqual(await rows(f, a), { events: 3, traits: ['age'], identities: 1, erased: false, key: true });
    assert.equal((await rows(f, c)).events, 1, 'C has its event');

    // Nothing is due today.
    const today = (await f.retention.run()) as RetentionReport;
    assert.equal(today.eventsDeleted + today.traitsDeleted + today.subjectsErased, 0, JSON.stringify(today));

    offset = 400 * DAY;
    const r = await f.jobs.runOnce('retention');
    assert.equal(r.outcome, 'ok', JSON.stringify(r));
    assert.deepEqual(await rows(f, a), { events: 0, traits: [], identities: 0, erased: true, key: false }, 'A: rows deleted, subject crypto-shredded');
    assert.deepEqual(await rows(f, b), { events: 2, traits: ['favoriteCategory'], identities: 1, erased: false, key: true }, 'B: personalization still keeps its rows');
    const rc = await rows(f, c);
    assert.equal(rc.events, 0, 'C: its analytics event is gone');
    assert.equal(rc.erased, false, 'C: an account holder (asserted userId) is kept');
    assert.equal(r.counts.eventsDeleted, 4, JSON.stringify(r.counts));
    assert.equal(r.counts.traitsDeleted, 1, JSON.stringify(r.counts));
    assert.equal(r.counts.subjectsErased, 1, JSON.stringify(r.counts));

    const day = new Date().toISOString().slice(0, 10);
    assert.deepEqual(await aggregates(f), [{ day, purpose: 'analytics', type: 'track', event_name: 'Product Viewed', count: 4 }]);

    const audited = await sweepEntries(f);
    assert.equal(audited.length, 2, 'one entry per sweep');
    assert.equal(audited[1]!.subject_id, null, 'the sweep entry names no subject');
    assert.equal(audited[1]!.counts.eventsDeleted, 4);
    assert.equal(audited[1]!.counts.expired, 5, 'four events and one trait past their period');
    assert.equal(audited[1]!.counts.eventsAggregated, 4);

    offset = 731 * DAY;
    const later = (await f.retention.run()) as RetentionReport;
    assert.equal(later.eventsDeleted, 2, JSON.stringify(later));
    assert.deepEqual(await rows(f, b), { events: 0, traits: [], identities: 0, erased: true, key: false }, 'B: gone once personalization expired too');
    const agg = await aggregates(f);
    assert.deepEqual(
      agg.map((x) => `${x.purpose}:${x.count}`),
      ['analytics:6', 'personalization:2'],
      'aggregates add up across sweeps, one count per purpose an event was collected under',
    );
  });
});

await eachDialect('withdrawal deletes within one sweep', (dialect) => {
  let f: Running;
  before(async () => {
    f = await startFiducia(dialect, { rightsSweepMs: 0, auditCheckpointSeconds: 0, segmentRefreshMs: 0 });
  });
  after(async () => f?.stop());

  it('hides withdrawn data at once and deletes what only the withdrawn purpose kept at the next sweep', async () => {
    await consent(f, 'anon-w', { analytics: true, personalization: true });
    await consent(f, 'anon-x', { analytics: true, personalization: true });
    for (const who of ['w', 'x']) {
      await send(f, [{ type: 'identify', anonymousId: `anon-${who}`, traits: { favoriteCategory: 'shoes', age: 40 }, messageId: `${who}-id` }, ...views({ anonymousId: `anon-${who}` }, who, 2)]);
    }
    const [w, x] = [await subjectOfAnon(f, 'anon-w'), await subjectOfAnon(f, 'anon-x')];
    assert.deepEqual((await rows(f, w)).traits, ['age', 'favoriteCategory']);

    await consent(f, 'anon-w', { personalization: false });
    await consent(f, 'anon-x', { analytics: false, personalization: false });

    // Unreadable at once.
    const read = await f.app.inject({ method: 'GET', url: '/api/v1/profiles/anonymousId:anon-w?purpose=personalization', headers: staff });
    assert.equal(read.statusCode, 200, read.body);
    const profile = read.json() as { traits: Record<string, unknown>; withheld: { field: string; reason: string }[] };
    assert.equal(profile.traits.favoriteCategory, undefined, 'withdrawn data is not returned');
    assert.ok(profile.withheld.some((h) => h.field === 'favoriteCategory' && h.reason === 'consent_withdrawn'), JSON.stringify(profile.withheld));
    assert.equal((await rows(f, w)).traits.length, 2, 'still stored until the sweep');

    const r = await f.jobs.runOnce('retention');
    assert.equal(r.outcome, 'ok', JSON.stringify(r));
    const rw = await rows(f, w);
    assert.deepEqual(rw.traits, ['age'], 'the personalization-only trait is gone; age is also collected for analytics');
    assert.equal(rw.events, 2, 'events collected for analytics too remain');
    assert.equal(rw.erased, false);
    assert.deepEqual(await rows(f, x), { events: 0, traits: [], identities: 0, erased: true, key: false }, 'everything withdrawn: every row gone, subject shredded');
    assert.equal(r.counts.basisLost, 5, JSON.stringify(r.counts));
    assert.deepEqual(await aggregates(f), [], 'no aggregates unless configured');
    assert.equal((await sweepEntries(f)).length, 1);

    // Global Privacy Control: an objection to sale/share purposes; data collected only for advertising goes.
    await consent(f, 'anon-g', { advertising: true });
    await send(f, views({ anonymousId: 'anon-g' }, 'g', 2));
    const g = await subjectOfAnon(f, 'anon-g');
    assert.equal((await rows(f, g)).events, 2, 'collected for advertising');
    await consent(f, 'anon-g', { advertising: true }, { 'sec-gpc': '1' });
    const rg = await f.jobs.runOnce('retention');
    assert.equal(rg.counts.eventsDeleted, 2, JSON.stringify(rg.counts));
    assert.deepEqual(await rows(f, g), { events: 0, traits: [], identities: 0, erased: true, key: false }, 'GPC: the advertising-only rows are gone');

    // The profile for analytics still reads what is left.
    const left = await f.app.inject({ method: 'GET', url: '/api/v1/profiles/anonymousId:anon-w?purpose=analytics', headers: staff });
    assert.equal(left.statusCode, 200, left.body);
  });
});

describe('retention sweep interval', () => {
  it('defaults to 15 minutes and refuses a bad value', async () => {
    const { retentionSweepMs } = await import('../src/app.ts');
    assert.equal(retentionSweepMs(undefined), 900_000);
    assert.equal(retentionSweepMs(0), 0);
    assert.equal(retentionSweepMs(1), 60_000);
    assert.throws(() => retentionSweepMs(Number.NaN), /FIDUCIA_RETENTION_SWEEP_MINUTES/);
    assert.throws(() => retentionSweepMs(-1), /FIDUCIA_RETENTION_SWEEP_MINUTES/);
  });
});
