// Read-side benchmark: purpose-bound profile reads (20 traits, audit on) beside a Fastify echo route, and policy
// decisions beside Cedar (cedar-wasm) evaluating the same rule, all measured in the same run.
// `node --import tsx bench/reads.ts` on its own, or through `run(log)` from bench/run.ts.
import { machineBusyMicros, pgReachable } from './common.ts';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon, { type AutocannonResult } from 'autocannon';
import { PolicyEngine } from '../src/domain/policy.ts';
import { DEFAULT_CONFIG_PATH, loadPrivacyConfig } from '../src/services/config/config-loader.ts';
import { dropPgSchema, type Dialect } from '../src/store/database.ts';
import { agrees, cedar, cedarDecide, decisionWorkload, prepareCedar } from './policy-cedar.ts';
import type { ReadsServerReply, ReadsServerRequest } from './reads-server.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The Speed issue's targets: reads at a quarter of the echo route's rate in the same run, p99 ≤ 10 ms; policy ≥ 100× Cedar. */
const TARGET = { echoRatio: 0.25, p99Ms: 10, cedarRatio: 100 };
const env = process.env;
const SUBJECTS = Number(env.BENCH_READS_SUBJECTS ?? '2000');
const CONNECTIONS = Number(env.BENCH_READS_CONNECTIONS ?? '16');
const SECONDS = Number(env.BENCH_READS_SECONDS ?? '8');
const PG_URL = env.FIDUCIA_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const verdict = (ok: boolean, why: string) => (ok ? 'MET' : `MISSED (${why})`);

// ---- policy decisions ----------------------------------------------------------------------------

export interface PolicyFigures {
  oursPerSecond: number;
  cedarPerSecond: number;
  ratio: number;
  agreed: number;
  total: number;
}

/** Calls `fn` over the workload until `ms` have passed (checking the clock every `every` calls). */
function rate(ms: number, every: number, fn: (i: number) => void): number {
  const start = performance.now();
  let n = 0;
  let now = start;
  do {
    for (let k = 0; k < every; k++, n++) fn(n);
    now = performance.now();
  } while (now - start < ms);
  return (n * 1000) / (now - start);
}

export function benchPolicy(log: (line: string) => void): PolicyFigures {
  const cfg = loadPrivacyConfig(DEFAULT_CONFIG_PATH);
  const engine = new PolicyEngine(cfg);
  prepareCedar(cfg);
  const work = decisionWorkload(cfg, 4096);
  // Same answers first: otherwise the comparison is meaningless.
  let agreed = 0;
  let allowed = 0;
  for (const d of work) {
    const ours = engine.decide(d.purpose, d.category, d.subject, d.caller);
    if (ours.allow) allowed++;
    if (agrees(ours, cedarDecide(d))) agreed++;
  }
  const mask = work.length - 1;
  let sink = 0;
  rate(300, 4096, (i) => {
    const d = work[i & mask]!;
    if (engine.decide(d.purpose, d.category, d.subject, d.caller).allow) sink++;
  });
  const oursPerSecond = rate(1500, 4096, (i) => {
    const d = work[i & mask]!;
    if (engine.decide(d.purpose, d.category, d.subject, d.caller).allow) sink++;
  });
  rate(300, 64, (i) => void cedarDecide(work[i & mask]!));
  const cedarPerSecond = rate(3000, 64, (i) => {
    if (cedarDecide(work[i & mask]!).allow) sink++;
  });
  const ratio = oursPerSecond / cedarPerSecond;
  log(`policy decisions: ${work.length} distinct requests (${((100 * allowed) / work.length).toFixed(0)}% allowed); answers agree with Cedar on ${agreed}/${work.length}`);
  if (sink < 0) log('unreachable'); // keeps the measured calls observable
  log(`  fiducia PolicyEngine.decide: ${fmt(oursPerSecond)} decisions/s | cedar-wasm ${cedar.getCedarVersion()} statefulIsAuthorized (preparsed policy set): ${fmt(cedarPerSecond)} decisions/s | ratio ${ratio.toFixed(0)}× | target ≥${TARGET.cedarRatio}×: ${verdict(ratio >= TARGET.cedarRatio && agreed === work.length, agreed === work.length ? `${ratio.toFixed(0)}×` : 'answers differ')}`);
  return { oursPerSecond, cedarPerSecond, ratio, agreed, total: work.length };
}

// ---- HTTP reads ------------------------------------------------------------------------------------

interface Server {
  port: number;
  echoPort: number;
  auditedEchoPort: number;
  token: string;
  seedSeconds: number;
  request(req: ReadsServerRequest): Promise<ReadsServerReply>;
  stop(): Promise<void>;
}

