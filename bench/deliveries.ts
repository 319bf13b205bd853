// Destinations benchmark: deliveries per second of `f.deliveries.drain()` (claim under a lease, build each message from the
// stored rows decrypted and filtered for the destination's purposes, sign, post, record, audit) to a loopback receiver,
// against the same POSTs from a plain keep-alive client to the same receiver, no database, measured in the same run.
// `npx tsx bench/deliveries.ts [--only sqlite|postgres] [--people N] [--larger-first]`; BENCH_DELIVERIES_CPU_PROF=<dir>
// writes a CPU profile of each drain (summarize with `tsx bench/profile.ts FILE`), BENCH_SQL_TIMING=1 prints the time
// per statement shape.
import { machineBusyMicros, pgReachable, runScript } from './common.ts';
import { installSqlTiming, sqlTimings, type SqlTiming } from './sql-timing.ts';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders } from 'node:http';
import { Session } from 'node:inspector/promises';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { pino } from 'pino';
import { Webhook } from 'standardwebhooks';
import { createFiducia, type Fiducia } from '../src/app.ts';
import { DEFAULT_CONFIG_PATH } from '../src/services/config/config-loader.ts';
import { dropPgSchema, type Dialect } from '../src/store/database.ts';
import { BENCH_WRITE_KEY } from './protocol.ts';

const PG_URL = process.env.FIDUCIA_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const AUTH = `Basic ${Buffer.from(`${BENCH_WRITE_KEY}:`).toString('base64')}`;
const DEFAULT_PEOPLE = 2000;
/** Requests in flight while filling the outbox through the ingestion path. */
const FILL_CONCURRENCY = 32;
/** One message in this many is checked with `standardwebhooks`, in the worker's run and in the echo alike. */
const VERIFY_EVERY = 16;
const SETTINGS = [
  { label: 'default', batch: 64, concurrency: 16 },
  { label: 'larger', batch: 256, concurrency: 64 },
] as const;
type Setting = (typeof SETTINGS)[number];
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

interface Captured {
  headers: Record<string, string>;
  body: string;
}

/**
 * The destination's endpoint: keep-alive, reads the body and answers 200 `{}` at once. Every VERIFY_EVERY-th message is
 * verified with `standardwebhooks` (a failure is counted and fails the run); what arrives can be kept for the echo.
 */
class LoopbackReceiver {
  readonly secret = `whsec_${randomBytes(24).toString('base64')}`;
  readonly #webhook = new Webhook(this.secret);
  readonly #server = http.createServer({ keepAlive: true, keepAliveTimeout: 30_000 }, (req, res) => this.#handle(req, res));
  received = 0;
  verified = 0;
  badSignatures = 0;
  connections = 0;
  ids = new Set<string>();
  capture: Captured[] | null = null;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.#server.on('connection', () => void this.connections++);
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server.address() as AddressInfo).port;
    return this;
  }

  reset(capture: boolean): void {
    Object.assign(this, { received: 0, verified: 0, badSignatures: 0, connections: 0, ids: new Set<string>(), capture: capture ? [] : null });
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n = ++this.received;
      const id = String(req.headers['webhook-id'] ?? '');
      this.ids.add(id);
      if (n % VERIFY_EVERY === 0 || this.capture) {
        const body = Buffer.concat(chunks).toString('utf8');
        if (n % VERIFY_EVERY === 0) {
          try {
            this.#webhook.verify(body, req.headers as Record<string, string>);
            this.verified++;
          } catch {
            this.badSignatures++;
          }
        }
        this.capture?.push({ headers: replayable(req.headers), body });
      }
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '2' }).end('{}');
    });
  }
}

/** The request headers the worker sent, as a client would send them again (framing left to node:http). */
function replayable(h: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of ['content-type', 'user-agent', 'webhook-id', 'webhook-timestamp', 'webhook-signature', 'content-length']) {
    const v = h[k];
    if (typeof v === 'string') out[k] = v;
  }
  return out;
}

/** The shipped configuration plus one webhook destination serving `marketing` (email, names, purchases), on loopback. */
function configFile(dir: string, url: string): string {
  const path = join(dir, 'fiducia.yaml');
  const destination = `  - { id: crm, kind: webhook, purposes: [marketing], endpoint: "${url}/hooks", secretEnv: SECRET_CRM, country: IT, allowPrivateNetwork: true }\n`;
  writeFileSync(path, `${readFileSync(DEFAULT_CONFIG_PATH, 'utf8')}\ndestinations:\n${destination}`);
  return path;
}

