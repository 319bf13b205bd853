// The baseline: the same rows written straight into a bare events table, without HTTP, consent, identities or crypto.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { uuidv7 } from '../src/domain/ids.ts';
import { dropPgSchema } from '../src/store/database.ts';
import type { RawRow } from './events.ts';

export interface BaselineResult {
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  stoppedByTime: boolean;
  /** CPU time of this process while inserting, per row (the database server's own CPU is not included on PostgreSQL). */
  cpuMicrosPerRow: number;
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

const ROWS_PER_TX = 100;

// The columns of Fiducia's `events` (src/store/schema.ts), with its time-ordered text primary key.
const COLUMNS = ['id', 'subject_id', 'source_id', 'message_id', 'type', 'event_name', 'category', 'purposes', 'categories', 'timestamp', 'received_at', 'payload_enc'] as const;

function ddl(blob: string): string {
  return `CREATE TABLE events (
    id text PRIMARY KEY, subject_id text NOT NULL, source_id text NOT NULL, message_id text NOT NULL, type text NOT NULL,
    event_name text, category text NOT NULL, purposes text NOT NULL, categories text NOT NULL,
    timestamp bigint NOT NULL, received_at bigint NOT NULL, payload_enc ${blob} NOT NULL)`;
}

function values(r: RawRow, sourceId: string, receivedAt: number): unknown[] {
  return [uuidv7(receivedAt), r.subject_id, sourceId, r.message_id, r.type, r.event_name, r.category, r.purposes, r.categories, r.timestamp, receivedAt, r.payload_enc];
}

/**
 * better-sqlite3, WAL and synchronous = FULL like Fiducia, one prepared INSERT run 100 times per transaction.
 * `indexed`: the part of Fiducia's own schema every stored event needs whatever else happens (not the baseline of the
 * targets, a measure of what bounds them): the events table's subject index, the message id claimed for deduplication
 * in `ingested_messages` (its primary key), and `secure_delete` as Fiducia sets it.
 */
export function sqliteBaseline(rows: readonly RawRow[], maxSeconds: number, indexed = false): BaselineResult {
  const dir = mkdtempSync(join(tmpdir(), 'fiducia-bench-raw-'));
  const db = new SQLite(join(dir, 'raw.db'));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('cache_size = -65536');
    db.exec(ddl('blob'));
    if (indexed) {
      db.pragma('secure_delete = ON');
      db.exec('CREATE INDEX events_subject ON events (subject_id, id)');
      db.exec('CREATE TABLE ingested_messages (source_id text NOT NULL, message_id text NOT NULL, received_at bigint NOT NULL, PRIMARY KEY (source_id, message_id))');
    }
    const insert = db.prepare(`INSERT INTO events (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`);
    const claim = indexed ? db.prepare('INSERT INTO ingested_messages (source_id, message_id, received_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING') : null;
    const sourceId = randomUUID();
    const tx = db.transaction((part: readonly RawRow[], receivedAt: number) => {
      for (const r of part) {
        claim?.run(sourceId, r.message_id, receivedAt);
        insert.run(values(r, sourceId, receivedAt));
      }
    });
    const started = performance.now();
    const cpu0 = cpuMicros();
    const deadline = started + maxSeconds * 1000;
    let done = 0;
    while (done < rows.length && performance.now() < deadline) {
      const part = rows.slice(done, done + ROWS_PER_TX);
      tx(part, Date.now());
      done += part.length;
    }
    const seconds = (performance.now() - started) / 1000;
    const cpu = cpuMicros() - cpu0;
    const stored = (db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
    if (stored !== done) throw new Error(`sqlite baseline stored ${stored} rows, expected ${done}`);
    return { rows: done, seconds, rowsPerSecond: done / seconds, stoppedByTime: done < rows.length, cpuMicrosPerRow: cpu / done };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * One connection, autocommit, one multi-row INSERT of 100 rows per statement, into a bare table in a fresh schema.
 * `indexed`: as for SQLite, the subject index and each message's deduplication row (one more multi-row INSERT, in the
 * same transaction as the events).
 */
export async function pgBaseline(url: string, rows: readonly RawRow[], maxSeconds: number, indexed = false): Promise<BaselineResult> {
  const schema = `bench_raw_${randomBytes(5).toString('hex')}`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA ${schema}`);
    await client.query(`SET search_path = ${schema}`);
    await client.query(ddl('bytea'));
    if (indexed) {
      await client.query('CREATE INDEX events_subject ON events (subject_id, id)');
      await client.query('CREATE TABLE ingested_messages (source_id text NOT NULL, message_id text NOT NULL, received_at bigint NOT NULL, PRIMARY KEY (source_id, message_id))');
    }
    const claims = (n: number) => `INSERT INTO ingested_messages (source_id, message_id, received_at) VALUES ${Array.from({ length: n }, (_, i) => `($${i * 3 + 1}, $${i * 3 + 2}, $${i * 3 + 3})`).join(', ')} ON CONFLICT DO NOTHING`;
    const statement = (n: number) => {
      const tuples = [];
      for (let i = 0; i < n; i++) tuples.push(`(${COLUMNS.map((_, c) => `$${i * COLUMNS.length + c + 1}`).join(', ')})`);
      return `INSERT INTO events (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`;
    };
    const full = statement(ROWS_PER_TX);
    const sourceId = randomUUID();
    const started = performance.now();
    const cpu0 = cpuMicros();
    const deadline = started + maxSeconds * 1000;
    let done = 0;
    while (done < rows.length && performance.now() < deadline) {
      const part = rows.slice(done, done + ROWS_PER_TX);
      const receivedAt = Date.now();
      if (indexed) {
        await client.query('BEGIN');
        await client.query(claims(part.length), part.flatMap((r) => [sourceId, r.message_id, receivedAt]));
      }
      await client.query(part.length === ROWS_PER_TX ? full : statement(part.length), part.flatMap((r) => values(r, sourceId, receivedAt)));
      if (indexed) await client.query('COMMIT');
      done += part.length;
    }
    const seconds = (performance.now() - started) / 1000;
    const cpu = cpuMicros() - cpu0;
    const stored = Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM events')).rows[0]?.n);
    if (stored !== done) throw new Error(`postgres baseline stored ${stored} rows, expected ${done}`);
    return { rows: done, seconds, rowsPerSecond: done / seconds, stoppedByTime: done < rows.length, cpuMicrosPerRow: cpu / done };
  } finally {
    await client.end();
    await dropPgSchema(url, schema);
  }
}
