// Drives POST /v1/batch of a Fiducia running in a child process with pre-built bodies, resending refused batches as an SDK does.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dropPgSchema, type Dialect } from '../src/store/database.ts';
import { BATCH_SIZE } from './events.ts';
import { BENCH_WRITE_KEY, type ServerReply, type ServerRequest, type ServerStats } from './protocol.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface BenchServer {
  port: number;
  stats(): Promise<ServerStats>;
  /** Closes Fiducia (finishing in-flight commits), waits for the process, removes its storage. */
  stop(): Promise<void>;
}

export interface ServerOptions {
  pgUrl: string;
  /** Write a V8 CPU profile of the server into this folder. */
  cpuProfDir?: string | undefined;
  /** Time every SQL statement in the server (bench/sql-timing.ts). */
  sqlTiming?: boolean | undefined;
}

export async function startServer(dialect: Dialect, opts: ServerOptions): Promise<BenchServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fiducia-bench-'));
  const schema = `bench_${randomBytes(5).toString('hex')}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    BENCH_DATA_DIR: dataDir,
    BENCH_MASTER_KEY: randomBytes(32).toString('base64'),
    BENCH_SQL_TIMING: opts.sqlTiming ? '1' : '',
    ...(dialect === 'postgres' ? { BENCH_DATABASE_URL: opts.pgUrl, BENCH_SCHEMA: schema, BENCH_KEYS_SCHEMA: `${schema}_keys` } : {}),
  };
  const args = [...(opts.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`] : []), '--import', 'tsx', join(ROOT, 'bench/server.ts')];
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const cleanup = async () => {
    rmSync(dataDir, { recursive: true, force: true });
    if (dialect === 'postgres') {
      await dropPgSchema(opts.pgUrl, schema);
      await dropPgSchema(opts.pgUrl, `${schema}_keys`);
    }
  };

  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the bench server did not start within 30 s')), 30_000);
      child.on('message', (m: ServerReply) => {
        if (m.type === 'ready') resolve(m.port);
        if (m.type === 'error') reject(new Error(`bench server: ${m.message}`));
      });
      child.once('exit', (code) => reject(new Error(`the bench server exited with code ${code}`)));
      exited.finally(() => clearTimeout(timer));
      timer.unref();
    });
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    await cleanup();
    throw err;
  }

  return {
    port,
    stats: () => request(child, { cmd: 'stats' }, 'stats').then((m) => (m as Extract<ServerReply, { type: 'stats' }>).stats),
    async stop() {
      if (child.exitCode === null && child.connected) {
        child.send({ cmd: 'stop' } satisfies ServerRequest);
        const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(killer);
      }
      await cleanup();
    },
  };
}

function request(child: ChildProcess, req: ServerRequest, want: ServerReply['type']): Promise<ServerReply> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: ServerReply) => {
      if (m.type !== want && m.type !== 'error') return;
      child.off('message', onMessage);
      if (m.type === 'error') reject(new Error(`bench server: ${m.message}`));
      else resolve(m);
    };
    child.on('message', onMessage);
    child.send(req);
  });
}

export interface Percentiles {
  p50: number;
  p99: number;
  max: number;
}

export interface LoadResult {
  /** Distinct batches sent at least once. */
  batchesSent: number;
  /** Batches answered 200 (each once, whatever it took). */
  batchesOk: number;
  /** Messages in the batches answered 200. */
  eventsOk: number;
  /** `events` rows the answered batches should have produced (track and page). */
  eventRowsOk: number;
  /** HTTP requests sent: first attempts and retries. */
  requests: number;
  /** Answers other than 200, refusals included (one per request). */
  non2xx: number;
  /** Answers by status code, one per request. */
  statusCodes: Record<string, number>;
  /** Answers 429 with a Retry-After: the batch was refused by backpressure and is sent again after the wait. */
  refusals: number;
  /** Requests that resent a refused batch. */
  retries: number;
  /** Batches last answered 429 when the time bound came (their wait would have crossed it): never acknowledged. */
  refusedAtEnd: number;
  /** The most requests one batch took (answered or not). */
  maxAttempts: number;
  /** Batches given up after another answer, an error or a timeout (not retried). */
  batchesFailed: number;
  /** The first answer body (cut short) of each status not retried, and the first message of each error. */
  samples: Record<string, string>;
  errors: number;
  timeouts: number;
  seconds: number;
  eventsPerSecond: number;
  /** Every answer, whatever its status. */
  latency: Percentiles;
  /** Of the batches answered 200, from the send of the attempt that got the 200 (a refused batch's quick 429 would make the others look fast). */
  answered: Percentiles;
  /** Of the batches answered 200, from their first attempt: refusals and Retry-After waits included. */
  delivered: Percentiles;
  stoppedByTime: boolean;
  /** CPU time of this process (the load generator) while it ran, in µs. */
  cpuMicros: number;
}

