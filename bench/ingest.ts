// Drives POST /v1/batch of a Fiducia running in a child process, with autocannon and pre-built bodies.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon, { type AutocannonResult } from 'autocannon';
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

export interface LoadResult {
  batchesSent: number;
  batchesOk: number;
  /** Messages in the batches answered 200. */
  eventsOk: number;
  /** `events` rows the answered batches should have produced (track and page). */
  eventRowsOk: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  errors: number;
  timeouts: number;
  seconds: number;
  eventsPerSecond: number;
  latency: { p50: number; p99: number; max: number };
  /** Of the batches answered 200 only (a refused batch's quick 503 would make the others look fast). */
  answered: { p50: number; p99: number; max: number };
  stoppedByTime: boolean;
}

function percentiles(ms: number[]): { p50: number; p99: number; max: number } {
  if (ms.length === 0) return { p50: 0, p99: 0, max: 0 };
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
  return { p50: at(0.5), p99: at(0.99), max: Math.round(sorted.at(-1)!) };
}

/** Sends each body once over `connections` keep-alive connections; stops early after `maxSeconds`. */
export async function runLoad(
  port: number,
  bodies: readonly string[],
  eventRows: readonly number[],
  connections: number,
  maxSeconds: number,
): Promise<LoadResult> {
  let next = 0;
  let batchesOk = 0;
  let eventRowsOk = 0;
  const conns = Math.min(connections, bodies.length);
  const started = performance.now();
  let stoppedByTime = false;
  const answeredMs: number[] = [];
  const result = await new Promise<AutocannonResult>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${port}`,
        connections: conns,
        amount: bodies.length,
        timeout: 30,
        requests: [
          {
            method: 'POST',
            path: '/v1/batch',
            headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${BENCH_WRITE_KEY}:`).toString('base64')}` },
            setupRequest(req, context) {
              const i = next++;
              context.index = i;
              // Past the end only if autocannon asks for more than `amount`; repeat the last body (a duplicate).
              return { ...req, body: bodies[Math.min(i, bodies.length - 1)]! };
            },
            onResponse(status, _body, context) {
              if (status !== 200) return;
              batchesOk++;
              eventRowsOk += eventRows[context.index as number] ?? 0;
            },
          },
        ],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode === 200) answeredMs.push(responseTime);
    });
    const timer = setTimeout(() => {
      stoppedByTime = true;
      instance.stop();
    }, maxSeconds * 1000);
    instance.on('done', () => clearTimeout(timer));
  });
  const seconds = (performance.now() - started) / 1000;
  const statusCodes: Record<string, number> = {};
  for (const [code, s] of Object.entries(result.statusCodeStats)) statusCodes[code] = s.count;
  return {
    batchesSent: Math.min(next, bodies.length),
    batchesOk,
    eventsOk: batchesOk * BATCH_SIZE,
    eventRowsOk,
    non2xx: result.non2xx,
    statusCodes,
    errors: result.errors,
    timeouts: result.timeouts,
    seconds,
    eventsPerSecond: (batchesOk * BATCH_SIZE) / seconds,
    latency: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
    answered: percentiles(answeredMs),
    stoppedByTime,
  };
}
