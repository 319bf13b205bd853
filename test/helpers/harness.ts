// Test harness: runs a suite once per database (SQLite in a temp folder, PostgreSQL in fresh schemas).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { describe } from 'node:test';
import pg from 'pg';
import { pino } from 'pino';
import { createFiducia, type Fiducia, type FiduciaOptions } from '../../src/app.ts';
import { dropPgSchema, type Dialect } from '../../src/store/database.ts';

export const PG_URL = process.env.FIDUCIA_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const ADMIN_TOKEN = 'test-admin-token-0123456789';
export const WRITE_KEY = 'test-write-key-0123456789';

let pgReachable: Promise<boolean> | undefined;

async function probePostgres(): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The dialects to run: both, unless FIDUCIA_TEST_DIALECTS narrows it (locally only). */
export async function dialects(): Promise<{ dialect: Dialect; skip: string | false }[]> {
  const wanted = (process.env.FIDUCIA_TEST_DIALECTS ?? 'sqlite,postgres').split(',').map((s) => s.trim());
  const out: { dialect: Dialect; skip: string | false }[] = [];
  if (wanted.includes('sqlite')) out.push({ dialect: 'sqlite', skip: false });
  if (wanted.includes('postgres')) {
    pgReachable ??= probePostgres();
    if (await pgReachable) out.push({ dialect: 'postgres', skip: false });
    else if (process.env.FIDUCIA_REQUIRE_POSTGRES === '1') {
      throw new Error(`PostgreSQL is required (FIDUCIA_REQUIRE_POSTGRES=1) but ${PG_URL} is not reachable`);
    } else {
      const msg = `PostgreSQL at ${PG_URL} is not reachable: the PostgreSQL half of this suite is skipped`;
      process.stderr.write(`# ${msg}\n`);
      out.push({ dialect: 'postgres', skip: msg });
    }
  }
  return out;
}

export interface StoreHandle {
  dialect: Dialect;
  options: FiduciaOptions;
  /** Removes the temp folder or the PostgreSQL schemas. */
  cleanup(): Promise<void>;
}

/** Fresh, empty storage for one test. */
export function freshStore(dialect: Dialect, extra: Partial<FiduciaOptions> = {}): StoreHandle {
  const dataDir = mkdtempSync(join(tmpdir(), 'fiducia-test-'));
  const masterKey = randomBytes(32).toString('base64');
  const base: FiduciaOptions = { dataDir, masterKey, adminToken: ADMIN_TOKEN, writeKey: WRITE_KEY, logger: pino({ level: 'silent' }) };
  if (dialect === 'sqlite') {
    return {
      dialect,
      options: { ...base, ...extra },
      async cleanup() {
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  const schema = `t_${randomBytes(6).toString('hex')}`;
  return {
    dialect,
    options: { ...base, databaseUrl: PG_URL, schema, keysSchema: `${schema}_keys`, ...extra },
    async cleanup() {
      await dropPgSchema(PG_URL, schema);
      await dropPgSchema(PG_URL, `${schema}_keys`);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A running Fiducia (not listening; use `app.inject`) on fresh storage. */
export async function startFiducia(dialect: Dialect, extra: Partial<FiduciaOptions> = {}): Promise<Fiducia & { store: StoreHandle; stop(): Promise<void> }> {
  const store = freshStore(dialect, extra);
  const f = await createFiducia(store.options);
  return Object.assign(f, {
    store,
    async stop() {
      await f.close();
      await store.cleanup();
    },
  });
}

/** `describe` once per dialect. */
export async function eachDialect(name: string, fn: (dialect: Dialect) => void): Promise<void> {
  for (const { dialect, skip } of await dialects()) {
    await describe(`${name} [${dialect}]`, { skip }, () => fn(dialect));
  }
}

export function basicAuth(writeKey = WRITE_KEY): string {
  return `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
}

/** The environment a `fiducia` subprocess gets for these options, nothing inherited that could point elsewhere. */
export function cliEnv(o: FiduciaOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'silent' };
  for (const k of Object.keys(env)) if (k.startsWith('FIDUCIA_') || k === 'DATABASE_URL') delete env[k];
  env.FIDUCIA_DATA_DIR = o.dataDir;
  if (o.masterKey) env.FIDUCIA_MASTER_KEY = o.masterKey;
  if (o.databaseUrl) env.DATABASE_URL = o.databaseUrl;
  if (o.schema) env.FIDUCIA_DB_SCHEMA = o.schema;
  if (o.keysSchema) env.FIDUCIA_KEYS_SCHEMA = o.keysSchema;
  return env;
}

/** A TCP port free on 127.0.0.1 right now (for a child process to listen on). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}
