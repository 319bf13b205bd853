// Segment cost on ingestion: the same shop traffic through POST /v1/batch with no segments, with definitions no event
// touches, and with the shipped definitions (which read Product Viewed and Order Completed), measured in one run.
// Also times a full recompute. In-process (app.inject), so absolute rates are below bench/ingest.ts; read the ratios.
import { pgReachable } from './common.ts';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parse, stringify } from 'yaml';
import { createFiducia, type Fiducia } from '../src/app.ts';
import { DEFAULT_CONFIG_PATH } from '../src/services/config/config-loader.ts';
import { dropPgSchema, type Dialect } from '../src/store/database.ts';
import { buildWorkload } from './events.ts';
import { BENCH_WRITE_KEY } from './protocol.ts';

const PG_URL = process.env.FIDUCIA_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const BATCHES = Number(process.env.SEGMENTS_BENCH_BATCHES ?? 300); // × 100 messages
const ROUNDS = Number(process.env.SEGMENTS_BENCH_ROUNDS ?? 3);
const WARMUP = 100;
const CONCURRENCY = 32;
const AUTH = `Basic ${Buffer.from(`${BENCH_WRITE_KEY}:`).toString('base64')}`;

type Variant = 'none' | 'untouched' | 'shipped';

function configFor(variant: Variant, dir: string): string {
  const doc = parse(readFileSync(DEFAULT_CONFIG_PATH, 'utf8')) as { segments?: { key: string }[] };
  if (variant === 'none') delete doc.segments;
  // A trait segment: the bench traffic never sends `newsletter`, so no commit has work for it.
  if (variant === 'untouched') doc.segments = (doc.segments ?? []).filter((s) => s.key === 'newsletter_subscribers');
  const file = join(dir, `fiducia-${variant}.yaml`);
  writeFileSync(file, stringify(doc));
  return file;
}


async function send(f: Fiducia, bodies: readonly string[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      const r = await f.app.inject({ method: 'POST', url: '/v1/batch', headers: { authorization: AUTH, 'content-type': 'application/json' }, payload: body });
      if (r.statusCode !== 200) throw new Error(`batch refused: ${r.statusCode} ${r.body}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

interface Sample {
  eventsPerSecond: number;
  /** CPU time of this process per event, µs (all of SQLite's work; on PostgreSQL the server's share is not in it). */
  cpuPerEvent: number;
  recomputeMs: number;
  members: number;
}

async function measure(dialect: Dialect, variant: Variant, dir: string): Promise<Sample> {
  const schema = `bench_seg_${randomBytes(4).toString('hex')}`;
  const dataDir = mkdtempSync(join(dir, `${dialect}-${variant}-`));
  const f = await createFiducia({
    dataDir,
    masterKey: randomBytes(32).toString('base64'),
    writeKey: BENCH_WRITE_KEY,
    configPath: configFor(variant, dir),
    logger: pino({ level: 'silent' }),
    auditCheckpointSeconds: 0,
    segmentRefreshMs: 0,
    ...(dialect === 'postgres' ? { databaseUrl: PG_URL, schema, keysSchema: `${schema}_keys` } : {}),
  });
  try {
    // The same seed every time: every variant ingests exactly the same messages.
    const w = buildWorkload(WARMUP + BATCHES, 20_000, 7);
    await send(f, w.bodies.slice(0, WARMUP));
    const measured = w.bodies.slice(WARMUP);
    const events = w.eventRows.slice(WARMUP).reduce((a, b) => a + b, 0);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await send(f, measured);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const r0 = performance.now();
    if (variant !== 'none') await f.segments.recompute();
    const recomputeMs = performance.now() - r0;
    const members = Number((await f.dbs.data.selectFrom('segment_members').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    return { eventsPerSecond: events / seconds, cpuPerEvent: (cpu.user + cpu.system) / events, recomputeMs, members };
  } finally {
    await f.close();
    rmSync(dataDir, { recursive: true, force: true });
    if (dialect === 'postgres') {
      await dropPgSchema(PG_URL, schema);
      await dropPgSchema(PG_URL, `${schema}_keys`);
    }
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export async function run(log: (line: string) => void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fiducia-bench-segments-'));
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const variants: Variant[] = ['none', 'untouched', 'shipped'];
  try {
    const dialects: Dialect[] = ['sqlite', ...((await pgReachable(PG_URL)) ? (['postgres'] as const) : [])];
    log(`segments on ingestion: ${fmt(BATCHES * 100)} messages per run (20,000 visitors), ${CONCURRENCY} concurrent requests, in-process; ${ROUNDS} interleaved rounds, medians`);
    for (const dialect of dialects) {
      const samples = new Map<Variant, Sample[]>(variants.map((v) => [v, []]));
      // Interleaved (A B C, B C A, …) so that a change in machine load does not favour one variant.
      for (let r = 0; r < ROUNDS; r++) for (let i = 0; i < variants.length; i++) {
        const v = variants[(i + r) % variants.length]!;
        samples.get(v)!.push(await measure(dialect, v, dir));
      }
      const m = (v: Variant, k: 'eventsPerSecond' | 'cpuPerEvent' | 'recomputeMs' | 'members') => median(samples.get(v)!.map((x) => x[k]));
      const base = { rate: m('none', 'eventsPerSecond'), cpu: m('none', 'cpuPerEvent') };
      const line = (label: string, v: Variant) =>
        `  ${dialect}: ${label.padEnd(28)} ${fmt(m(v, 'eventsPerSecond')).padStart(7)} events/s (${(m(v, 'eventsPerSecond') / base.rate).toFixed(2)}×), ${m(v, 'cpuPerEvent').toFixed(0)} µs CPU/event (${(m(v, 'cpuPerEvent') / base.cpu).toFixed(2)}×)`;
      log(line('no segments (baseline)', 'none'));
      log(line('a segment no event touches', 'untouched'));
      log(`${line('the 7 shipped definitions', 'shipped')}; ${fmt(m('shipped', 'members'))} memberships; full recompute ${fmt(m('shipped', 'recomputeMs'))} ms`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// `npx tsx bench/segments.ts` runs it alone.
if (import.meta.url === `file://${process.argv[1]}`) await run((l) => process.stdout.write(`${l}\n`));
