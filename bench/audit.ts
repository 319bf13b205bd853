// Audit-log benchmark: batched appends per second (against plain inserts of the same rows) and the time to verify 1,000,000 entries
// (against reading the same rows). `npx tsx bench/audit.ts [--only sqlite|postgres] [--entries N]`.
import { machineBusyMicros, pgReachable, runScript } from './common.ts';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { openCore, type FiduciaOptions } from '../src/app.ts';
import { canonicalEntryBytes, entryParts } from '../src/domain/audit-entry.ts';
import { leafHash } from '../src/domain/merkle.ts';
import type { AuditEntryInput } from '../src/services/audit/audit-port.ts';
import { AuditRepo } from '../src/store/audit-repo.ts';
import { dropPgSchema, type Databases, type Dialect } from '../src/store/database.ts';
import { pgByteaArray, pgInt8Array, pgTextArray } from '../src/store/pg-binary-array.ts';

const PG_URL = process.env.FIDUCIA_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const BATCH = 1000;
const TARGET_APPENDS = 50_000;
const TARGET_VERIFY_MS = 3000;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

interface Figures {
  dialect: Dialect;
  appended: number;
  appendsPerSecond: number;
  plainPerSecond: number;
  verified: number;
  verifyMs: number;
  readMs: number;
  ok: boolean;
}

/** Entries shaped like the hot path's: `ingest.batch` per subject, and `profile.read` with purpose and fields. */
function workload(n: number): AuditEntryInput[] {
  const subjects = Array.from({ length: 20_000 }, () => randomUUID());
  return Array.from({ length: n }, (_, i) =>
    i % 3 === 0
      ? { actor: 'tok_0193b1c2', action: 'profile.read', purpose: 'personalization', subjectId: subjects[i % subjects.length]!, fields: ['favoriteCategory', 'firstName', 'interests'], outcome: 'ok' as const }
      : { actor: 'source:0193b1c2-aaaa-7000-8000-000000000001', action: 'ingest.batch', subjectId: subjects[i % subjects.length]!, fields: ['trait:email'], counts: { events: 4, traits: 1, consents: 0 }, outcome: 'ok' as const },
  );
}

/**
 * The baseline: the same rows (same columns and indexes) inserted the way AuditRepo inserts them (one prepared statement
 * per row on SQLite, binary column arrays on PostgreSQL), without hashing, tree or head lock.
 */
async function plainInserts(dbs: Databases, entries: readonly AuditEntryInput[]): Promise<number> {
  const db = dbs.data;
  await sql`create table bench_plain as select * from audit_entries where 1 = 0`.execute(db);
  const indexes = await indexColumns(dbs);
  for (const [i, cols] of indexes.entries()) await sql.raw(`create index bench_plain_${i} on bench_plain (${cols})`).execute(db);
  const leaf = Buffer.alloc(32, 7);
  const t = performance.now();
  for (let i = 0; i < entries.length; i += BATCH) {
    const rows = entries.slice(i, i + BATCH).map((e, j) => {
      const p = entryParts({ index: i + j, at: Date.now(), actor: e.actor, action: e.action, purpose: e.purpose ?? null, subjectId: e.subjectId ?? null, fields: [...(e.fields ?? [])], counts: e.counts ?? {}, outcome: e.outcome, details: e.details ?? {} });
      return [p.index, p.at, p.actor, p.action, p.purpose, p.subjectId, p.outcome, p.dataJson, leaf] as const;
    });
    await db.transaction().execute(async (trx) => {
      const raw = dbs.raw;
      if (raw.dialect === 'sqlite') {
        const stmt = raw.db.prepare('insert into bench_plain (idx, at, actor, action, purpose, subject_id, outcome, data, leaf_hash) values (?, ?, ?, ?, ?, ?, ?, ?, ?)');
        for (const r of rows) stmt.run(...r);
      } else {
        const int8 = (k: 0 | 1) => pgInt8Array(rows.map((r) => r[k]));
        const text = (k: 2 | 3 | 4 | 5 | 6 | 7) => pgTextArray(rows.map((r) => r[k]));
        await sql`insert into bench_plain select * from unnest(${int8(0)}::bigint[], ${int8(1)}::bigint[], ${text(2)}::text[], ${text(3)}::text[],
          ${text(4)}::text[], ${text(5)}::text[], ${text(6)}::text[], ${text(7)}::text[], ${pgByteaArray(rows.map((r) => r[8]))}::bytea[])`.execute(trx);
      }
    });
  }
  const s = (performance.now() - t) / 1000;
  await sql`drop table bench_plain`.execute(db);
  return entries.length / s;
}

