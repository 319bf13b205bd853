// Holds a Fiducia store's writes up from outside, as another process would: SQLite's write lock, taken in a child
// process (better-sqlite3 waits for a lock synchronously, so a holder in the test's own process could never let go),
// or, on PostgreSQL, a lock on the `events` table.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import type { Dialect } from '../../src/store/database.ts';
import { PG_URL, type StoreHandle } from './harness.ts';

/**
 * Takes the lock for `ms`; the function it gives back waits until the lock is let go (a function, not the promise
 * itself, which the caller's `await` would otherwise wait for).
 */
export async function holdWrites(dialect: Dialect, store: StoreHandle, ms: number): Promise<() => Promise<void>> {
  if (dialect === 'sqlite') {
    const script = `const db = new (require('better-sqlite3'))(process.argv[1]); db.exec('BEGIN IMMEDIATE'); process.stdout.write('locked\\n');
      setTimeout(() => { db.exec('COMMIT'); db.close(); }, Number(process.argv[2]));`;
    const child = spawn(process.execPath, ['-e', script, join(store.options.dataDir, 'fiducia.db'), String(ms)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<void>((resolve, reject) => child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`lock holder exited with ${code}`)))));
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.once('exit', () => reject(new Error('the lock holder did not take the lock')));
    });
    return () => exited;
  }
  const client = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${store.options.schema!}` });
  await client.connect();
  await client.query('begin');
  await client.query('lock table events in exclusive mode');
  const released = new Promise<void>((resolve, reject) => setTimeout(() => void client.query('commit').then(() => client.end()).then(resolve, reject), ms));
  return () => released;
}
