// Rights requests: time to export (access package built, encrypted, stored) and to erase a subject with 10,000 events,
// against raw SQL on the same rows in the same run (SELECT of the subject's events; DELETE of another subject's events).
// In-process (app.inject); `tsx bench/rights.ts` runs it alone. Targets on SQLite: export ≤ 300 ms, erasure ≤ 100 ms.
import { injectBatches, pgReachable } from './common.ts';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { createFiducia, type Fiducia } from '../src/app.ts';
import type { Mailer } from '../src/services/rights/mailer.ts';
import { dropPgSchema, type Dialect } from '../src/store/database.ts';

const PG_URL = process.env.FIDUCIA_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const EVENTS = Number(process.env.RIGHTS_BENCH_EVENTS ?? 10_000);
const REPS = 3;
const TOKEN = 'bench-admin-token-0123456789';
const WRITE_KEY = 'bench-write-key-0123456789';
const TARGETS_MS: Record<Dialect, { exportMs: number | null; eraseMs: number | null }> = {
  sqlite: { exportMs: 300, eraseMs: 100 },
  postgres: { exportMs: null, eraseMs: null },
};
const staff = { authorization: `Bearer ${TOKEN}` };
const basic = { authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` };
const quietMailer: Mailer = { send: async () => undefined };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (n: number) => `${n.toFixed(1)} ms`;


/** One person with `EVENTS` shop events (browsing and orders), consent to analytics, identify traits. */
async function seed(f: Fiducia, tag: string): Promise<string> {
  const anonymousId = `anon-${tag}`;
  const userId = `user-${tag}`;
  const c = await f.app.inject({ method: 'POST', url: '/v1/consent', headers: basic, payload: { anonymousId, purposes: { analytics: true, personalization: true }, noticeVersion: f.cfg.config.notice.current } });
  if (c.statusCode !== 200) throw new Error(`consent refused: ${c.body}`);
  const batches: unknown[][] = [[{ type: 'identify', userId, anonymousId, traits: { email: `${tag}@example.com`, firstName: 'Bench', favoriteCategory: 'shoes' } }]];
  for (let i = 0; i < EVENTS; i += 400) {
    const batch = [];
    for (let j = i; j < Math.min(EVENTS, i + 400); j++) {
      batch.push(
        j % 3 === 0
          ? { type: 'track', userId, event: 'Order Completed', messageId: `${tag}-${j}`, properties: { order_id: `o-${j}`, total: j % 97, currency: 'EUR', products: [{ product_id: `p-${j % 50}`, price: 10 }] } }
          : { type: 'track', userId, event: 'Product Viewed', messageId: `${tag}-${j}`, properties: { product_id: `p-${j % 50}`, name: 'Running shoe', price: 79.9, category: 'shoes' } },
      );
    }
    batches.push(batch);
  }
  await injectBatches(f, batches, basic);
  const bi = f.ring.blindIndex.index('userId', userId);
  const row = await f.dbs.data.selectFrom('identities').select('subject_id').where('kind', '=', 'userId').where('blind_index', '=', bi).executeTakeFirstOrThrow();
  const n = await f.dbs.data.selectFrom('events').select((eb) => eb.fn.countAll<number>().as('n')).where('subject_id', '=', row.subject_id).executeTakeFirstOrThrow();
  if (Number(n.n) !== EVENTS) throw new Error(`seeded ${String(n.n)} events, expected ${EVENTS}`);
  return row.subject_id;
}

/** Wall time, and this process's CPU time (on SQLite all of the work; a busy machine inflates wall time, not CPU). */
async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; cpuMs: number; value: T }> {
  const c = process.cpuUsage();
  const t = performance.now();
  const value = await fn();
  const used = process.cpuUsage(c);
  return { ms: performance.now() - t, cpuMs: (used.user + used.system) / 1000, value };
}

async function request(f: Fiducia, body: Record<string, unknown>): Promise<{ id: string; status: string }> {
  const r = await f.app.inject({ method: 'POST', url: '/api/v1/rights-requests', headers: staff, payload: body });
  if (r.statusCode !== 202) throw new Error(`rights request refused: ${r.body}`);
  return r.json();
}

async function benchDialect(dialect: Dialect, log: (line: string) => void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fiducia-bench-rights-'));
  const schema = `bench_rights_${randomBytes(4).toString('hex')}`;
  const store = dialect === 'sqlite' ? {} : { databaseUrl: PG_URL, schema, keysSchema: `${schema}_keys` };
  const f = await createFiducia({
    dataDir: dir,
    ...store,
    masterKey: randomBytes(32).toString('base64'),
    adminToken: TOKEN,
    writeKey: WRITE_KEY,
    logger: pino({ level: 'silent' }),
    mailer: quietMailer,
    auditCheckpointSeconds: 0,
    rightsSweepMs: 0,
    segmentRefreshMs: 0,
  });
  try {
    const t0 = performance.now();
    const exported = await seed(f, 'export');
    const erased: string[] = [];
    const deleted: string[] = [];
    for (let i = 0; i < REPS; i++) {
      erased.push(await seed(f, `erase${i}`));
      deleted.push(await seed(f, `raw${i}`));
    }
    log(`   seeded ${1 + 2 * REPS} subjects × ${EVENTS.toLocaleString('en-US')} events through /v1/batch in ${((performance.now() - t0) / 1000).toFixed(1)} s (not measured)`);

    // Export: the access request end to end (read + decrypt everything, build, encrypt, store, audit), then its download.
    const exportMs: number[] = [];
    const exportCpu: number[] = [];
    const downloadMs: number[] = [];
    const selectMs: number[] = [];
    const selectCpu: number[] = [];
    let bytes = 0;
    for (let i = 0; i < REPS + 1; i++) {
      const req = await timed(() => request(f, { type: 'access', identity: 'userId:user-export' }));
      const dl = await timed(() => f.app.inject({ method: 'GET', url: `/api/v1/rights-requests/${req.value.id}/export`, headers: staff }));
      if (dl.value.statusCode !== 200) throw new Error(`export failed: ${dl.value.body}`);
      bytes = dl.value.body.length;
      const raw = await timed(() => f.dbs.data.selectFrom('events').selectAll().where('subject_id', '=', exported).orderBy('id').execute());
      if (raw.value.length !== EVENTS) throw new Error('baseline read the wrong rows');
      if (i === 0) continue; // warm-up (statement caches, JIT)
      exportMs.push(req.ms);
      exportCpu.push(req.cpuMs);
      downloadMs.push(dl.ms);
      selectMs.push(raw.ms);
      selectCpu.push(raw.cpuMs);
    }

    // Erasure: the request end to end (rows deleted, subject marked, audit, keys destroyed); baseline: a raw DELETE.
    const eraseMs: number[] = [];
    const eraseCpu: number[] = [];
    const deleteMs: number[] = [];
    const deleteCpu: number[] = [];
    for (let i = 0; i < REPS; i++) {
      const req = await timed(() => request(f, { type: 'erasure', identity: `userId:user-erase${i}` }));
      if (req.value.status !== 'completed') throw new Error(`erasure ended ${req.value.status}`);
      const left = await f.dbs.data.selectFrom('events').select('id').where('subject_id', '=', erased[i]!).limit(1).execute();
      if (left.length > 0) throw new Error('erasure left events behind');
      const raw = await timed(() => f.dbs.data.transaction().execute((trx) => trx.deleteFrom('events').where('subject_id', '=', deleted[i]!).execute()));
      eraseMs.push(req.ms);
      eraseCpu.push(req.cpuMs);
      deleteMs.push(raw.ms);
      deleteCpu.push(raw.cpuMs);
    }

    const t = TARGETS_MS[dialect];
    const verdict = (v: number, target: number | null) => (target === null ? 'no target' : v <= target ? `target ≤ ${target} ms: MET` : `target ≤ ${target} ms: MISSED`);
    const e = median(exportMs);
    const x = median(eraseMs);
    log(`${dialect.padEnd(8)} export (access request → encrypted package stored), ${EVENTS.toLocaleString('en-US')} events: median ${ms(e)} | raw SELECT of the same rows ${ms(median(selectMs))} | ratio ${(e / median(selectMs)).toFixed(1)}× | ${verdict(e, t.exportMs)}`);
    log(`         download of that package (decrypt + send JSON, ${(bytes / 1024 / 1024).toFixed(1)} MiB): median ${ms(median(downloadMs))}`);
    log(`${dialect.padEnd(8)} erasure (rows deleted + keys destroyed, audited), ${EVENTS.toLocaleString('en-US')} events: median ${ms(x)} | raw DELETE of as many rows ${ms(median(deleteMs))} | ratio ${(x / median(deleteMs)).toFixed(1)}× | ${verdict(x, t.eraseMs)}`);
    log(`         cpu of this process (median): export ${ms(median(exportCpu))}, raw SELECT ${ms(median(selectCpu))}; erasure ${ms(median(eraseCpu))}, raw DELETE ${ms(median(deleteCpu))}`);
    log(`         runs: export ${exportMs.map((v) => v.toFixed(0)).join('/')} ms, erasure ${eraseMs.map((v) => v.toFixed(0)).join('/')} ms, raw delete ${deleteMs.map((v) => v.toFixed(0)).join('/')} ms`);
  } finally {
    await f.close();
    rmSync(dir, { recursive: true, force: true });
    if (dialect === 'postgres') {
      await dropPgSchema(PG_URL, schema);
      await dropPgSchema(PG_URL, `${schema}_keys`);
    }
  }
}

/** The run skips PostgreSQL when SQLite alone took longer than this (a very busy machine). */
const TIME_BOUND_MS = 150_000;

export async function run(log: (line: string) => void): Promise<void> {
  log(`\n== rights requests: export and erasure of a subject with ${EVENTS.toLocaleString('en-US')} events (${REPS} runs each, median)`);
  const t0 = performance.now();
  for (const dialect of ['sqlite', 'postgres'] as const) {
    if (performance.now() - t0 > TIME_BOUND_MS) {
      log(`   ${dialect}: skipped, the run is past its time bound (${TIME_BOUND_MS / 1000} s)`);
      continue;
    }
    if (dialect === 'postgres' && !(await pgReachable(PG_URL))) {
      log(`   postgres: ${PG_URL} is not reachable, skipped`);
      continue;
    }
    await benchDialect(dialect, log);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  run((line) => process.stdout.write(`${line}\n`)).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bench/rights: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
