// A database another process keeps locked: on SQLite, past the busy timeout, a batch gets 503 with Retry-After and
// changes nothing, and the same batch sent again once the lock is gone is stored once; PostgreSQL waits for the lock
// (Fiducia sets no lock timeout) and answers when it is free.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, it } from 'node:test';
import { BUSY_TIMEOUT_MS } from '../src/store/database.ts';
import { basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';
import { holdWrites } from './helpers/lock.ts';

await eachDialect('a database locked by another process', (dialect) => {
  let f: Awaited<ReturnType<typeof startFiducia>> | undefined;
  afterEach(async () => f?.stop());

  it('answers 503 with Retry-After and stores nothing while locked past the wait (SQLite), or waits (PostgreSQL)', async () => {
    const fid = (f = await startFiducia(dialect));
    const userId = `busy-${randomUUID()}`;
    const consent = await fid.app.inject({ method: 'POST', url: '/v1/consent', headers: { authorization: basicAuth() }, payload: { userId, purposes: { analytics: true }, noticeVersion: fid.cfg.config.notice.current } });
    assert.equal(consent.statusCode, 200, consent.body);
    const batch = { batch: Array.from({ length: 5 }, (_, i) => ({ type: 'track', userId, event: 'Product Viewed', messageId: `busy-${userId}-${i}` })) };
    const send = () => fid.app.inject({ method: 'POST', url: '/v1/batch', headers: { authorization: basicAuth() }, payload: batch });
    const stored = async () => Number((await fid.dbs.data.selectFrom('events').select((eb) => eb.fn.countAll<number | string>().as('n')).where('message_id', 'like', `busy-${userId}-%`).executeTakeFirstOrThrow()).n);

    if (dialect === 'sqlite') {
      const released = await holdWrites(dialect, fid.store, BUSY_TIMEOUT_MS + 1_500);
      const r = await send();
      assert.equal(r.statusCode, 503, r.body);
      assert.equal(r.headers['retry-after'], '1');
      const body = JSON.parse(r.body) as { error: { code: string; details: { reason: string } } };
      assert.equal(body.error.code, 'FIDUCIA_UNAVAILABLE');
      assert.equal(body.error.details.reason, 'database_busy');
      await released();
      assert.equal(await stored(), 0, 'nothing of the refused batch was written');
    } else {
      const released = await holdWrites(dialect, fid.store, 1_500);
      const r = send();
      await released();
      assert.equal((await r).statusCode, 200, 'answered once the lock is free');
    }
    const again = await send();
    assert.equal(again.statusCode, 200, again.body);
    assert.equal(await stored(), 5, 'each event stored once');
  });
});
