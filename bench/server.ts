// The Fiducia under test, in its own process so the load generator does not share its event loop.
// Started by bench/ingest.ts with `node --import tsx bench/server.ts`; talks to it over IPC.
import { PerformanceObserver } from 'node:perf_hooks';
import { sql } from 'kysely';
import { pino } from 'pino';
import { createFiducia, type FiduciaOptions } from '../src/app.ts';
import { installSqlTiming, sqlTimings } from './sql-timing.ts';
import { BENCH_ADMIN_TOKEN, BENCH_WRITE_KEY, type ServerReply, type ServerRequest, type ServerStats } from './protocol.ts';

const TABLES = ['events', 'subjects', 'identities', 'traits', 'consents', 'ingested_messages'] as const;

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function send(msg: ServerReply): void {
  process.send?.(msg);
}

async function main(): Promise<void> {
  if (!process.send) throw new Error('bench/server.ts must be started by bench/run.ts (it needs an IPC channel)');
  const env = process.env;
  const options: FiduciaOptions = {
    dataDir: env.BENCH_DATA_DIR ?? '',
    databaseUrl: env.BENCH_DATABASE_URL || undefined,
    schema: env.BENCH_SCHEMA || undefined,
    keysSchema: env.BENCH_KEYS_SCHEMA || undefined,
    masterKey: env.BENCH_MASTER_KEY,
    writeKey: BENCH_WRITE_KEY,
    adminToken: BENCH_ADMIN_TOKEN,
    logger: pino({ level: 'silent' }),
    // The live debugger off, to measure what it costs (docs/performance.md).
    ...(env.FIDUCIA_DEBUGGER === '0' ? { debugger: { enabled: false } } : {}),
    // The backpressure bound, to compare settings (README: FIDUCIA_INGEST_MAX_QUEUE_MS).
    ...(env.FIDUCIA_INGEST_MAX_QUEUE_MS ? { ingestAdmission: { maxQueueMs: Number(env.FIDUCIA_INGEST_MAX_QUEUE_MS) } } : {}),
  };
  if (!options.dataDir) throw new Error('BENCH_DATA_DIR is required');
  const timing = env.BENCH_SQL_TIMING === '1';
  if (timing) installSqlTiming();
  const fiducia = await createFiducia(options);
  // Stalls of the event loop: a tick every 50 ms, and any gap more than 250 ms past it counted (every request in flight
  // waited that long).
  const stalls = { count: 0, longestMs: 0, totalMs: 0 };
  let tick = performance.now();
  setInterval(() => {
    const now = performance.now();
    const late = now - tick - 50;
    tick = now;
    if (late <= 250) return;
    stalls.count++;
    stalls.totalMs += Math.round(late);
    stalls.longestMs = Math.max(stalls.longestMs, Math.round(late));
  }, 50).unref();
  // Collections, to tell a long one from a long synchronous statement among the stalls.
  const gc = { longestMs: 0, totalMs: 0 };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gc.totalMs += e.duration;
      gc.longestMs = Math.max(gc.longestMs, e.duration);
    }
  }).observe({ entryTypes: ['gc'] });
  const address = await fiducia.app.listen({ host: '127.0.0.1', port: 0 });
  send({ type: 'ready', port: Number(new URL(address).port) });

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await fiducia.close();
    send({ type: 'stopped' });
    // exit() (not a natural end) so that --cpu-prof writes its profile even if a handle lingers.
    process.exit(0);
  };
  // The parent went away: do not outlive it.
  process.on('disconnect', () => void stop());

  process.on('message', (raw: ServerRequest) => {
    void (async () => {
      try {
        if (raw.cmd === 'stop') return await stop();
        const tables: Record<string, number> = {};
        for (const t of TABLES) {
          const r = await sql<{ n: number | string }>`select count(*) as n from ${sql.table(t)}`.execute(fiducia.dbs.data);
          tables[t] = Number(r.rows[0]?.n ?? 0);
        }
        const messages: Record<string, number> = {};
        const dropped: Record<string, number> = {};
        const identity: Record<string, number> = {};
        let flushes: ServerStats['flushes'] = null;
        for (const m of await fiducia.metrics.registry.getMetricsAsJSON()) {
          for (const v of m.values) {
            const labels = v.labels as Record<string, string | number>;
            if (m.name === 'fiducia_messages_total') messages[`${labels.type}/${labels.outcome}`] = v.value;
            if (m.name === 'fiducia_dropped_fields_total') dropped[`${labels.kind}/${labels.reason}`] = v.value;
            if (m.name === 'fiducia_identity_events_total') identity[String(labels.event)] = v.value;
            if (m.name.endsWith('flush_seconds')) {
              flushes ??= { count: 0, seconds: 0, overOneSecond: 0 };
              const name = (v as { metricName?: string }).metricName ?? '';
              if (name.endsWith('_count')) flushes.count = v.value;
              if (name.endsWith('_sum')) flushes.seconds = v.value;
              if (name.endsWith('_bucket') && labels.le === 1) flushes.overOneSecond = -v.value;
            }
          }
        }
        // The histogram's top bucket is 1 s: what is over it is the count less that bucket.
        if (flushes) flushes.overOneSecond += flushes.count;
        send({ type: 'stats', stats: { tables, messages, dropped, identity, flushes, stalls: { ...stalls }, gc: { longestMs: Math.round(gc.longestMs), totalMs: Math.round(gc.totalMs) }, sql: timing ? sqlTimings() : null, cpuMicros: cpuMicros() } });
      } catch (err) {
        send({ type: 'error', message: (err as Error).message });
      }
    })();
  });
}

main().catch((err: unknown) => {
  send({ type: 'error', message: (err as Error).stack ?? String(err) });
  process.exit(1);
});