async function startServer(dialect: Dialect, readCache: boolean): Promise<Server> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fiducia-bench-reads-'));
  const schema = `bench_r_${randomBytes(5).toString('hex')}`;
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    BENCH_DATA_DIR: dataDir,
    BENCH_MASTER_KEY: randomBytes(32).toString('base64'),
    BENCH_SUBJECTS: String(SUBJECTS),
    BENCH_SQL_TIMING: env.BENCH_READS_SQL_TIMING === '1' ? '1' : '',
    // BENCH_READS_CPU_PROF=<dir>: a V8 CPU profile of the server while it serves (summarize with bench/profile.ts).
    BENCH_CPU_PROF_DIR: env.BENCH_READS_CPU_PROF ?? '',
    // The read caches (src/services/profiles/plaintext-cache.ts, src/store/reader.ts): on as shipped; off to measure what they save.
    BENCH_READ_CACHE_SUBJECTS: readCache ? '' : '0',
    ...(dialect === 'postgres' ? { BENCH_DATABASE_URL: PG_URL, BENCH_SCHEMA: schema, BENCH_KEYS_SCHEMA: `${schema}_keys` } : {}),
  };
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/reads-server.ts')], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const cleanup = async () => {
    rmSync(dataDir, { recursive: true, force: true });
    if (dialect === 'postgres') {
      await dropPgSchema(PG_URL, schema);
      await dropPgSchema(PG_URL, `${schema}_keys`);
    }
  };
  let ready: Extract<ReadsServerReply, { type: 'ready' }>;
  try {
    ready = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the reads bench server did not start within 60 s')), 60_000);
      child.on('message', (m: ReadsServerReply) => {
        if (m.type === 'ready') resolve(m);
        if (m.type === 'error') reject(new Error(`reads bench server: ${m.message}`));
      });
      child.once('exit', (code) => reject(new Error(`the reads bench server exited with code ${code}`)));
      void exited.finally(() => clearTimeout(timer));
    });
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    await cleanup();
    throw err;
  }
  return {
    port: ready.port,
    echoPort: ready.echoPort,
    auditedEchoPort: ready.auditedEchoPort,
    token: ready.token,
    seedSeconds: ready.seedSeconds,
    request: (req) =>
      new Promise((resolve, reject) => {
        const on = (m: ReadsServerReply) => {
          if (m.type === 'ready') return;
          child.off('message', on);
          if (m.type === 'error') reject(new Error(m.message));
          else resolve(m);
        };
        child.on('message', on);
        child.send(req);
      }),
    async stop() {
      if (child.exitCode === null && child.connected) {
        child.send({ cmd: 'stop' } satisfies ReadsServerRequest);
        const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(killer);
      }
      await cleanup();
    },
  };
}

interface Load {
  perSecond: number;
  /** Server CPU time (user + system) per answered request, in µs. */
  cpuMicros: number;
  /** CPU time of the load generator (autocannon, in this process) per answered request, in µs. */
  clientCpuMicros: number;
  /** CPU time of the whole machine (server, database, load generator, anything else) per answered request, in µs. */
  machineCpuMicros: number;
  ok: number;
  non2xx: number;
  errors: number;
  p50: number;
  p99: number;
}

function load(port: number, path: (i: number) => string, headers: Record<string, string>, seconds: number): Promise<Load> {
  let i = 0;
  let ok = 0;
  const cpu0 = process.cpuUsage();
  const busy0 = machineBusyMicros();
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `http://127.0.0.1:${port}`,
        connections: CONNECTIONS,
        duration: seconds,
        timeout: 10,
        requests: [
          {
            method: 'GET',
            headers,
            setupRequest: (req) => ({ ...req, path: path(i++) }),
            onResponse: (status) => void (status === 200 && ok++),
          },
        ],
      },
      (err, r: AutocannonResult) => {
        if (err) return reject(err);
        const cpu = process.cpuUsage(cpu0);
        const clientCpuMicros = (cpu.user + cpu.system) / Math.max(1, ok);
        const machineCpuMicros = (machineBusyMicros() - busy0) / Math.max(1, ok);
        resolve({ perSecond: ok / r.duration, cpuMicros: NaN, clientCpuMicros, machineCpuMicros, ok, non2xx: r.non2xx, errors: r.errors + r.timeouts, p50: r.latency.p50, p99: r.latency.p99 });
      },
    );
  });
}

