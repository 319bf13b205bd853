// Backpressure as the real SDKs meet it: while the writer is held up, Segment's analytics-node and RudderStack's Node
// SDK, both with their shipped settings, get 429 with Retry-After, wait, send the same batches again, and in the end
// every event they sent is stored once. Both databases.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, it } from 'node:test';
import { Analytics as SegmentAnalytics } from '@segment/analytics-node';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import { WRITE_KEY, basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';
import { holdWrites } from './helpers/lock.ts';

type F = Awaited<ReturnType<typeof startFiducia>>;

const CLIENTS = 4;
const EVENTS_PER_CLIENT = 60;
/** How long the writer is held up: longer than the 1 s a refused SDK waits, so refused batches are refused again. */
const HOLD_MS = 2_500;

await eachDialect('SDKs under backpressure', (dialect) => {
  let f: F;
  let base: string;
  /** A Fiducia of its own for each test, with the queue bound at `minQueued` messages. */
  const serve = async (minQueued: number) => {
    f = await startFiducia(dialect, { ingestAdmission: { maxQueueMs: 1, minQueued } });
    base = await f.app.listen({ host: '127.0.0.1', port: 0 });
  };
  afterEach(async () => f?.stop());

  async function consent(userId: string): Promise<void> {
    const c = await fetch(`${base}/v1/consent`, {
      method: 'POST',
      headers: { authorization: basicAuth(), 'content-type': 'application/json' },
      body: JSON.stringify({ userId, purposes: { analytics: true }, noticeVersion: f.cfg.config.notice.current }),
    });
    assert.equal(c.status, 200, await c.text());
  }

  async function storedEvents(userId: string): Promise<number> {
    const bi = f.ring.blindIndex.index('userId', userId);
    const id = await f.dbs.data.selectFrom('identities').select('subject_id').where('kind', '=', 'userId').where('blind_index', '=', bi).executeTakeFirstOrThrow();
    const r = await f.dbs.data.selectFrom('events').select((eb) => eb.fn.countAll<number | string>().as('n')).where('subject_id', '=', id.subject_id).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  it("Segment's analytics-node: refused with 429 and Retry-After, waits, sends again; every event stored once", async () => {
    // A bound that one waiting batch of Segment's default size (15 messages) fills: Segment waits out a 429 without
    // spending a retry, so it may be refused again and again until the writer is free.
    await serve(10);
    const users = Array.from({ length: CLIENTS }, () => `seg-${randomUUID()}`);
    for (const u of users) await consent(u);
    const refusedBefore = (await f.metrics.overloadedRequests.get()).values[0]?.value ?? 0;
    const release = await holdWrites(dialect, f.store, HOLD_MS);
    const statuses: number[] = [];
    const errors: unknown[] = [];
    const callbacks: unknown[] = [];
    const clients = users.map((userId) => {
      // Shipped settings; only where to send.
      const a = new SegmentAnalytics({ writeKey: WRITE_KEY, host: base });
      a.on('http_response', (r) => statuses.push(r.status));
      a.on('error', (e) => errors.push(e));
      for (let i = 0; i < EVENTS_PER_CLIENT; i++) a.track({ userId, event: 'Product Viewed', properties: { product_id: `p-${i}` } }, (err) => callbacks.push(err ?? null));
      return a;
    });
    await Promise.all([...clients.map((a) => a.closeAndFlush({ timeout: 60_000 })), release()]);
    assert.deepEqual(errors, []);
    assert.equal(callbacks.length, CLIENTS * EVENTS_PER_CLIENT);
    assert.ok(callbacks.every((c) => c === null), 'every event acknowledged');
    assert.ok(statuses.includes(429), `some batches were refused: ${statuses.join(',')}`);
    assert.ok(statuses.every((s) => s === 200 || s === 429), statuses.join(','));
    const refusedAfter = (await f.metrics.overloadedRequests.get()).values[0]?.value ?? 0;
    assert.equal(refusedAfter - refusedBefore, statuses.filter((s) => s === 429).length, 'the refusals counted on /metrics');
    for (const u of users) assert.equal(await storedEvents(u), EVENTS_PER_CLIENT, 'each event stored once');
  });

  it("RudderStack's Node SDK: refused with 429 and Retry-After, waits, sends again; every event stored once", async () => {
    // RudderStack gives up on a batch after its third retry and sends one batch of 20 at a time per client: the writer
    // is held for 1.5 s, less than the three waits of at least 1 s it allows a batch, and at most four batches compete
    // for the queue once it is free.
    await serve(10);
    const users = Array.from({ length: CLIENTS }, () => `rs-${randomUUID()}`);
    for (const u of users) await consent(u);
    const release = await holdWrites(dialect, f.store, 1_500);
    const results: unknown[] = [];
    let allAnswered: () => void = () => undefined;
    const answered = new Promise<void>((resolve) => (allAnswered = resolve));
    const clients = users.map((userId) => {
      const a = new RudderAnalytics(WRITE_KEY, { dataPlaneUrl: base, logLevel: 'error' });
      for (let i = 0; i < EVENTS_PER_CLIENT; i++) {
        a.track({ userId, event: 'Product Viewed', properties: { product_id: `p-${i}` } }, (err?: unknown) => {
          results.push(err ?? null);
          if (results.length === CLIENTS * EVENTS_PER_CLIENT) allAnswered();
        });
      }
      return a;
    });
    const refusedBefore = (await f.metrics.overloadedRequests.get()).values[0]?.value ?? 0;
    await Promise.all([...clients.map((a) => a.flush()), release(), answered]);
    assert.ok(results.every((r) => r === null), `every event acknowledged: ${results.filter((r) => r !== null).length} failed`);
    const refusedAfter = (await f.metrics.overloadedRequests.get()).values[0]?.value ?? 0;
    assert.ok(refusedAfter > refusedBefore, 'some batches were refused');
    for (const u of users) assert.equal(await storedEvents(u), EVENTS_PER_CLIENT, 'each event stored once');
  });
});