/** What audit_entries' secondary indexes are on (columns and expressions), as the database has them now. */
async function indexColumns(dbs: Databases): Promise<string[]> {
  const defs =
    dbs.raw.dialect === 'sqlite'
      ? (dbs.raw.db.prepare("select sql from sqlite_master where type = 'index' and tbl_name = 'audit_entries' and sql is not null").pluck().all() as string[])
      : (await sql<{ def: string }>`select indexdef as def from pg_indexes where schemaname = current_schema() and tablename = 'audit_entries' and indexname <> 'audit_entries_pkey'`.execute(dbs.data)).rows.map((r) => r.def);
  // Everything between the parenthesis after the table's name and the last one.
  return defs.map((d) => /audit_entries"?\s*(?:USING \w+\s*)?\((.*)\)\s*$/is.exec(d)?.[1] ?? '');
}

async function measure(dialect: Dialect, target: number, log: (l: string) => void): Promise<Figures> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fiducia-bench-audit-'));
  const schema = `bench_audit_${randomBytes(4).toString('hex')}`;
  const opts: FiduciaOptions = { dataDir, masterKey: randomBytes(32).toString('base64') };
  if (dialect === 'postgres') Object.assign(opts, { databaseUrl: PG_URL, schema, keysSchema: `${schema}_keys` });
  const { dbs, audit } = await openCore(opts);
  try {
    const sample = workload(100_000);
    // Warm-up, then appends in transactions of BATCH entries, as an ingestion group commit or a read batch makes them.
    await dbs.store.transaction((trx) => audit.append(trx, sample.slice(0, BATCH)));
    const appendN = Math.min(100_000, target) - BATCH;
    let t = performance.now();
    const append0 = { own: process.cpuUsage(), machine: machineBusyMicros() };
    for (let i = BATCH; i < BATCH + appendN; i += BATCH) await dbs.store.transaction((trx) => audit.append(trx, sample.slice(i, i + BATCH)));
    const appendsPerSecond = appendN / ((performance.now() - t) / 1000);
    const appendCpu = process.cpuUsage(append0.own);
    const ownPerEntry = (appendCpu.user + appendCpu.system) / appendN;
    const machinePerEntry = (machineBusyMicros() - append0.machine) / appendN;
    const plainPerSecond = await plainInserts(dbs, sample.slice(0, appendN));
    log(`  ${dialect}: ${fmt(appendsPerSecond)} appends/s in transactions of ${BATCH}; plain inserts of the same rows ${fmt(plainPerSecond)} rows/s (${(appendsPerSecond / plainPerSecond).toFixed(2)}×)`);
    // What the CPU allows at most, however well the work overlaps: the machine's cores over the CPU every entry costs.
    log(
      `  ${dialect}: CPU per appended entry: this process ${ownPerEntry.toFixed(1)} µs, the whole machine (with the database server) ${machinePerEntry.toFixed(1)} µs | ` +
        `${cpus().length} cores bound appends at ${fmt((cpus().length * 1e6) / machinePerEntry)}/s${dialect === 'sqlite' ? `, this process's one thread at ${fmt(1e6 / ownPerEntry)}/s` : ''}`,
    );

    // Fill to `target` entries with larger transactions (bounded in time), then verify everything.
    const fillUntil = performance.now() + 90_000;
    let size = (await audit.head()).size;
    const fillFrom = size;
    const fillStart = performance.now();
    while (size < target && performance.now() < fillUntil) {
      const n = Math.min(10_000, target - size);
      const chunk = Array.from({ length: n }, (_, k) => sample[(size + k) % sample.length]!);
      await dbs.store.transaction((trx) => audit.append(trx, chunk));
      size += n;
    }
    const fillRate = (size - fillFrom) / ((performance.now() - fillStart) / 1000);
    log(`  ${dialect}: ${fmt(fillRate)} appends/s in transactions of 10,000 (filling the log to ${fmt(size)})`);
    // A million rows just inserted wake PostgreSQL's autovacuum at some moment of the measurement, competing for the two
    // cores (and the first read of each row sets its hint bits): vacuumed first, as a log of that size long since is.
    if (dialect === 'postgres') await sql`vacuum (analyze) audit_entries`.execute(dbs.data);
    // Baseline: the same rows read the same way (the spliced text through the driver, in the verifier's pages of 4,096:
    // larger pages outlive the young generation and spend most of the time in the garbage collector), hashing nothing.
    const repo = new AuditRepo(dbs.store);
    t = performance.now();
    for (let from = 0; from < size; from += 4096) await repo.verifyRows(from, from + 4096);
    const readMs = performance.now() - t;
    t = performance.now();
    const cpu0 = process.cpuUsage();
    const machine0 = machineBusyMicros();
    const report = await audit.verify();
    const verifyMs = performance.now() - t;
    const cpu = process.cpuUsage(cpu0);
    const verifyCpuMs = (cpu.user + cpu.system) / 1000;
    const machineMs = (machineBusyMicros() - machine0) / 1000;
    const per1M = (verifyMs * 1_000_000) / size;
    log(
      `  ${dialect}: verify ${fmt(size)} entries in ${fmt(verifyMs)} ms (${report.ok ? 'ok' : 'FAILED'}; ${fmt(per1M)} ms per 1,000,000); ` +
        `reading the same rows alone ${fmt(readMs)} ms (${(verifyMs / readMs).toFixed(2)}×); CPU time of this process ${fmt(verifyCpuMs)} ms, ` +
        `of the whole machine ${fmt(machineMs)} ms (${cpus().length} cores: at least ${fmt(machineMs / cpus().length)} ms)`,
    );
    // A sanity check that the benchmark measured a real log: one leaf recomputed by hand.
    const first = (await repo.entriesRange(0, 1))[0];
    if (first && !leafHash(canonicalEntryBytes({ index: 0, at: first.at, actor: first.actor, action: first.action, purpose: first.purpose, subjectId: first.subject_id, outcome: first.outcome, dataJson: first.data })).equals(first.leaf_hash)) {
      throw new Error('leaf 0 does not recompute');
    }
    return { dialect, appended: appendN, appendsPerSecond, plainPerSecond, verified: size, verifyMs, readMs, ok: report.ok };
  } finally {
    await dbs.close();
    rmSync(dataDir, { recursive: true, force: true });
    if (dialect === 'postgres') {
      await dropPgSchema(PG_URL, schema);
      await dropPgSchema(PG_URL, `${schema}_keys`);
    }
  }
}