export interface ReadFigures {
  dialect: Dialect;
  reads: Load;
  echo: Load;
  /** The echo answered only once an audit entry of a read's shape is committed: the floor the audit rule sets. */
  auditedEcho: Load;
  auditReads: number;
}

export async function benchReads(dialect: Dialect, log: (line: string) => void, opts: { readCache?: boolean; echo?: boolean } = {}): Promise<ReadFigures> {
  const readCache = opts.readCache ?? true;
  const server = await startServer(dialect, readCache);
  try {
    log(`${dialect}: ${fmt(SUBJECTS)} profiles of 20 traits seeded in ${server.seedSeconds.toFixed(1)} s; ${CONNECTIONS} connections, ${SECONDS} s per measurement${readCache ? '' : '; read caches off'}`);
    const headers = { authorization: `Bearer ${server.token}` };
    // Check the answer before timing it: 13 of the 20 traits are readable for personalization.
    const probe = await fetch(`http://127.0.0.1:${server.port}/api/v1/profiles/userId:bench-u-1?purpose=personalization`, { headers });
    // The other 7 are withheld: named when they serve the purpose, counted when they do not (withheldOutsidePurpose).
    const body = (await probe.json()) as { traits?: Record<string, unknown>; withheld?: unknown[]; withheldOutsidePurpose?: number };
    const withheld = (body.withheld?.length ?? 0) + (body.withheldOutsidePurpose ?? 0);
    if (probe.status !== 200 || Object.keys(body.traits ?? {}).length !== 13 || withheld !== 7) {
      throw new Error(`unexpected profile answer ${probe.status}: ${Object.keys(body.traits ?? {}).length} traits, ${withheld} withheld`);
    }
    const cpu = async () => {
      const s = await server.request({ cmd: 'stats' });
      return s.type === 'stats' ? s.cpuMicros : NaN;
    };
    const before = await server.request({ cmd: 'stats' });
    const profilePath = (i: number) => `/api/v1/profiles/userId:bench-u-${(i * 7919) % SUBJECTS}?purpose=personalization`;
    const echoPath = (i: number) => `/echo/userId:bench-u-${(i * 7919) % SUBJECTS}?purpose=personalization`;
    // BENCH_READS_ECHO=0 skips the baseline (to profile the reads alone).
    const withEcho = env.BENCH_READS_ECHO !== '0' && opts.echo !== false;
    if (withEcho) await load(server.echoPort, echoPath, headers, 2);
    await load(server.port, profilePath, headers, 2);
    const measure = async (port: number, path: (i: number) => string): Promise<Load> => {
      const c0 = await cpu();
      const l = await load(port, path, headers, SECONDS);
      return { ...l, cpuMicros: ((await cpu()) - c0) / Math.max(1, l.ok) };
    };
    const none: Load = { perSecond: NaN, cpuMicros: NaN, clientCpuMicros: NaN, machineCpuMicros: NaN, ok: 0, non2xx: 0, errors: 0, p50: NaN, p99: NaN };
    const echo = withEcho ? await measure(server.echoPort, echoPath) : none;
    if (withEcho) await load(server.auditedEchoPort, echoPath, headers, 2);
    const auditedEcho = withEcho ? await measure(server.auditedEchoPort, echoPath) : none;
    const reads = await measure(server.port, profilePath);
    const after = await server.request({ cmd: 'stats' });
    const auditReads = after.type === 'stats' && before.type === 'stats' ? after.auditReads - before.auditReads : -1;
    if (after.type === 'stats' && after.sql) {
      const reads = Math.max(1, auditReads);
      log(`   SQL per profile read in the server (warm-up + measurement, ${fmt(reads)} reads): statement shapes by total time`);
      for (const t of after.sql.slice(0, 10)) log(`   ${((t.ms * 1000) / reads).toFixed(0).padStart(6)} µs/read ${(t.count / reads).toFixed(2).padStart(6)}×/read  ${t.sql.slice(0, 100)}`);
    }
    return { dialect, reads, echo, auditedEcho, auditReads };
  } finally {
    await server.stop();
  }
}

