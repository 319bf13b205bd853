// What the live debugger adds to ingestion. In the group commit: one small object per message (the capture) and, after
// the commit, `LiveDebugger.offer` (rate bucket, names built only for the lines kept); measured against the collection
// rule (`planMessage`) of the same messages as the baseline, in the same run. Off the hot path: the writer's
// transaction (insert + prune) per line, on each database. Also the overview's daily counts (DailyTally.add, every
// message offered, sampled or not), against the same baseline and against what the debugger's recording costs.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { planMessage, type MessagePlan } from '../src/domain/collection.ts';
import type { MessageCapture } from '../src/domain/debugger-entry.ts';
import type { NormalizedMessage } from '../src/domain/segment-message.ts';
import { DEFAULT_CONFIG_PATH, loadPrivacyConfig } from '../src/services/config/config-loader.ts';
import type { AccessService } from '../src/services/access/access.ts';
import { DailyTally } from '../src/services/debugger/daily-tally.ts';
import { LiveDebugger, DEFAULT_DEBUGGER } from '../src/services/debugger/live-debugger.ts';
import type { CapturedMessages } from '../src/services/ingest/ingest-flush.ts';
import { Metrics } from '../src/services/metrics.ts';
import { dropPgSchema, openDatabases } from '../src/store/database.ts';
import { pgReachable } from './common.ts';

const MESSAGES = 100_000;
const GROUP = 64;
const PG_URL = process.env.FIDUCIA_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** A clock a second further on at each look: the rate bucket is always full (every line kept). */
const everyLine = () => {
  let t = 0;
  return { perSecond: 1e9, now: () => (t += 1000) };
};

function messages(): NormalizedMessage[] {
  return Array.from({ length: MESSAGES }, (_, i) => ({
    type: 'track',
    messageId: randomUUID(),
    userId: `u${i % 5000}`,
    anonymousId: null,
    previousId: null,
    groupId: null,
    event: i % 2 === 0 ? 'Product Viewed' : 'Order Completed',
    traits: {},
    properties: { product_id: `p${i}`, price: 10, name: 'Book', category: 'books', gift_note: 'x' },
    context: { page: { url: 'https://shop.example/p', title: 'Book' }, userAgent: 'bench', locale: 'it-IT' },
    timestamp: Date.now(),
  }));
}

/** µs per message of `fn` over every message. */
function perMessage<T>(items: readonly T[], fn: (item: T, i: number) => void): number {
  const t0 = process.hrtime.bigint();
  items.forEach(fn);
  return Number(process.hrtime.bigint() - t0) / items.length / 1000;
}

function capturesOf(msgs: readonly NormalizedMessage[], plans: readonly MessagePlan[]): MessageCapture[] {
  return msgs.map((message, i) => ({ message, sourceKind: 'server', receivedAt: Date.now(), outcome: 'stored', reason: null, plan: plans[i]!, userIdUnverified: false }));
}

/** µs per message of offering every group of 64 captures, as the ingestion writer does after each commit. */
function offerCost(dbg: LiveDebugger, captures: readonly MessageCapture[]): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < captures.length; i += GROUP) {
    const group: CapturedMessages = new Map([['bench-source', captures.slice(i, i + GROUP)]]);
    dbg.offer(group);
  }
  return Number(process.hrtime.bigint() - t0) / captures.length / 1000;
}

async function writerCost(log: (line: string) => void, captures: readonly MessageCapture[], dialect: 'sqlite' | 'postgres'): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fiducia-bench-debugger-'));
  const schema = `bench_dbg_${randomUUID().slice(0, 8)}`;
  const dbs = await openDatabases(dialect === 'sqlite' ? { dataDir: dir } : { dataDir: dir, databaseUrl: PG_URL, schema, keysSchema: `${schema}_keys` });
  try {
    await dbs.migrate();
    const access = { source: async () => null } as unknown as AccessService;
    const { perSecond, now } = everyLine();
    const dbg = new LiveDebugger({ db: dbs.store, access, metrics: new Metrics(), logger: pino({ level: 'silent' }), settings: { flushMs: 0, perSecond }, now });
    const { keep } = dbg.settings;
    const rounds = 50;
    let lines = 0;
    const t0 = process.hrtime.bigint();
    for (let r = 0; r < rounds; r++) {
      dbg.offer(new Map([['bench-source', captures.slice(r * keep, (r + 1) * keep)]]));
      lines += keep;
      await dbg.flush();
    }
    const us = Number(process.hrtime.bigint() - t0) / lines / 1000;
    log(`${dialect}: writer, ${keep} lines per transaction (insert + prune)   ${us.toFixed(1)} µs per line; at the default ${DEFAULT_DEBUGGER.perSecond} lines/s per source: ${((us * DEFAULT_DEBUGGER.perSecond) / 10_000).toFixed(2)} % of a core per busy source`);
  } finally {
    await dbs.close();
    rmSync(dir, { recursive: true, force: true });
    if (dialect === 'postgres') {
      await dropPgSchema(PG_URL, schema);
      await dropPgSchema(PG_URL, `${schema}_keys`);
    }
  }
}

