// The Fiducia under test for bench/reads.ts, in its own process, beside a plain Fastify echo route (the baseline).
// Seeds profiles with 20 traits each through the ingestion API, then serves reads; talks to the parent over IPC.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { sql } from 'kysely';
import { pino } from 'pino';
import { createFiducia, type FiduciaOptions } from '../src/app.ts';
import { AuditBatcher } from '../src/services/audit/audit-batcher.ts';
import { DEFAULT_CONFIG_PATH } from '../src/services/config/config-loader.ts';
import { BENCH_ADMIN_TOKEN, BENCH_WRITE_KEY } from './protocol.ts';
import { installSqlTiming, sqlTimings, type SqlTiming } from './sql-timing.ts';

export type ReadsServerReply =
  | { type: 'ready'; port: number; echoPort: number; auditedEchoPort: number; token: string; subjects: number; seedSeconds: number }
  | { type: 'stats'; auditReads: number; auditEntries: number; sql: SqlTiming[] | null; cpuMicros: number }
  | { type: 'stopped' }
  | { type: 'error'; message: string };
export type ReadsServerRequest = { cmd: 'stats' } | { cmd: 'stop' };

/** Twenty traits of the shipped tracking plan: 13 readable for personalization, 7 withheld (contact, account, campaign…). */
export function benchTraits(i: number): Record<string, unknown> {
  return {
    email: `user${i}@example.com`, phone: `+39 333 ${String(1_000_000 + i)}`, address: { city: 'Milano', zip: '20100' },
    firstName: 'Ada', lastName: `Rossi${i}`, name: `Ada Rossi${i}`, birthday: '1990-12-10', age: 20 + (i % 50), gender: i % 2 ? 'f' : 'm',
    language: 'it', username: `user${i}`, company: 'ACME S.p.A.', title: 'Buyer', favoriteCategory: ['shoes', 'bags', 'coats'][i % 3],
    interests: ['running', 'hiking'], lifestyle: 'sporty', attitudes: 'eco-conscious', newsletter: i % 3 === 0, preferredChannel: 'email', lastCampaign: 'autumn-sale',
  };
}

/** The echo payload has the size of a typical profile answer, so both routes serialize comparable JSON. */
const ECHO_FILL = 'x'.repeat(900);

function send(msg: ReadsServerReply): void {
  process.send?.(msg);
}