/** A deterministic generator, so every run and setting ingests the same people and orders. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Through the real ingestion path, as the tests do: each person consents to marketing, then sends one batch with an
 * identify (email and names) and 3–7 `Order Completed` (5 on average). Returns the deliveries that should be queued.
 */
async function fill(f: Fiducia, people: number): Promise<number> {
  const rnd = prng(20261207);
  const plans = Array.from({ length: people }, (_, i) => ({ i, orders: 3 + Math.floor(rnd() * 5), totals: Array.from({ length: 7 }, () => Math.round(rnd() * 50000) / 100) }));
  const post = async (url: string, payload: unknown) => {
    const r = await f.app.inject({ method: 'POST', url, headers: { authorization: AUTH, 'content-type': 'application/json' }, payload: JSON.stringify(payload) });
    if (r.statusCode !== 200) throw new Error(`${url} refused: ${r.statusCode} ${r.body}`);
  };
  let next = 0;
  const lane = async () => {
    for (let k = next++; k < plans.length; k = next++) {
      const { i, orders, totals } = plans[k]!;
      const userId = `user-${i}`;
      const anonymousId = `anon-${i}-${i * 7919}`;
      await post('/v1/consent', { anonymousId, purposes: { marketing: true }, noticeVersion: f.cfg.config.notice.current });
      const batch: Record<string, unknown>[] = [
        { type: 'identify', userId, anonymousId, traits: { email: `person.${i}@example.com`, firstName: `First${i}`, lastName: `Last${i}` }, messageId: `${i}-identify` },
      ];
      for (let o = 0; o < orders; o++) {
        batch.push({
          type: 'track',
          userId,
          event: 'Order Completed',
          properties: { order_id: `o-${i}-${o}`, total: totals[o], currency: 'EUR', products: [{ product_id: `p-${(i * 31 + o) % 500}`, quantity: 1 + (o % 3) }] },
          context: { page: { path: '/checkout/done' } },
          messageId: `${i}-order-${o}`,
        });
      }
      await post('/v1/batch', { batch });
    }
  };
  await Promise.all(Array.from({ length: FILL_CONCURRENCY }, lane));
  return plans.reduce((sum, p) => sum + 1 + p.orders, 0);
}

interface Rate {
  perSecond: number;
  ms: number;
  /** CPU of this process and of the whole machine, µs per message. */
  ownUs: number;
  machineUs: number;
}

function rateSince(started: { own: NodeJS.CpuUsage; machine: number; at: number }, n: number): Rate {
  const ms = performance.now() - started.at;
  const own = process.cpuUsage(started.own);
  return { perSecond: n / (ms / 1000), ms, ownUs: (own.user + own.system) / n, machineUs: (machineBusyMicros() - started.machine) / n };
}

async function timed(n: number, work: () => Promise<unknown>): Promise<Rate> {
  const started = { own: process.cpuUsage(), machine: machineBusyMicros(), at: performance.now() };
  await work();
  return rateSince(started, n);
}

/** The baseline: the same requests (bodies, headers) to the same receiver from a plain keep-alive client, no database. */
async function echo(receiver: LoopbackReceiver, messages: readonly Captured[], sockets: number): Promise<Rate> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets, scheduling: 'lifo' });
  const postOne = (m: Captured) =>
    new Promise<void>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: receiver.port, path: '/hooks', method: 'POST', headers: m.headers, agent }, (res) => {
        if (res.statusCode !== 200) reject(new Error(`echo answered ${res.statusCode}`));
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end(m.body);
    });
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < messages.length; i = next++) await postOne(messages[i]!);
  };
  try {
    return await timed(messages.length, () => Promise.all(Array.from({ length: sockets }, lane)));
  } finally {
    agent.destroy();
  }
}

interface Figures {
  dialect: Dialect;
  setting: Setting;
  deliveries: number;
  drain: Rate;
  echo: Rate;
  workerSockets: number;
  bodyBytes: number;
  verified: number;
}