function percentiles(ms: ArrayLike<number>, count = ms.length): Percentiles {
  if (count === 0) return { p50: 0, p99: 0, max: 0 };
  const sorted = Float64Array.from({ length: count }, (_, i) => ms[i]!).sort();
  const at = (q: number) => Math.round(sorted[Math.min(count - 1, Math.floor(q * count))]!);
  return { p50: at(0.5), p99: at(0.99), max: Math.round(sorted[count - 1]!) };
}

/** One request to its end: the status (0 when there was no answer), its Retry-After, and the time from send to answer. */
interface Attempt {
  status: number;
  retryAfter: string | undefined;
  /** The answer's body when it is not a 200 (cut short), or the error. */
  text: string;
  timedOut: boolean;
  ms: number;
}

const REQUEST_TIMEOUT_MS = 30_000;
const TIMED_OUT = `no complete answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
/** The longest Retry-After honoured (Fiducia sends at most 30 s). */
const MAX_WAIT_MS = 30_000;
const AUTHORIZATION = `Basic ${Buffer.from(`${BENCH_WRITE_KEY}:`).toString('base64')}`;

function post(agent: Agent, port: number, body: Buffer): Promise<Attempt> {
  return new Promise((resolve) => {
    const sent = performance.now();
    let settled = false;
    let timedOut = false;
    const settle = (status: number, retryAfter: string | undefined, text: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ status, retryAfter, text, timedOut, ms: performance.now() - sent });
    };
    const req = httpRequest(
      { agent, host: '127.0.0.1', port, method: 'POST', path: '/v1/batch', headers: { 'content-type': 'application/json', authorization: AUTHORIZATION, 'content-length': body.length } },
      (res) => {
        const status = res.statusCode ?? 0;
        let text = '';
        if (status === 200) res.resume();
        else {
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            if (text.length < 300) text += chunk;
          });
        }
        res.on('end', () => settle(status, res.headers['retry-after'], text));
        // An answer cut off (by the timeout below, or the server) is no answer: never counted as acknowledged.
        res.on('close', () => settle(0, undefined, timedOut ? TIMED_OUT : 'connection closed before the answer ended'));
      },
    );
    const timer = setTimeout(() => {
      timedOut = true;
      req.destroy(new Error(TIMED_OUT));
    }, REQUEST_TIMEOUT_MS);
    req.on('error', (err) => settle(0, undefined, timedOut ? TIMED_OUT : err.message));
    req.end(body);
  });
}

/** A Retry-After in whole seconds as milliseconds, capped; null when there is none to honour. */
function retryAfterMs(value: string | undefined): number | null {
  if (value === undefined || !/^\d{1,6}$/.test(value)) return null;
  return Math.min(Number(value) * 1000, MAX_WAIT_MS);
}

/**
 * Sends every body over `connections` keep-alive connections, one request at a time on each, as an SDK does: a batch
 * refused with 429 and Retry-After is sent again, unchanged (same messageIds), after that wait. No new request starts
 * after `maxSeconds` (a wait that would cross it ends its connection's work); requests in flight then are awaited, so
 * `batchesOk` is exact.
 */
export async function runLoad(
  port: number,
  bodies: readonly string[],
  eventRows: readonly number[],
  connections: number,
  maxSeconds: number,
): Promise<LoadResult> {
  const n = bodies.length;
  const conns = Math.max(1, Math.min(connections, n));
  // Encoded once, before the clock starts: a request then writes its body without converting or scanning it.
  const buffers = bodies.map((b) => Buffer.from(b));
  const agent = new Agent({ keepAlive: true, maxSockets: conns, noDelay: true });
  const answeredMs = new Float64Array(n);
  const deliveredMs = new Float64Array(n);
  const allMs: number[] = [];
  const statusCodes: Record<string, number> = {};
  const samples: Record<string, string> = {};
  // Counters of the run (one object: read by the workers and by the result below).
  const c = { next: 0, batchesOk: 0, eventRowsOk: 0, requests: 0, non2xx: 0, refusals: 0, retries: 0, refusedAtEnd: 0, batchesFailed: 0, maxAttempts: 0, errors: 0, timeouts: 0 };

  const cpu = process.cpuUsage();
  const started = performance.now();
  const deadline = started + maxSeconds * 1000;

  const worker = async (): Promise<void> => {
    while (performance.now() < deadline && c.next < n) {
      const i = c.next++;
      const first = performance.now();
      for (let attempt = 0; ; attempt++) {
        if (attempt > 0) c.retries++;
        c.requests++;
        if (attempt >= c.maxAttempts) c.maxAttempts = attempt + 1;
        const a = await post(agent, port, buffers[i]!);
        if (a.status === 0) {
          if (a.timedOut) c.timeouts++;
          else c.errors++;
          samples[a.timedOut ? 'timeout' : 'error'] ??= a.text;
          c.batchesFailed++;
          break;
        }
        allMs.push(a.ms);
        statusCodes[a.status] = (statusCodes[a.status] ?? 0) + 1;
        if (a.status === 200) {
          answeredMs[c.batchesOk] = a.ms;
          deliveredMs[c.batchesOk] = performance.now() - first;
          c.batchesOk++;
          c.eventRowsOk += eventRows[i] ?? 0;
          break;
        }
        c.non2xx++;
        const wait = a.status === 429 ? retryAfterMs(a.retryAfter) : null;
        if (wait === null) {
          samples[String(a.status)] ??= a.text;
          c.batchesFailed++;
          break;
        }
        c.refusals++;
        if (performance.now() + wait >= deadline) {
          c.refusedAtEnd++;
          return;
        }
        await new Promise((done) => setTimeout(done, wait));
        // A late timer may wake past the bound: no request starts after it.
        if (performance.now() >= deadline) {
          c.refusedAtEnd++;
          return;
        }
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: conns }, worker));
  } finally {
    agent.destroy();
  }
  const seconds = (performance.now() - started) / 1000;
  const cpuUsed = process.cpuUsage(cpu);
  const batchesSent = Math.min(c.next, n);
  return {
    batchesSent,
    batchesOk: c.batchesOk,
    eventsOk: c.batchesOk * BATCH_SIZE,
    eventRowsOk: c.eventRowsOk,
    requests: c.requests,
    non2xx: c.non2xx,
    statusCodes,
    refusals: c.refusals,
    retries: c.retries,
    refusedAtEnd: c.refusedAtEnd,
    batchesFailed: c.batchesFailed,
    maxAttempts: c.maxAttempts,
    samples,
    errors: c.errors,
    timeouts: c.timeouts,
    seconds,
    eventsPerSecond: (c.batchesOk * BATCH_SIZE) / seconds,
    latency: percentiles(allMs),
    answered: percentiles(answeredMs, c.batchesOk),
    delivered: percentiles(deliveredMs, c.batchesOk),
    stoppedByTime: batchesSent < n || c.refusedAtEnd > 0,
    cpuMicros: cpuUsed.user + cpuUsed.system,
  };
}

/** Whether the counts of a load agree with each other (every batch and every request accounted for once). */
export function countsAddUp(r: LoadResult): boolean {
  const answers = Object.values(r.statusCodes).reduce((a, b) => a + b, 0);
  return (
    r.batchesSent === r.batchesOk + r.refusedAtEnd + r.batchesFailed &&
    r.requests === r.batchesSent + r.retries &&
    r.requests === answers + r.errors + r.timeouts &&
    answers === (r.statusCodes['200'] ?? 0) + r.non2xx &&
    r.batchesOk === (r.statusCodes['200'] ?? 0)
  );
}
