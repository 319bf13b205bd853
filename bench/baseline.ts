// The baseline: the same rows written straight into a bare events table, without HTTP, consent, identities or crypto.
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { encryptField } from '../src/crypto/envelope.ts';
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

/**
 * What a baseline writes besides the bare rows (the first is the targets' baseline, the others measure what bounds them):
 * - `bare`: the events table with its time-ordered key only;
 * - `indexed`: plus what every stored event needs in Fiducia's schema whatever else happens: the events table's subject
 *   index and the message id claimed for deduplication (`ingested_messages`, its primary key);
 * - `required`: plus the work the design asks for each event before it may be stored: the sender's identifier looked up
 *   by its blind index (HMAC-SHA256, then the `identities` key), and the payload encrypted with AES-256-GCM under its
 *   subject's data key, bound to subject and field (the envelope Fiducia uses). One identifier per event, every key
 *   already in memory: less than any real message costs;
 * - `writer` (SQLite): `required` with the HMACs and encryptions done before the clock starts, as if another core did
 *   them: what is left to the one connection that may write.
 */
export type BaselineLevel = 'bare' | 'indexed' | 'required' | 'writer';

/** The per-event work of the `required` level, in this process: identifiers and data keys made before the clock starts. */
class RequiredWork {
  readonly #indexKey = randomBytes(32);
  readonly #keys = new Map<string, Buffer>();

  constructor(rows: readonly RawRow[]) {
    for (const r of rows) if (!this.#keys.has(r.subject_id)) this.#keys.set(r.subject_id, randomBytes(32));
  }

  blindIndex(subjectId: string): Buffer {
    return createHmac('sha256', this.#indexKey).update(`userId\u0000${subjectId}`, 'utf8').digest();
  }

  /** The identities rows to create beforehand: one per subject. */
  identities(): [Buffer, string][] {
    return [...this.#keys.keys()].map((s) => [this.blindIndex(s), s]);
  }

  /** The payload sealed as Fiducia seals it; the raw row's bytes (as long as the message's JSON) stand in for the JSON. */
  seal(r: RawRow, eventId: string): Buffer {
    return encryptField(this.#keys.get(r.subject_id)!, 1, r.subject_id, `event:${eventId}`, r.payload_enc);
  }
}

const IDENTITIES_DDL = (blob: string) =>
  `CREATE TABLE identities (kind text NOT NULL, blind_index ${blob} NOT NULL, subject_id text NOT NULL, PRIMARY KEY (kind, blind_index))`;

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
 * better-sqlite3, WAL and synchronous = FULL like Fiducia, one prepared INSERT run 100 times per transaction; past
 * `bare`, `secure_delete` as Fiducia sets it.
 */
export function sqliteBaseline(rows: readonly RawRow[], maxSeconds: number, level: BaselineLevel = 'bare'): BaselineResult {
  const indexed = level !== 'bare';
  const required = level === 'required' || level === 'writer' ? new RequiredWork(rows) : null;
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
    if (required) {
      db.exec(IDENTITIES_DDL('blob'));
      const add = db.prepare("INSERT INTO identities (kind, blind_index, subject_id) VALUES ('userId', ?, ?)");
      db.transaction(() => {
        for (const [bi, s] of required.identities()) add.run(bi, s);
      })();
    }
    const insert = db.prepare(`INSERT INTO events (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`);
    const claim = indexed ? db.prepare('INSERT INTO ingested_messages (source_id, message_id, received_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING') : null;
    const lookup = required ? db.prepare("SELECT subject_id FROM identities WHERE kind = 'userId' AND blind_index = ?").pluck() : null;
    const sourceId = randomUUID();
    // `writer`: each row's id, blind index and sealed payload made now, before the clock starts.
    const made = new Map<RawRow, { id: string; bi: Buffer; sealed: Buffer }>();
    if (required && level === 'writer') {
      for (const r of rows) {
        const id = uuidv7();
        made.set(r, { id, bi: required.blindIndex(r.subject_id), sealed: required.seal(r, id) });
      }
    }
    const tx = db.transaction((part: readonly RawRow[], receivedAt: number) => {
      for (const r of part) {
        claim?.run(sourceId, r.message_id, receivedAt);
        const row = values(r, sourceId, receivedAt);
        if (required && lookup) {
          const pre = made.get(r);
          if (pre) row[0] = pre.id;
          const subject = lookup.get(pre?.bi ?? required.blindIndex(r.subject_id));
          if (subject !== r.subject_id) throw new Error('sqlite baseline: identity lookup missed');
          row[row.length - 1] = pre?.sealed ?? required.seal(r, row[0] as string);
        }
        insert.run(row);
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
 * Past `bare`, the deduplication rows are one more multi-row INSERT in the same transaction as the events, and at
 * `required` the 100 identifiers are looked up in one statement (`= ANY`) before them.
 */
export async function pgBaseline(url: string, rows: readonly RawRow[], maxSeconds: number, level: BaselineLevel = 'bare'): Promise<BaselineResult> {
  const indexed = level !== 'bare';
  const required = level === 'required' || level === 'writer' ? new RequiredWork(rows) : null;
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
    if (required) {
      await client.query(IDENTITIES_DDL('bytea'));
      const all = required.identities();
      for (let i = 0; i < all.length; i += 1000) {
        const part = all.slice(i, i + 1000);
        await client.query("INSERT INTO identities (kind, blind_index, subject_id) SELECT 'userId', * FROM unnest($1::bytea[], $2::text[])", [part.map((p) => p[0]), part.map((p) => p[1])]);
      }
      await client.query('ANALYZE identities');
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
      const rowValues = part.map((r) => values(r, sourceId, receivedAt));
      if (required) {
        const found = await client.query<{ subject_id: string }>("SELECT subject_id FROM identities WHERE kind = 'userId' AND blind_index = ANY($1::bytea[])", [part.map((r) => required.blindIndex(r.subject_id))]);
        const known = new Set(found.rows.map((f) => f.subject_id));
        part.forEach((r, i) => {
          if (!known.has(r.subject_id)) throw new Error('postgres baseline: identity lookup missed');
          const row = rowValues[i]!;
          row[row.length - 1] = required.seal(r, row[0] as string);
        });
      }
      await client.query(part.length === ROWS_PER_TX ? full : statement(part.length), rowValues.flat());
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