/** With BENCH_DELIVERIES_CPU_PROF, a V8 CPU profile (what `node --cpu-prof` writes) of `work` alone, not of the filling. */
async function profiled<T>(name: string, work: () => Promise<T>): Promise<T> {
  const dir = process.env.BENCH_DELIVERIES_CPU_PROF;
  if (!dir) return work();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await work();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

/** The pending rows of the outbox. */
async function pendingDeliveries(f: Fiducia): Promise<number> {
  const row = await f.dbs.data.selectFrom('deliveries').select((eb) => eb.fn.countAll<string | number>().as('n')).where('status', '=', 'pending').executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * One database: the outbox filled once through ingestion, then drained in two parts, each by Fiducia opened on the same
 * storage with one setting (the first stops after half the rows, the second sends the rest), each part followed by its
 * echo baseline with the very messages the worker sent.
 */
async function measureDialect(dialect: Dialect, settings: readonly Setting[], people: number, log: (l: string) => void): Promise<Figures[]> {
  const receiver = await new LoopbackReceiver().start();
  const dir = mkdtempSync(join(tmpdir(), 'fiducia-bench-deliveries-'));
  const schema = `bench_dlv_${randomBytes(4).toString('hex')}`;
  const masterKey = randomBytes(32).toString('base64');
  const configPath = configFile(dir, receiver.url);
  const open = (setting: Setting) =>
    createFiducia({
      dataDir: dir,
      masterKey,
      writeKey: BENCH_WRITE_KEY,
      configPath,
      destinationSecrets: { SECRET_CRM: receiver.secret },
      // The worker does not run in the background: rows wait in the outbox until the measured drain.
      deliveries: { enabled: false, batch: setting.batch, concurrency: setting.concurrency },
      logger: pino({ level: 'silent' }),
      auditCheckpointSeconds: 0,
      segmentRefreshMs: 0,
      rightsSweepMs: 0,
      retentionSweepMinutes: 0,
      ...(dialect === 'postgres' ? { databaseUrl: PG_URL, schema, keysSchema: `${schema}_keys` } : {}),
    });
  let f: Fiducia | undefined;
  const out: Figures[] = [];
  try {
    f = await open(settings[0]!);
    const t = performance.now();
    const expected = await fill(f, people);
    const fillSeconds = (performance.now() - t) / 1000;
    const queued = await pendingDeliveries(f);
    if (queued !== expected) throw new Error(`${queued} deliveries queued, ${expected} expected`);
    log(`  ${dialect}: ${fmt(queued)} deliveries queued by ingesting ${fmt(people)} people in ${fillSeconds.toFixed(1)} s`);
    // Statistics for the claim's plan, as autovacuum would have gathered them on an outbox this size.
    if (dialect === 'postgres') await sql`vacuum (analyze) deliveries`.execute(f.dbs.data);

    for (const [k, setting] of settings.entries()) {
      if (k > 0) {
        await f.close();
        f = await open(setting);
      }
      const pending = await pendingDeliveries(f);
      // Each round claims `batch` rows (one per person's queue, 2,000 queues): the first setting stops near half.
      const rounds = k === settings.length - 1 ? undefined : Math.max(1, Math.floor(queued / settings.length / setting.batch));
      receiver.reset(true);
      const sql0 = new Map(sqlTimings().map((s) => [s.sql, s]));
      const fiducia = f;
      let report: Awaited<ReturnType<Fiducia['deliveries']['drain']>> | undefined;
      const started = { own: process.cpuUsage(), machine: machineBusyMicros(), at: performance.now() };
      await profiled(`${dialect}-${setting.label}`, async () => {
        report = await fiducia.deliveries.drain(rounds);
      });
      const drain = rateSince(started, report?.delivered ?? 0);
      if (process.env.BENCH_SQL_TIMING === '1') printSql(sql0, log);
      const captured = receiver.capture ?? [];
      const { verified, badSignatures, connections } = receiver;
      const sent = report?.delivered ?? 0;
      if (!report || sent === 0 || report.claimed !== sent || (rounds === undefined && sent !== pending)) throw new Error(`drain: ${JSON.stringify(report)}, ${pending} pending`);
      if (receiver.received !== sent || receiver.ids.size !== sent) throw new Error(`receiver got ${receiver.received} requests, ${receiver.ids.size} ids, ${sent} delivered`);
      if (badSignatures > 0 || verified === 0) throw new Error(`signatures: ${verified} verified, ${badSignatures} refused`);
      // The messages are the real thing: built from the decrypted event, filtered for marketing.
      const sample = JSON.parse(captured.find((m) => m.body.includes('"event.track"'))?.body ?? '{}') as { data?: { event?: string; properties?: { order_id?: string } } };
      if (sample.data?.event !== 'Order Completed' || !sample.data.properties?.order_id) throw new Error('the messages do not carry the orders');
      const bodyBytes = captured.reduce((s, m) => s + Buffer.byteLength(m.body), 0) / captured.length;

      receiver.reset(false);
      const baseline = await echo(receiver, captured, setting.concurrency);
      if (receiver.badSignatures > 0 || receiver.received !== sent) throw new Error('echo: a request was lost or a replayed signature did not verify');
      const figures: Figures = { dialect, setting, deliveries: sent, drain, echo: baseline, workerSockets: connections, bodyBytes, verified };
      logFigures(figures, log);
      out.push(figures);
    }
    if ((await pendingDeliveries(f)) !== 0) throw new Error('rows left in the outbox');
    return out;
  } finally {
    await f?.close();
    await receiver.stop();
    rmSync(dir, { recursive: true, force: true });
    if (dialect === 'postgres') {
      await dropPgSchema(PG_URL, schema);
      await dropPgSchema(PG_URL, `${schema}_keys`);
    }
  }
}

function printSql(before: Map<string, SqlTiming>, log: (l: string) => void): void {
  const delta = sqlTimings()
    .map((s) => ({ ...s, count: s.count - (before.get(s.sql)?.count ?? 0), ms: s.ms - (before.get(s.sql)?.ms ?? 0) }))
    .filter((s) => s.count > 0)
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 12);
  for (const s of delta) log(`    sql ${fmt(s.ms).padStart(7)} ms ${fmt(s.count).padStart(7)}× ${s.sql}`);
}

function logFigures(x: Figures, log: (l: string) => void): void {
  const { dialect, setting, drain, echo: e } = x;
  const cores = cpus().length;
  log(
    `  ${dialect}, batch ${setting.batch} / concurrency ${setting.concurrency}: ${fmt(x.deliveries)} deliveries drained in ${fmt(drain.ms)} ms: ${fmt(drain.perSecond)} deliveries/s over ${x.workerSockets} connection(s); ` +
      `echo of the same ${fmt(x.deliveries)} POSTs (${fmt(x.bodyBytes)} B bodies, ${setting.concurrency} sockets) ${fmt(e.perSecond)}/s; ratio ${((100 * drain.perSecond) / e.perSecond).toFixed(1)}%`,
  );
  log(
    `  ${dialect}, batch ${setting.batch} / concurrency ${setting.concurrency}: CPU per delivery: this process ${fmt(drain.ownUs)} µs, the whole machine (all its processes, the database server and other work included) ${fmt(drain.machineUs)} µs ` +
      `(echo ${fmt(e.ownUs)} / ${fmt(e.machineUs)} µs) | ${cores} cores bound deliveries at ${fmt((cores * 1e6) / drain.machineUs)}/s, ` +
      `this process's one thread at ${fmt(1e6 / drain.ownUs)}/s; ${fmt(x.verified)} signatures verified with standardwebhooks`,
  );
}

export async function run(log: (line: string) => void, opts: { only?: Dialect; people?: number; largerFirst?: boolean } = {}): Promise<void> {
  if (process.env.BENCH_SQL_TIMING === '1') installSqlTiming();
  const [one] = loadavg();
  const people = opts.people ?? DEFAULT_PEOPLE;
  log(
    `== destinations: node ${process.version}, ${cpus().length} CPUs, load average ${(one ?? 0).toFixed(2)}${(one ?? 0) > cpus().length * 0.5 ? ' (busy machine: figures low and noisy)' : ''}; ` +
      `${fmt(people)} people, each an identify and 3–7 Order Completed, to one webhook destination on loopback`,
  );
  const out: Figures[] = [];
  for (const dialect of ['sqlite', 'postgres'] as const) {
    if (opts.only && opts.only !== dialect) continue;
    if (dialect === 'postgres' && !(await pgReachable(PG_URL))) {
      log(`  postgres: ${PG_URL} is not reachable, skipped`);
      continue;
    }
    out.push(...(await measureDialect(dialect, opts.largerFirst ? [...SETTINGS].reverse() : SETTINGS, people, log)));
  }
  for (const x of out) {
    log(`  ${x.dialect} ${x.setting.batch}/${x.setting.concurrency}: ${fmt(x.drain.perSecond)} deliveries/s, echo ${fmt(x.echo.perSecond)}/s, ${((100 * x.drain.perSecond) / x.echo.perSecond).toFixed(1)}%`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { only: { type: 'string' }, people: { type: 'string' }, 'larger-first': { type: 'boolean', default: false } } });
  runScript('bench/deliveries.ts', 290_000, () =>
    run((line) => void process.stdout.write(`${line}\n`), {
      only: values.only === 'sqlite' || values.only === 'postgres' ? values.only : undefined,
      people: values.people ? Number(values.people) : undefined,
      largerFirst: values['larger-first'],
    }),
  );
}
