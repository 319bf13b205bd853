// Ingestion benchmark: Fiducia's POST /v1/batch against a raw insert of the same rows, on SQLite and PostgreSQL.
// `npm run bench [-- --only sqlite|postgres] [--workload first|steady|both] [--events N] [--connections C] [--cpu-prof]`; see --help.
import { pgReachable } from './common.ts';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Dialect } from '../src/store/database.ts';
import { pgBaseline, sqliteBaseline, type BaselineLevel, type BaselineResult } from './baseline.ts';
import { BATCH_SIZE, buildSeed, buildWorkload, STEADY_TRAIT_CHANGE, type Workload, type WorkloadKind } from './events.ts';
import { countsAddUp, runLoad, startServer, type BenchServer, type LoadResult, type Percentiles } from './ingest.ts';
import { summarizeProfile } from './profile.ts';
import type { ServerStats } from './protocol.ts';

/** The Speed issue's target: Fiducia at a quarter of a bare insert of the same rows, measured in the same run (both databases). */
const TARGET_RATIO = 0.25;
/** Answered batches at the saturation rate (backpressure). */
const TARGET_ANSWERED_P99_MS = 1000;
/**
 * The whole run stops by itself before this, whatever happens: a fixed part (building the workloads) and, per
 * workload and database, its measured phase plus what it takes around it (server start and stop, seeding, warm-up,
 * requests in flight at the bound, raw-insert baseline), with room to spare on a busy machine.
 */
const watchdogMs = (runs: number, maxSeconds: number) => Math.max(175_000, 60_000 + runs * (maxSeconds * 1000 + 75_000));
/** Time bound of the seeding of a steady workload (every message of it is a first sighting, the slowest traffic). */
const SEED_MAX_SECONDS = 60;
const LABEL: Record<WorkloadKind, string> = { first: 'first-sighting', steady: 'steady' };

const HELP = `npm run bench -- [options]
  --only sqlite|postgres   one database only (default: both)
  --events N               measured events per database and workload (default 300000)
  --warmup N               events sent before measuring (default 10000)
  --subjects N             distinct visitors, at least 10000 (default 20000)
  --workload first|steady|both
                           first: visitors new to the server, whose first messages fall in the measured phase;
                           steady: returning visitors, each seen once beforehand (a seeding phase, not measured);
                           both (default): first then steady, each with its own server and raw-insert baseline
  --connections N          concurrent HTTP connections, one request at a time each; a batch refused with 429
                           is sent again after its Retry-After, as the SDKs do (default 32)
  --max-seconds S          time bound of each measured phase: no request starts after it (default 30)
  --cpu-prof               profile the Fiducia process and print its hottest functions
  --sql-timing             time each SQL statement shape in the Fiducia process and print the costliest
PostgreSQL: FIDUCIA_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test).
The server's backpressure bound: FIDUCIA_INGEST_MAX_QUEUE_MS (default 100).`;

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    workload: { type: 'string', default: 'both' },
    events: { type: 'string', default: '300000' },
    warmup: { type: 'string', default: '10000' },
    subjects: { type: 'string', default: '20000' },
    connections: { type: 'string', default: '32' },
    'max-seconds': { type: 'string', default: '30' },
    'cpu-prof': { type: 'boolean', default: false },
    'sql-timing': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

class UsageError extends Error {}