export async function run(log: (line: string) => void, opts: { only?: Dialect; entries?: number } = {}): Promise<void> {
  const [one] = loadavg();
  const target = opts.entries ?? 1_000_000;
  log(`== audit log: node ${process.version}, ${cpus().length} CPUs, load average ${(one ?? 0).toFixed(2)}${(one ?? 0) > cpus().length * 0.5 ? ' (busy machine: figures low and noisy)' : ''}`);
  const out: Figures[] = [];
  for (const dialect of ['sqlite', 'postgres'] as const) {
    if (opts.only && opts.only !== dialect) continue;
    if (dialect === 'postgres' && !(await pgReachable(PG_URL))) {
      log(`  postgres: ${PG_URL} is not reachable, skipped`);
      continue;
    }
    out.push(await measure(dialect, target, log));
  }
  for (const f of out) {
    const per1M = (f.verifyMs * 1_000_000) / f.verified;
    log(
      `  ${f.dialect}: appends ${fmt(f.appendsPerSecond)}/s (target ≥ ${fmt(TARGET_APPENDS)}: ${f.appendsPerSecond >= TARGET_APPENDS ? 'met' : 'NOT met'}); ` +
        `verify 1,000,000 ${f.verified >= 1_000_000 ? '' : '(extrapolated) '}${fmt(per1M)} ms (target ≤ ${fmt(TARGET_VERIFY_MS)}: ${per1M <= TARGET_VERIFY_MS ? 'met' : 'NOT met'})`,
    );
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { only: { type: 'string' }, entries: { type: 'string' } } });
  runScript('bench/audit.ts', 290_000, () =>
    run((line) => void process.stdout.write(`${line}\n`), {
      only: values.only === 'sqlite' || values.only === 'postgres' ? values.only : undefined,
      entries: values.entries ? Number(values.entries) : undefined,
    }),
  );
}
