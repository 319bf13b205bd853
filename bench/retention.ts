// Retention sweep benchmark: rows deleted per second by one full sweep (as the `retention` job runs it), with anonymous
// aggregates off and on, beside a raw DELETE of the same rows in the same run. In-process, on SQLite and PostgreSQL.
// `npx tsx bench/retention.ts [--only sqlite|postgres] [--subjects N] [--cpu-prof DIR] [--sql-timing]`, or
// `npm run bench -- --suite retention` (RETENTION_BENCH_SUBJECTS sets the number of customers there).
import { injectBatches, pgReachable, runScript } from './common.ts';
import { summarizeProfile } from './profile.ts';
import { installSqlTiming, sqlTimings, type SqlTiming } from './sql-timing.ts';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { pino } from 'pino';
import { createFiducia, type Fiducia } from '../src/app.ts';
import { DEFAULT_CONFIG_PATH, loadPrivacyConfig } from '../src/services/config/config-loader.ts';
import { RetentionSweep, type RetentionReport } from '../src/services/retention/retention-sweep.ts';
import { dropPgSchema, type Dialect } from '../src/store/database.ts';

const PG_URL = process.env.FIDUCIA_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const WRITE_KEY = 'bench-write-key-0123456789';
const DAY = 86_400_000;
const EVENTS_PER_SUBJECT = 10;
/**
 * Customers by default: the number the first measurements used (when a sweep still cost tens of milliseconds per
 * subject), so that later runs compare with them; `--subjects` for more (docs/performance.md, "Retention sweep").
 */
