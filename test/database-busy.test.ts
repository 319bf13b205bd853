// A database another process keeps locked: on SQLite, past the busy timeout, a batch gets 503 with Retry-After and
// changes nothing, and the same batch sent again once the lock is gone is stored once; PostgreSQL waits for the lock
// (Fiducia sets no lock timeout) and answers when it is free.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, it } from 'node:test';
import pg from 'pg';
import { BUSY_TIMEOUT_MS } from '../src/store/database.ts';
import { PG_URL, basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';

await eachDialect('a database locked by another process', (dialect) => {
  let f: Awaited<ReturnType<typeof startFiducia>> | undefined;
  afterEach(async () => f?.stop());

  /**
   * Takes the lock in another process (SQLite: its write lock; PostgreSQL: `events`) for `ms`; the function it gives
   * back waits until the lock is let go (a function, not the promise itself, which an async function would wait for).
   */
  async function holdLock(fid: NonNullable<typeof f>, ms: number): Promise<() => Promise<void>> {
    if (dialect === 'sqlite') {
      const script = `const db = new (require('better-sqlite3'))(process.argv[1]); db.exec('BEGIN IMMEDIATE'); process.stdout.write('locked\\n');
        setTimeout(() => { db.exec('COMMIT'); db.close(); }, Number(process.argv[2]));`;
      const child = spawn(process.execPath, ['-e', script, join(fid.store.options.dataDir, 'fiducia.db'), String(ms)], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise<void>((resolve, reject) => child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`lock holder exited with ${code}`)))));
      await new Promise<void>((resolve, reject) => {
        child.stdout.once('data', () => resolve());
        child.once('exit', () => reject(new Error('the lock holder did not take the lock')));
      });
      return () => exited;
    }
    const client = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${fid.store.options.schema!}` });
    await client.connect();
    await client.query('begin');
    await client.query('lock table events in exclusive mode');
    const released = new Promise<void>((resolve, reject) => setTimeout(() => void client.query('commit').then(() => client.end()).then(resolve, reject), ms));
    return () => released;
  }

  it('answers 503 with Retry-After and stores nothing while locked past the wait (SQLite), or waits (PostgreSQL)', async () => {
    const fid = (f = await startFiducia(dialect));
    const userId = `busy-${randomUUID()}`;
    const consent = await fid.app.inject({ method: 'POST', url: '/v1/consent', headers: { authorization: basicAuth() }, payload: { userId, purposes: { analytics: true }, noticeVersion: fid.cfg.config.notice.current } });
    assert.equal(consent.statusCode, 200, consent.body);
    const batch = { batch: Array.from({ length: 5 }, (_, i) => ({ type: 'track', userId, event: 'Product Viewed', messageId: `busy-${userId}-${i}` })) };
    const send = () => fid.app.inject({ method: 'POST', url: '/v1/batch', headers: { authorization: basicAuth() }, payload: batch });
    const stored = async () => Number((await fid.dbs.data.selectFrom('events').select((eb) => eb.fn.countAll<number | string>().as('n')).where('message_id', 'like', `busy-${userId}-%`).executeTakeFirstOrThrow()).n);

    if (dialect === 'sqlite') {
      const released = await holdLock(fid, BUSY_TIMEOUT_MS + 1_500);
      const r = await send();
      assert.equal(r.statusCode, 503, r.body);
      assert.equal(r.headers['retry-after'], '1');
      const body = JSON.parse(r.body) as { error: { code: string; details: { reason: string } } };
      assert.equal(body.error.code, 'FIDUCIA_UNAVAILABLE');
      assert.equal(body.error.details.reason, 'database_busy');
      await released();
      assert.equal(await stored(), 0, 'nothing of the refused batch was written');
    } else {
      const released = await holdLock(fid, 1_500);
      const r = send();
      await released();
      assert.equal((await r).statusCode, 200, 'answered once the lock is free');
    }
    const again = await send();
    assert.equal(again.statusCode, 200, again.body);
    assert.equal(await stored(), 5, 'each event stored once');
  });
});