function positive(name: string, v: string, min = 1): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}`);
  return n;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const log = (s = ''): void => void process.stdout.write(`${s}\n`);

interface Outcome {
  dialect: Dialect;
  workload: WorkloadKind;
  load: LoadResult;
  baseline: BaselineResult;
  /** The same rows with the subject index and deduplication row every stored event needs (what bounds the ratio). */
  indexed: BaselineResult;
  required: BaselineResult;
  /** SQLite: `required` with the crypto done beforehand (what another core could take off the writer). */
  writer: BaselineResult | null;
  stats: ServerStats;
  expectedRows: number;
  /** Rows of `subjects`, `identities` and `consents` the measured phase added. */
  created: { subjects: number; identities: number; consents: number };
  /** Server CPU per accepted event during the measured phase. */
  serverCpuMicrosPerEvent: number;
}

let current: BenchServer | null = null;

const ms = (p: Percentiles) => `p50 ${fmt(p.p50)} ms, p99 ${fmt(p.p99)} ms, max ${fmt(p.max)} ms`;

/** What a load did besides its 200s: refusals and retries, and the first body of each other answer or error. */
function loadLine(r: LoadResult): string {
  const also = Object.entries(r.samples).map(([k, v]) => `\n     ${k}: ${v.replace(/\s+/g, ' ').slice(0, 200)}`).join('');
  return `refusals (429) ${fmt(r.refusals)}, retries ${fmt(r.retries)} (at most ${r.maxAttempts} requests for one batch), still refused at the time bound ${r.refusedAtEnd}; other non-200 answers or errors ${r.batchesFailed}${also}`;
}

async function benchDialect(dialect: Dialect, w: Workload, warmupBatches: number, opts: { pgUrl: string; connections: number; maxSeconds: number; cpuProfDir?: string | undefined; sqlTiming: boolean }): Promise<Outcome> {
  log(`\n== ${dialect}, ${LABEL[w.kind]}: starting Fiducia in a child process`);
  const server = await startServer(dialect, opts);
  current = server;
  let load: LoadResult;
  let stats: ServerStats;
  let expectedRows: number;
  let cpuPerEvent: number;
  let created: Outcome['created'];
  try {
    let seedRows = 0;
    if (w.kind === 'steady') {
      const seed = buildSeed(w.visitors);
      const r = await runLoad(server.port, seed.bodies, seed.eventRows, opts.connections, SEED_MAX_SECONDS);
      seedRows = r.eventRowsOk;
      const all = r.batchesOk === seed.bodies.length;
      log(`   seed (not measured): ${fmt(seed.messages)} visitors in ${seed.bodies.length} batches, ${r.batchesOk} acknowledged in ${r.seconds.toFixed(1)} s; ${loadLine(r)}${all ? '' : `\n   SEED INCOMPLETE: some visitors of the measured phase are new to the server`}`);
    }
    let warmRows = 0;
    if (warmupBatches > 0) {
      const warm = await runLoad(server.port, w.bodies.slice(0, warmupBatches), w.eventRows.slice(0, warmupBatches), opts.connections, 15);
      warmRows = warm.eventRowsOk;
      log(`   warm-up: ${fmt(warm.eventsOk)} events in ${warm.seconds.toFixed(1)} s, answers ${JSON.stringify(warm.statusCodes)}; ${loadLine(warm)}`);
    }
    const measured = w.bodies.slice(warmupBatches);
    log(`   measuring: ${fmt(measured.length * BATCH_SIZE)} events in ${measured.length} batches over ${opts.connections} connections (≤ ${opts.maxSeconds} s)`);
    const before = await server.stats();
    load = await runLoad(server.port, measured, w.eventRows.slice(warmupBatches), opts.connections, opts.maxSeconds);
    stats = await server.stats();
    cpuPerEvent = (stats.cpuMicros - before.cpuMicros) / Math.max(load.eventsOk, 1);
    expectedRows = seedRows + warmRows + load.eventRowsOk;
    const added = (t: string) => (stats.tables[t] ?? 0) - (before.tables[t] ?? 0);
    created = { subjects: added('subjects'), identities: added('identities'), consents: added('consents') };
    if (stats.sql) {
      const total = stats.sql.reduce((a, t) => a + t.ms, 0);
      log(`   SQL time in the server (${w.kind === 'steady' ? 'seed + ' : ''}warm-up + measured): ${(total / 1000).toFixed(1)} s over ${fmt(stats.sql.reduce((a, t) => a + t.count, 0))} statements; costliest shapes:`);
      for (const t of stats.sql.slice(0, 14)) log(`   ${(t.ms / 1000).toFixed(2).padStart(7)} s ${String(t.count).padStart(7)}×  ${t.sql}`);
    }
  } finally {
    await server.stop();
    current = null;
  }
  // The same rows as the measured batches, written raw (after the server stopped, so nothing competes for CPU).
  const rows = w.rows.slice(warmupBatches * BATCH_SIZE, (warmupBatches + Math.max(load.batchesOk, 1)) * BATCH_SIZE);
  log(`   raw insert baseline: ${fmt(rows.length)} rows`);
  const baseline = dialect === 'sqlite' ? sqliteBaseline(rows, 20) : await pgBaseline(opts.pgUrl, rows, 20);
  const floor = (level: BaselineLevel) => (dialect === 'sqlite' ? sqliteBaseline(rows, 20, level) : pgBaseline(opts.pgUrl, rows, 20, level));
  const indexed = await floor('indexed');
  const required = await floor('required');
  const writer = dialect === 'sqlite' ? sqliteBaseline(rows, 20, 'writer') : null;
  return { dialect, workload: w.kind, load, baseline, indexed, required, writer, stats, expectedRows, created, serverCpuMicrosPerEvent: cpuPerEvent };
}

function report(o: Outcome): string[] {
  const eps = o.load.eventsPerSecond;
  const ratio = eps / o.baseline.rowsPerSecond;
  const why: string[] = [];
  if (ratio < TARGET_RATIO) why.push(`ratio ${(ratio * 100).toFixed(1)}% < ${TARGET_RATIO * 100}%`);
  if (o.load.answered.p99 > TARGET_ANSWERED_P99_MS) why.push(`answered p99 ${fmt(o.load.answered.p99)} ms > ${fmt(TARGET_ANSWERED_P99_MS)} ms`);
  const target = `target ratio ≥${TARGET_RATIO * 100}% & answered p99 ≤${fmt(TARGET_ANSWERED_P99_MS)} ms`;
  const verdict = why.length === 0 ? 'MET' : `MISSED (${why.join('; ')})`;
  const s = o.stats;
  const l = o.load;
  const stored = s.tables.events ?? 0;
  const flush = s.flushes && s.flushes.count > 0
    ? `${fmt(s.flushes.count)} group commits (incl. ${o.workload === 'steady' ? 'seed and ' : ''}warm-up), avg ${((s.flushes.seconds / s.flushes.count) * 1000).toFixed(0)} ms and ${((s.tables.ingested_messages ?? 0) / BATCH_SIZE / s.flushes.count).toFixed(1)} batches each, ${s.flushes.overOneSecond} over 1 s; ` +
      `event-loop stalls over 250 ms: ${s.stalls.count}${s.stalls.count > 0 ? ` (longest ${fmt(s.stalls.longestMs)} ms, ${fmt(s.stalls.totalMs)} ms in all)` : ''}; garbage collection ${fmt(s.gc.totalMs)} ms in all, longest pause ${fmt(s.gc.longestMs)} ms`
    : 'group commits: n/a';
  const droppedMsgs = Object.entries(s.messages).filter(([k]) => !k.endsWith('/stored')).map(([k, v]) => `${k}=${v}`);
  const droppedFields = Object.entries(s.dropped).map(([k, v]) => `${k}=${v}`);
  const c = o.created;
  return [
    `${o.dialect.padEnd(8)} ${LABEL[o.workload]}: fiducia /v1/batch: ${fmt(eps)} events/s (answered batches: ${ms(l.answered)}) | raw insert: ${fmt(o.baseline.rowsPerSecond)} rows/s | ratio ${(ratio * 100).toFixed(1)}% | ${target}: ${verdict}`,
    `         batches: ${l.batchesOk}/${l.batchesSent} answered 200 in ${l.seconds.toFixed(1)} s over ${fmt(l.requests)} requests; answers ${JSON.stringify(l.statusCodes)} (429: refused by backpressure, not stored, sent again after Retry-After); all answers p99 ${fmt(l.latency.p99)} ms; errors ${l.errors}, timeouts ${l.timeouts}${l.stoppedByTime ? '; STOPPED BY TIME BOUND' : ''}`,
    `         ${loadLine(l)}; counts ${countsAddUp(l) ? 'add up' : 'DO NOT ADD UP'}`,
    `         delivered (first attempt to 200, refusals and waits included): ${ms(l.delivered)}`,
    `         stored: events ${fmt(stored)} (expected ${fmt(o.expectedRows)} from answered batches: ${stored >= o.expectedRows ? 'ok' : 'MISSING ROWS'}), subjects ${fmt(s.tables.subjects ?? 0)}, identities ${fmt(s.tables.identities ?? 0)}, traits ${fmt(s.tables.traits ?? 0)}, consents ${fmt(s.tables.consents ?? 0)}, messageIds ${fmt(s.tables.ingested_messages ?? 0)}`,
    `         added by the measured phase: subjects ${fmt(c.subjects)}, identities ${fmt(c.identities)}, consents ${fmt(c.consents)}`,
    `         ${flush}; merges ${s.identity.merge ?? 0}; messages not stored: ${droppedMsgs.join(', ') || 'none'}; dropped fields: ${droppedFields.join(', ') || 'none'}`,
    `         cpu: fiducia server ${o.serverCpuMicrosPerEvent.toFixed(0)} µs/event (≈ ${fmt(1e6 / o.serverCpuMicrosPerEvent)} events per CPU-second); raw insert ${o.baseline.cpuMicrosPerRow.toFixed(1)} µs/row in the client${o.dialect === 'postgres' ? ' (PostgreSQL server CPU not counted)' : ''}; load generator ${(l.cpuMicros / Math.max(l.requests, 1)).toFixed(0)} µs/request (${((100 * l.cpuMicros) / 1e6 / l.seconds).toFixed(1)}% of a core)`,
    `         raw insert: ${fmt(o.baseline.rows)} rows in ${o.baseline.seconds.toFixed(2)} s${o.baseline.stoppedByTime ? ' (STOPPED BY TIME BOUND)' : ''}`,
    `         what bounds the ratio: the same rows with the events table's subject index and each message's deduplication row, as Fiducia must write them: ${floorLine(o, o.indexed)}`,
    `         and with the work each event requires before it is stored (its identifier looked up by blind index, its payload sealed under its subject's key): ${floorLine(o, o.required)}`,
    ...(o.writer ? [`         the same with the HMACs and encryptions made beforehand, as if another core made them (what the one SQLite writer must still do): ${floorLine(o, o.writer)}`] : []),
  ];
}