async function main(): Promise<void> {
  if (!process.send) throw new Error('bench/reads-server.ts must be started by bench/reads.ts (it needs an IPC channel)');
  const env = process.env;
  const subjects = Number(env.BENCH_SUBJECTS ?? '2000');
  if (!env.BENCH_DATA_DIR) throw new Error('BENCH_DATA_DIR is required');
  // The bench's service token reads thousands of people a minute, as a busy recommendation service would: detection
  // still counts every read (its cost is measured) but its thresholds are raised past the run, so it never suspends.
  const configPath = join(env.BENCH_DATA_DIR, 'bench-fiducia.yaml');
  const detection = ['detection:', '  windows:', '    - { seconds: 60, subjects: 10000000 }', '  suspend: [service]'].join('\n');
  writeFileSync(configPath, `${readFileSync(DEFAULT_CONFIG_PATH, 'utf8')}\n${detection}\n`);
  const options: FiduciaOptions = {
    configPath,
    dataDir: env.BENCH_DATA_DIR ?? '',
    databaseUrl: env.BENCH_DATABASE_URL || undefined,
    schema: env.BENCH_SCHEMA || undefined,
    keysSchema: env.BENCH_KEYS_SCHEMA || undefined,
    masterKey: env.BENCH_MASTER_KEY,
    writeKey: BENCH_WRITE_KEY,
    adminToken: BENCH_ADMIN_TOKEN,
    auditCheckpointSeconds: 0,
    logger: pino({ level: 'silent' }),
    readCacheSubjects: env.BENCH_READ_CACHE_SUBJECTS ? Number(env.BENCH_READ_CACHE_SUBJECTS) : undefined,
  };
  if (!options.dataDir) throw new Error('BENCH_DATA_DIR is required');
  // BENCH_SQL_TIMING=1: time each statement shape (bench/sql-timing.ts), from the end of seeding on.
  const timing = env.BENCH_SQL_TIMING === '1';
  if (timing) installSqlTiming();
  const fiducia = await createFiducia(options);

  // Seed: identify calls granting analytics, personalization and marketing in Segment's consent context.
  const t0 = performance.now();
  const auth = `Basic ${Buffer.from(`${BENCH_WRITE_KEY}:`).toString('base64')}`;
  const consent = { consent: { categoryPreferences: { analytics: true, personalization: true, marketing: true } } };
  // Sent all at once, as before backpressure; a batch refused with 429 is sent again after its Retry-After, as an SDK does.
  const seed = async (batch: object[]): Promise<void> => {
    for (;;) {
      const r = await fiducia.app.inject({ method: 'POST', url: '/v1/batch', headers: { authorization: auth }, payload: { batch } });
      if (r.statusCode === 200) return;
      if (r.statusCode !== 429) throw new Error(`seeding failed: ${r.statusCode} ${r.body}`);
      await new Promise((done) => setTimeout(done, Number(r.headers['retry-after'] ?? 1) * 1000));
    }
  };
  const batches = [];
  for (let i = 0; i < subjects; i += 100) {
    const batch = [];
    for (let j = i; j < Math.min(i + 100, subjects); j++) batch.push({ type: 'identify', userId: `bench-u-${j}`, traits: benchTraits(j), context: consent });
    batches.push(seed(batch));
  }
  await Promise.all(batches);
  const seedSeconds = (performance.now() - t0) / 1000;
  const { id: tokenId, token } = await fiducia.access.createToken({ name: 'bench personalization', role: 'service', purposes: ['personalization'] });
  // Statement times of the seeding are subtracted from what is reported.
  const seeded = new Map((timing ? sqlTimings() : []).map((t) => [t.sql, t]));

  const address = await fiducia.app.listen({ host: '127.0.0.1', port: 0 });
  // The baseline: the same Fastify, no auth, no database, no crypto, no audit; a JSON answer of similar size.
  const echo = Fastify({ logger: false });
  echo.get('/echo/:identity', async (req) => ({ identity: (req.params as { identity: string }).identity, purpose: (req.query as { purpose?: string }).purpose ?? null, fill: ECHO_FILL }));
  const echoAddress = await echo.listen({ host: '127.0.0.1', port: 0 });
  // What bounds the reads under the design's rule that a read is answered only once its audit entry is committed: the
  // same echo, answered after an entry of a read's shape is appended durably, in groups, as profile reads append theirs
  // (the same batcher, log and database). No auth, lookup, policy or decryption: less than any read must do.
  const auditedEcho = Fastify({ logger: false });
  const batcher = new AuditBatcher(fiducia.audit, fiducia.dbs.store);
  const subjectIds: string[] = [];
  for (let i = 0; i < subjects; i++) {
    const id = await fiducia.profiles.subjectIdOf({ kind: 'userId', value: `bench-u-${i}` });
    if (!id) throw new Error(`bench-u-${i} was not seeded`);
    subjectIds.push(id);
  }
  const returned = Object.keys(benchTraits(0)).slice(0, 13);
  auditedEcho.get('/echo/:identity', async (req) => {
    const identity = (req.params as { identity: string }).identity;
    const purpose = (req.query as { purpose?: string }).purpose ?? null;
    await batcher.append({
      actor: tokenId,
      action: 'bench.audited_echo',
      purpose,
      subjectId: subjectIds[Number(identity.slice('userId:bench-u-'.length)) % subjects] ?? null,
      fields: returned,
      counts: { returned: returned.length, withheld: 7, segments: 0 },
      outcome: 'ok',
      details: { role: 'service', withheld: 'email:no_consent,phone:no_consent' },
    });
    return { identity, purpose, fill: ECHO_FILL };
  });
  const auditedEchoAddress = await auditedEcho.listen({ host: '127.0.0.1', port: 0 });
  // BENCH_CPU_PROF_DIR: a V8 CPU profile of the serving only (from here to the stop), without startup and seeding.
  const profDir = env.BENCH_CPU_PROF_DIR;
  const inspector = profDir ? new Session() : null;
  if (inspector) {
    inspector.connect();
    await inspector.post('Profiler.enable');
    await inspector.post('Profiler.start');
  }
  send({ type: 'ready', port: Number(new URL(address).port), echoPort: Number(new URL(echoAddress).port), auditedEchoPort: Number(new URL(auditedEchoAddress).port), token, subjects, seedSeconds });

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    if (inspector && profDir) {
      const { profile } = await inspector.post('Profiler.stop');
      mkdirSync(profDir, { recursive: true });
      writeFileSync(join(profDir, `serve-${process.pid}.cpuprofile`), JSON.stringify(profile));
      inspector.disconnect();
    }
    await echo.close();
    await auditedEcho.close();
    await batcher.flush();
    await fiducia.close();
    send({ type: 'stopped' });
    process.exit(0);
  };
  process.on('disconnect', () => void stop());
  process.on('message', (raw: ReadsServerRequest) => {
    void (async () => {
      try {
        if (raw.cmd === 'stop') return await stop();
        const count = async (action?: string) => {
          const q = action ? sql<{ n: number | string }>`select count(*) as n from audit_entries where action = ${action}` : sql<{ n: number | string }>`select count(*) as n from audit_entries`;
          return Number((await q.execute(fiducia.dbs.data)).rows[0]?.n ?? 0);
        };
        const sqlStats = timing
          ? sqlTimings()
              .map((t) => ({ sql: t.sql, count: t.count - (seeded.get(t.sql)?.count ?? 0), ms: t.ms - (seeded.get(t.sql)?.ms ?? 0) }))
              .filter((t) => t.count > 0)
              .sort((a, b) => b.ms - a.ms)
          : null;
        // CPU time of this process (user + system): per request it does not depend on how busy the machine is.
        const cpu = process.cpuUsage();
        send({ type: 'stats', auditReads: await count('profile.read'), auditEntries: await count(), sql: sqlStats, cpuMicros: cpu.user + cpu.system });
      } catch (err) {
        send({ type: 'error', message: (err as Error).message });
      }
    })();
  });
}

// Only when started as a program: bench/reads.ts imports the types and `benchTraits` from here.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    send({ type: 'error', message: (err as Error).stack ?? String(err) });
    process.exit(1);
  });
}