export async function run(log: (line: string) => void): Promise<void> {
  const cfg = loadPrivacyConfig(DEFAULT_CONFIG_PATH);
  const msgs = messages();
  const plans: MessagePlan[] = [];
  const validNow = () => true;
  perMessage(msgs.slice(0, 10_000), (m) => planMessage(cfg, m, validNow)); // warm-up
  const baseline = perMessage(msgs, (m) => void plans.push(planMessage(cfg, m, validNow)));
  const captureList: MessageCapture[] = [];
  const capture = perMessage(msgs, (message, i) => void captureList.push({ message, sourceKind: 'server', receivedAt: 0, outcome: 'stored', reason: null, plan: plans[i]!, userIdUnverified: false }));
  const captures = capturesOf(msgs, plans);
  const idle = { db: undefined as never, access: undefined as never, metrics: new Metrics(), logger: pino({ level: 'silent' }) };
  // A sustained flood, as the bench's ingestion is: the default rate keeps 50 lines a second, the rest is counted.
  const sampled = offerCost(new LiveDebugger({ ...idle, settings: { flushMs: 0 } }), captures);
  const { perSecond, now } = everyLine();
  const unsampled = offerCost(new LiveDebugger({ ...idle, settings: { flushMs: 0, perSecond }, now }), captures);
  const tally = new DailyTally();
  perMessage(captures.slice(0, 10_000), (c) => tally.add(c)); // warm-up
  // Cold: 100,000 captures walked once (each one out of the CPU's caches); warm: one group of 64 over and over, as
  // after a commit, when the group's captures were made a moment before.
  const counted = perMessage(captures, (c) => tally.add(c));
  const group = captures.slice(0, GROUP);
  const warm = perMessage(Array.from({ length: MESSAGES }, (_, i) => group[i % GROUP]!), (c) => tally.add(c));
  const recording = capture + sampled;
  log(`planMessage, the collection rule (baseline)   ${baseline.toFixed(2)} µs per message`);
  log(`capture in the group commit                   ${capture.toFixed(3)} µs per message  (${((capture / baseline) * 100).toFixed(1)} % of the baseline)`);
  log(`offer after commit, default sampling          ${sampled.toFixed(3)} µs per message  (${((sampled / baseline) * 100).toFixed(1)} % of the baseline)`);
  log(`offer after commit, every message kept        ${unsampled.toFixed(2)} µs per message  (${((unsampled / baseline) * 100).toFixed(1)} % of the baseline)`);
  log(`  of which daily counts (DailyTally.add), cold ${counted.toFixed(3)} µs per message  (${((counted / baseline) * 100).toFixed(2)} % of the baseline; ${((counted / recording) * 100).toFixed(0)} % of capture + offer at default sampling; ${((counted / (capture + unsampled)) * 100).toFixed(1)} % of a line kept)`);
  log(`  of which daily counts (DailyTally.add), warm ${warm.toFixed(3)} µs per message  (${((warm / baseline) * 100).toFixed(2)} % of the baseline; ${((warm / recording) * 100).toFixed(0)} % of capture + offer at default sampling; ${((warm / (capture + unsampled)) * 100).toFixed(1)} % of a line kept)`);
  await writerCost(log, captures, 'sqlite');
  if (await pgReachable(PG_URL)) await writerCost(log, captures, 'postgres');
  else log(`postgres: not reachable at FIDUCIA_BENCH_DATABASE_URL, skipped`);
}