function floorLine(o: Outcome, floor: BaselineResult): string {
  const share = (floor.rowsPerSecond / o.baseline.rowsPerSecond) * 100;
  return `${fmt(floor.rowsPerSecond)} rows/s, ${floor.cpuMicrosPerRow.toFixed(1)} µs of CPU per row in the client (${share.toFixed(0)}% of the raw insert${share < TARGET_RATIO * 100 ? ', under the target' : ''}; Fiducia ${((o.load.eventsPerSecond / floor.rowsPerSecond) * 100).toFixed(1)}% of it)`;
}

/** Other work on the machine skews every figure: say so. */
function loadNote(): string {
  const [one] = loadavg();
  const busy = (one ?? 0) > cpus().length * 0.5;
  return `load average ${(one ?? 0).toFixed(2)}${busy ? ' — the machine is busy, figures will be low and noisy' : ''}`;
}


async function main(): Promise<void> {
  if (args.help) return log(HELP);
  const events = positive('events', args.events, BATCH_SIZE);
  const warmup = positive('warmup', args.warmup, 0);
  const subjects = positive('subjects', args.subjects, 10_000);
  const connections = positive('connections', args.connections);
  const maxSeconds = positive('max-seconds', args['max-seconds']);
  const pgUrl = process.env.FIDUCIA_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const only = args.only;
  if (only !== undefined && only !== 'sqlite' && only !== 'postgres') throw new UsageError('--only is sqlite or postgres');
  const dialects: Dialect[] = only ? [only] : ['sqlite', 'postgres'];
  const chosen = args.workload;
  if (chosen !== 'first' && chosen !== 'steady' && chosen !== 'both') throw new UsageError('--workload is first, steady or both');
  const kinds: WorkloadKind[] = chosen === 'both' ? ['first', 'steady'] : [chosen];

  const limitMs = watchdogMs(dialects.length * kinds.length, maxSeconds);
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench: still running after ${limitMs / 1000} s, giving up\n`);
    void Promise.race([current?.stop(), new Promise((r) => setTimeout(r, 5000))]).finally(() => process.exit(2));
  }, limitMs);
  watchdog.unref();

  const warmupBatches = Math.ceil(warmup / BATCH_SIZE);
  const measuredBatches = Math.ceil(events / BATCH_SIZE);
  const t0 = performance.now();
  const workloads = new Map<WorkloadKind, Workload>();
  for (const kind of kinds) {
    const built = performance.now();
    const w = buildWorkload(warmupBatches + measuredBatches, subjects, 42, kind);
    workloads.set(kind, w);
    const mix = Object.entries(w.byType).map(([k, v]) => `${k} ${((100 * v) / w.messages).toFixed(0)}%`).join(', ');
    const sightings = kind === 'steady'
      ? `every visitor seeded beforehand (${fmt(subjects)} messages, not measured), identify calls repeat known traits (1 in ${Math.round(1 / STEADY_TRAIT_CHANGE)} changes one)`
      : `${fmt(w.firstSightings)} messages (${((100 * w.firstSightings) / w.messages).toFixed(1)}%) are their visitor's first`;
    log(`workload ${LABEL[kind]}: ${fmt(w.messages)} messages (${warmupBatches} warm-up + ${measuredBatches} measured batches of ${BATCH_SIZE}), ${fmt(subjects)} subjects, avg ${w.avgMessageBytes.toFixed(0)} bytes/message JSON, ${(w.bodies[warmupBatches]!.length / 1024).toFixed(1)} KiB/batch; ${mix}; ${sightings}; built in ${((performance.now() - built) / 1000).toFixed(1)} s (not measured)`);
  }
  log(`node ${process.version}, ${cpus().length} CPUs shared by load generator, server and PostgreSQL; ${loadNote()}; watchdog ${limitMs / 1000} s`);

  const profDir = args['cpu-prof'] ? mkdtempSync(join(tmpdir(), 'fiducia-bench-prof-')) : undefined;
  const outcomes: Outcome[] = [];
  for (const dialect of dialects) {
    if (dialect === 'postgres' && !(await pgReachable(pgUrl))) {
      log(`\n== postgres: ${pgUrl} is not reachable, skipped`);
      continue;
    }
    for (const [kind, w] of workloads) {
      const cpuProfDir = profDir ? join(profDir, `${dialect}-${kind}`) : undefined;
      const started = performance.now();
      outcomes.push(await benchDialect(dialect, w, warmupBatches, { pgUrl, connections, maxSeconds, cpuProfDir, sqlTiming: args['sql-timing'] }));
      log(`   ${dialect}, ${LABEL[kind]}: ${((performance.now() - started) / 1000).toFixed(0)} s with server start, seeding, warm-up and baseline`);
      if (cpuProfDir) {
        // tsx's loader thread writes a small profile too: the main thread's is the largest.
        const file = readdirSync(cpuProfDir)
          .filter((f) => f.endsWith('.cpuprofile'))
          .sort((x, y) => statSync(join(cpuProfDir, y)).size - statSync(join(cpuProfDir, x)).size)[0];
        log(file ? `\n${summarizeProfile(join(cpuProfDir, file), 20)}` : `   (no CPU profile written in ${cpuProfDir})`);
      }
    }
  }

  log('\n== results');
  for (const o of outcomes) for (const line of report(o)) log(line);
  log(`total ${((performance.now() - t0) / 1000).toFixed(0)} s (watchdog ${limitMs / 1000} s); ${loadNote()}`);
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    process.stderr.write(err instanceof UsageError ? `${err.message}\n\n${HELP}\n` : `bench failed: ${(err as Error).stack ?? String(err)}\n`);
    await current?.stop().catch(() => undefined);
    process.exit(1);
  },
);