const DEFAULT_SUBJECTS = Number(process.env.RETENTION_BENCH_SUBJECTS ?? 1_500);
/** The tables a sweep writes: copied once after the fill, put back before each measured phase. */
const RESTORED = ['events', 'traits', 'segment_states', 'segment_members'] as const;
const basic = { authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` };
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
/** A ratio readable however small: 0.42×, or 0.0012× (1/830). */
const times = (r: number) => (r >= 0.1 ? `${r.toFixed(2)}×` : `${r.toPrecision(2)}× (1/${fmt(1 / r)})`);

interface Phases {
  /** One DELETE per table (events, traits), in one transaction. */
  raw: Phase;
  /** The `retention` job, run once through the scheduler, with the shipped configuration (aggregates off). */
  sweep: Phase;
  /** A DELETE per subject and table, each in its own transaction: the sweep's page structure, without its checks. */
  paged: Phase;
  /** The same sweep with `retention: { aggregates: true }`. */
  sweepAggregates: Phase;
}

interface Phase {
  name: string;
  rows: number;
  seconds: number;
  /** CPU time of this process per deleted row, µs (on SQLite all of the work; on PostgreSQL the server's is not counted). */
  cpuMicrosPerRow: number;
}

// Shop traffic of one customer: identify (traits, consent to analytics and personalization) and ten events.
const EVENT_KINDS = ['view', 'view', 'view', 'view', 'view', 'page', 'page', 'add', 'add', 'order'] as const;
const CATEGORIES = ['shoes', 'bags', 'dresses', 'jackets', 'watches'];
const CONSENT = { categoryPreferences: { C0002: true, C0003: true } };

function identify(run: string, s: number): Record<string, unknown> {
  return {
    type: 'identify',
    userId: `cust-${s}`,
    anonymousId: `${run}-a${s}`,
    messageId: `${run}-i${s}`,
    traits: { email: `customer.${s}@example.com`, firstName: 'Giulia', lastName: 'Rossi', favoriteCategory: CATEGORIES[s % CATEGORIES.length], age: 20 + (s % 50) },
    context: { ip: `10.${(s >> 16) & 255}.${(s >> 8) & 255}.${s & 255}`, userAgent: 'Mozilla/5.0 (Android 14) Chrome/124 Mobile', locale: 'it-IT', consent: CONSENT },
  };
}

function shopEvent(run: string, s: number, k: number): Record<string, unknown> {
  const kind = EVENT_KINDS[k % EVENT_KINDS.length]!;
  const product = `sku-${(s * 7 + k) % 5000}`;
  const category = CATEGORIES[(s + k) % CATEGORIES.length]!;
  const base = { userId: `cust-${s}`, messageId: `${run}-e${s}-${k}`, context: { ip: `10.${(s >> 16) & 255}.${(s >> 8) & 255}.${s & 255}`, locale: 'it-IT', page: { path: `/p/${product}` }, consent: CONSENT } };
  if (kind === 'page') return { type: 'page', name: 'Category', properties: { path: `/c/${category}`, title: `${category} | Shop` }, ...base };
  if (kind === 'view') return { type: 'track', event: 'Product Viewed', properties: { product_id: product, category, price: 79.9 }, ...base };
  if (kind === 'add') return { type: 'track', event: 'Product Added', properties: { product_id: product, price: 79.9, quantity: 1 }, ...base };
  return { type: 'track', event: 'Order Completed', properties: { order_id: `o-${s}-${k}`, total: 120.5, currency: 'EUR', products: [{ product_id: product }] }, ...base };
}

/**
 * `subjects` customers through POST /v1/batch, the real ingestion path: each an identify (a userId from a server source,
 * an asserted identity, so the sweep keeps the subject and deletes only its rows) and EVENTS_PER_SUBJECT events.
 */
async function fill(f: Fiducia, subjects: number): Promise<void> {
  const run = randomBytes(3).toString('hex');
  const messages: Record<string, unknown>[] = [];
  for (let s = 0; s < subjects; s++) {
    messages.push(identify(run, s));
    for (let k = 0; k < EVENTS_PER_SUBJECT; k++) messages.push(shopEvent(run, s, k));
  }
  const batches: Record<string, unknown>[][] = [];
  for (let i = 0; i < messages.length; i += 100) batches.push(messages.slice(i, i + 100));
  await injectBatches(f, batches, basic);
}

/** Tables the sweep reads without writing them: PostgreSQL analyzes them once after the fill (see `snapshot`). */
const READ_ONLY = ['subjects', 'identities', 'consents', 'objections', 'legal_holds', 'rights_packages'] as const;

/**
 * A copy of each table the sweep writes, taken once after the fill. PostgreSQL then analyzes the tables the sweep only
 * reads (`restore` analyzes the others): a table filled seconds ago without statistics is planned as if it were tiny
 * (for consents, a parallel scan of every row for each page), which autovacuum would long have fixed in a store that
 * is swept.
 */
async function snapshot(f: Fiducia): Promise<void> {
  for (const t of RESTORED) await sql`create table ${sql.id(`bench_copy_${t}`)} as select * from ${sql.id(t)}`.execute(f.dbs.data);
  if (f.dbs.raw.dialect === 'postgres') for (const t of READ_ONLY) await sql`analyze ${sql.id(t)}`.execute(f.dbs.data);
}

/**
 * Puts the filled state back (every measured phase starts from the same rows, restored the same way), then settles the
 * database: PostgreSQL vacuums and analyzes what changed (autovacuum would otherwise wake in the middle of a phase),
 * SQLite checkpoints its WAL.
 */
async function restore(f: Fiducia): Promise<void> {
  await f.dbs.data.transaction().execute(async (trx) => {
    await sql`delete from retention_aggregates`.execute(trx);
    for (const t of RESTORED) {
      await sql`delete from ${sql.id(t)}`.execute(trx);
      await sql`insert into ${sql.id(t)} select * from ${sql.id(`bench_copy_${t}`)}`.execute(trx);
    }
  });
  const raw = f.dbs.raw;
  if (raw.dialect === 'sqlite') raw.db.pragma('wal_checkpoint(TRUNCATE)');
  else for (const t of [...RESTORED, 'retention_aggregates']) await sql`vacuum (analyze) ${sql.id(t)}`.execute(f.dbs.data);
}

async function counted(f: Fiducia): Promise<{ events: number; traits: number }> {
  const n = async (t: 'events' | 'traits') => Number((await f.dbs.data.selectFrom(t).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  return { events: await n('events'), traits: await n('traits') };
}

/** Where `--cpu-prof` writes the profiles of the sweeps (nothing else is profiled); undefined: not profiled. */
let profileDir: string | undefined;
/** `--sql-timing`: the statements of the first sweep, per shape (bench/sql-timing.ts). */
let sqlTiming = false;

/** Statements run since `before` (a sqlTimings() result), costliest first. */
function sqlSince(before: readonly SqlTiming[]): SqlTiming[] {
  const seen = new Map(before.map((t) => [t.sql, t]));
  return sqlTimings()
    .map((t) => ({ sql: t.sql, count: t.count - (seen.get(t.sql)?.count ?? 0), ms: t.ms - (seen.get(t.sql)?.ms ?? 0) }))
    .filter((t) => t.count > 0)
    .sort((a, b) => b.ms - a.ms);
}

/** Wall time and this process's CPU time of `fn`, which returns how many rows it deleted; `profile`: a CPU profile of it. */
async function timed(name: string, fn: () => Promise<number>, profile?: string): Promise<Phase> {
  const session = profile && profileDir ? new Session() : undefined;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  const cpu0 = process.cpuUsage();
  const t = performance.now();
  const rows = await fn();
  const seconds = (performance.now() - t) / 1000;
  const cpu = process.cpuUsage(cpu0);
  if (session && profile && profileDir) {
    const { profile: data } = await session.post('Profiler.stop');
    session.disconnect();
    const file = join(profileDir, `${profile}.cpuprofile`);
    writeFileSync(file, JSON.stringify(data));
    process.stdout.write(`${summarizeProfile(file, 25)}\n`);
  }
  return { name, rows, seconds, cpuMicrosPerRow: (cpu.user + cpu.system) / Math.max(rows, 1) };
}

/** Deleted rows, checked against what was there: a phase that deleted less than the others would be flattered. */
function checked(name: string, deleted: { events: number; traits: number }, expected: { events: number; traits: number }): number {
  if (deleted.events !== expected.events || deleted.traits !== expected.traits) {
    throw new Error(`${name} deleted ${deleted.events} events and ${deleted.traits} traits, expected ${expected.events} and ${expected.traits}`);
  }
  return deleted.events + deleted.traits;
}

const swept = (r: Pick<RetentionReport, 'eventsDeleted' | 'traitsDeleted'>) => ({ events: r.eventsDeleted, traits: r.traitsDeleted });

async function benchDialect(dialect: Dialect, subjects: number, log: (line: string) => void): Promise<Phases> {
  const dir = mkdtempSync(join(tmpdir(), 'fiducia-bench-retention-'));
  const schema = `bench_retention_${randomBytes(4).toString('hex')}`;
  const store = dialect === 'sqlite' ? {} : { databaseUrl: PG_URL, schema, keysSchema: `${schema}_keys` };
  // The same configuration with anonymous aggregates on (docs/retention.md), for the second sweep.
  const aggregatesConfig = join(dir, 'fiducia-aggregates.yaml');
  writeFileSync(aggregatesConfig, `${readFileSync(DEFAULT_CONFIG_PATH, 'utf8')}\nretention:\n  aggregates: true\n`);
  let offset = 0;
  const now = () => Date.now() + offset;
  const f = await createFiducia({
    dataDir: dir,
    ...store,
    masterKey: randomBytes(32).toString('base64'),
    writeKey: WRITE_KEY,
    logger: pino({ level: 'silent' }),
    retentionClock: now,
    retentionSweepMinutes: 0,
    auditCheckpointSeconds: 0,
    rightsSweepMs: 0,
    segmentRefreshMs: 0,
  });
  try {
    const t = performance.now();
    await fill(f, subjects);
    const expected = await counted(f);
    await snapshot(f);
    log(`   ${dialect}: filled ${fmt(subjects)} customers, ${fmt(expected.events)} events and ${fmt(expected.traits)} traits in ${((performance.now() - t) / 1000).toFixed(1)} s (not measured)`);
    // Past the longest period in the configuration: every row is due, as `expired`.
    const longest = Math.max(...f.cfg.config.purposes.map((p) => p.retentionDays));
    offset = (longest + 1) * DAY;
    const cutoff = now();

    await restore(f);
    const raw = await timed('raw DELETE, one statement per table', async () => {
      const n = await f.dbs.data.transaction().execute(async (trx) => {
        const events = await trx.deleteFrom('events').where('received_at', '<', cutoff).executeTakeFirst();
        const traits = await trx.deleteFrom('traits').where('updated_at', '<', cutoff).executeTakeFirst();
        return { events: Number(events.numDeletedRows), traits: Number(traits.numDeletedRows) };
      });
      return checked('the raw DELETE', n, expected);
    });

    await restore(f);
    const sql0 = sqlTiming ? sqlTimings() : [];
    const sweep = await timed(
      'sweep, aggregates off',
      async () => {
        const r = await f.jobs.runOnce('retention');
        if (r.outcome !== 'ok') throw new Error(`the sweep ended ${r.outcome}: ${r.error ?? ''}`);
        return checked('the sweep', swept(r.counts as unknown as RetentionReport), expected);
      },
      `${dialect}-sweep`,
    );
    if (sqlTiming) {
      const shapes = sqlSince(sql0);
      const count = shapes.reduce((a, x) => a + x.count, 0);
      log(`   ${dialect}: the sweep ran ${fmt(count)} statements (${(count / subjects).toFixed(1)} per subject) in ${(shapes.reduce((a, x) => a + x.ms, 0) / 1000).toFixed(2)} s:`);
      for (const x of shapes.slice(0, 25)) log(`   ${(x.ms / 1000).toFixed(2).padStart(7)} s ${(x.count / subjects).toFixed(2).padStart(6)}/subject  ${x.sql}`);
    }

    await restore(f);
    const paged = await timed("raw DELETE per subject and table, a transaction each (the sweep's pages)", async () => {
      const n = { events: 0, traits: 0 };
      let after: string | null = null;
      for (;;) {
        let q = f.dbs.data.selectFrom('subjects').select('id').orderBy('id').limit(200);
        if (after !== null) q = q.where('id', '>', after);
        const ids = (await q.execute()).map((r) => r.id);
        for (const id of ids) {
          for (const table of ['events', 'traits'] as const) {
            const r = await f.dbs.data.transaction().execute((trx) => trx.deleteFrom(table).where('subject_id', '=', id).executeTakeFirst());
            n[table] += Number(r.numDeletedRows);
          }
        }
        if (ids.length < 200) return checked('the paged DELETE', n, expected);
        after = ids[ids.length - 1]!;
      }
    });

    await restore(f);
    // Built as src/app.ts builds the job's sweep, with the configuration that keeps aggregates.
    const withAggregates = new RetentionSweep({ db: f.dbs.store, ring: f.ring, cfg: loadPrivacyConfig(aggregatesConfig), audit: f.audit, segments: f.segments, plaintext: f.readCache, logger: f.logger, now });
    const sweepAggregates = await timed('sweep, aggregates on', async () => checked('the sweep', swept(await withAggregates.run()), expected), `${dialect}-sweep-aggregates`);
    for (const p of [raw, sweep, paged, sweepAggregates]) {
      log(`   ${dialect}: ${p.name}: ${fmt(p.rows)} rows in ${p.seconds.toFixed(2)} s, ${fmt(p.rows / p.seconds)} rows/s, CPU of this process ${p.cpuMicrosPerRow.toFixed(1)} µs/row`);
    }
    return { raw, sweep, paged, sweepAggregates };
  } finally {
    await f.close();
    rmSync(dir, { recursive: true, force: true });
    if (dialect === 'postgres') {
      await dropPgSchema(PG_URL, schema);
      await dropPgSchema(PG_URL, `${schema}_keys`);
    }
  }
}

export async function run(log: (line: string) => void, opts: { only?: Dialect; subjects?: number } = {}): Promise<void> {
  const [one] = loadavg();
  const subjects = opts.subjects ?? DEFAULT_SUBJECTS;
  if (!Number.isInteger(subjects) || subjects < 1) throw new Error('the number of customers (--subjects, RETENTION_BENCH_SUBJECTS) must be a positive integer');
  log(`== retention sweep: ${fmt(subjects)} customers × (${EVENTS_PER_SUBJECT} events + 5 traits) through /v1/batch, every row past its period; node ${process.version}, ${cpus().length} CPUs, load average ${(one ?? 0).toFixed(2)}${(one ?? 0) > cpus().length * 0.5 ? ' (busy machine: figures low and noisy)' : ''}`);
  for (const dialect of ['sqlite', 'postgres'] as const) {
    if (opts.only && opts.only !== dialect) continue;
    if (dialect === 'postgres' && !(await pgReachable(PG_URL))) {
      log(`   postgres: ${PG_URL} is not reachable, skipped`);
      continue;
    }
    const { raw, sweep, paged, sweepAggregates } = await benchDialect(dialect, subjects, log);
    const rate = (p: Phase) => p.rows / p.seconds;
    const cpu = (p: Phase) => `${p.cpuMicrosPerRow.toFixed(1)} µs`;
    const server = dialect === 'postgres' ? ' (PostgreSQL server CPU not counted)' : '';
    log(
      `${dialect.padEnd(8)} sweep ${fmt(rate(sweep))} rows/s (aggregates on: ${fmt(rate(sweepAggregates))}) | raw DELETE, one statement per table: ${fmt(rate(raw))} rows/s | ` +
        `ratio ${times(rate(sweep) / rate(raw))}, aggregates on ${times(rate(sweepAggregates) / rate(raw))}`,
    );
    log(`         raw DELETE per subject and table, a transaction each (the sweep's pages): ${fmt(rate(paged))} rows/s; the sweep is ${times(rate(sweep) / rate(paged))} that`);
    log(`         CPU of this process per deleted row${server}: sweep ${cpu(sweep)}, with aggregates ${cpu(sweepAggregates)}, raw DELETE ${cpu(raw)}, per subject ${cpu(paged)}`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { only: { type: 'string' }, subjects: { type: 'string' }, 'cpu-prof': { type: 'string' }, 'sql-timing': { type: 'boolean' } } });
  profileDir = values['cpu-prof'];
  sqlTiming = values['sql-timing'] ?? false;
  if (sqlTiming) installSqlTiming();
  runScript('bench/retention.ts', 600_000, () =>
    run((line) => void process.stdout.write(`${line}\n`), {
      only: values.only === 'sqlite' || values.only === 'postgres' ? values.only : undefined,
      subjects: values.subjects ? Number(values.subjects) : undefined,
    }),
  );
}