function report(f: ReadFigures, log: (line: string) => void): void {
  const r = f.reads;
  const ratio = r.perSecond / f.echo.perSecond;
  const short: string[] = [];
  if (ratio < TARGET.echoRatio) short.push(`ratio ${(ratio * 100).toFixed(1)}% < ${TARGET.echoRatio * 100}%`);
  if (r.p99 > TARGET.p99Ms) short.push(`p99 ${r.p99} ms > ${TARGET.p99Ms} ms`);
  log(
    `${f.dialect.padEnd(8)} profile reads (personalization, 20 traits → 13 returned + 7 withheld, audit on): ${fmt(r.perSecond)}/s, p50 ${r.p50} ms, p99 ${r.p99} ms | fastify echo: ${fmt(f.echo.perSecond)}/s, p99 ${f.echo.p99} ms | ratio ${(ratio * 100).toFixed(1)}% | target ratio ≥${TARGET.echoRatio * 100}% & p99 ≤${TARGET.p99Ms} ms: ${verdict(short.length === 0, short.join('; '))}`,
  );
  log(`         server CPU per request: read ${fmt(r.cpuMicros)} µs, echo ${fmt(f.echo.cpuMicros)} µs (${(r.cpuMicros / f.echo.cpuMicros).toFixed(1)}×) — on a busy machine the CPU ratio is steadier than the rates`);
  // The ceilings the cores set, whatever the code does with its time: the server's event loop runs on one core, and
  // every answered read costs the machine this much CPU in all (server, database, load generator).
  const cores = cpus().length;
  log(
    `         CPU of the whole machine per answered request (server, database, load generator): read ${fmt(r.machineCpuMicros)} µs (load generator ${fmt(r.clientCpuMicros)}), ` +
      `echo ${fmt(f.echo.machineCpuMicros)} µs (load generator ${fmt(f.echo.clientCpuMicros)}) | bounds on reads: ${fmt(1e6 / r.cpuMicros)}/s with the server on one core, ` +
      `${fmt((cores * 1e6) / r.machineCpuMicros)}/s with all ${cores} cores busy; the target rate (${fmt(f.echo.perSecond * TARGET.echoRatio)}/s) needs ≤ ${fmt(1e6 / (f.echo.perSecond * TARGET.echoRatio))} µs of server CPU per read`,
  );
  const a = f.auditedEcho;
  const floor = a.perSecond / f.echo.perSecond;
  log(
    `         what bounds the ratio: the echo answered once an audit entry of a read's shape is committed (the same batcher, log and database; no auth, lookup, policy or decryption): ` +
      `${fmt(a.perSecond)}/s, p50 ${a.p50} ms, p99 ${a.p99} ms, server CPU ${fmt(a.cpuMicros)} µs per request (${(floor * 100).toFixed(1)}% of the echo${floor < TARGET.echoRatio ? ', under the target' : ''}; the reads ${((r.perSecond / a.perSecond) * 100).toFixed(0)}% of it)`,
  );
  log(`         non-200: reads ${r.non2xx}, echo ${f.echo.non2xx}, audited echo ${a.non2xx}; errors ${r.errors + f.echo.errors + a.errors}; audit entries profile.read written during warm-up + measurement: ${fmt(f.auditReads)}`);
}


export async function run(log: (line: string) => void): Promise<void> {
  const [one] = loadavg();
  log(`== reads: node ${process.version}, ${cpus().length} CPUs, load average ${(one ?? 0).toFixed(2)}${(one ?? 0) > cpus().length * 0.5 ? ' (busy machine: figures low and noisy)' : ''}`);
  benchPolicy(log);
  const results: ReadFigures[] = [];
  // BENCH_READS_ONLY=sqlite|postgres: one database, without the cold reads (to profile or time one change).
  const only = env.BENCH_READS_ONLY;
  for (const dialect of ['sqlite', 'postgres'] as const) {
    if (only && only !== dialect) continue;
    if (dialect === 'postgres' && !(await pgReachable(PG_URL))) {
      log(`postgres: ${PG_URL} is not reachable, skipped`);
      continue;
    }
    results.push(await benchReads(dialect, log));
  }
  for (const f of results) report(f, log);
  // The same reads with both read caches off (FIDUCIA_READ_CACHE_SUBJECTS=0): every trait decrypted and, on SQLite,
  // every row read again: what a read of a profile not read in the last five minutes, or changed since, costs.
  for (const f of only ? [] : results) {
    const cold = await benchReads(f.dialect, log, { readCache: false, echo: false });
    log(
      `${f.dialect.padEnd(8)} the same reads with the read caches off: ${fmt(cold.reads.perSecond)}/s, p50 ${cold.reads.p50} ms, p99 ${cold.reads.p99} ms, ` +
        `server CPU ${fmt(cold.reads.cpuMicros)} µs per read (${(cold.reads.cpuMicros / f.reads.cpuMicros).toFixed(2)}× the cached reads)`,
    );
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const watchdog = setTimeout(() => {
    process.stderr.write('bench/reads.ts: still running after 170 s, giving up\n');
    process.exit(2);
  }, 170_000);
  watchdog.unref();
  run((line) => void process.stdout.write(`${line}\n`)).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
