// The live debugger (docs/debugger.md): what became of each source's latest messages, as field names and reason codes,
// kept in a table every process shares. Off the hot path: a group commit hands over its captures after it commits, and
// they are written in batches a few times a second; each source keeps its newest `keep` rows, and a sustained rate above
// `perSecond` per process is sampled. Every message offered, sampled or not, also adds to the overview's daily counts
// (daily-tally.ts), written with the lines.
import type { Logger } from 'pino';
import { debuggerEntry, type DebuggerEntry, type MessageCapture } from '../../domain/debugger-entry.ts';
import { uuidv7 } from '../../domain/ids.ts';
import { DailyCountsRepo } from '../../store/daily-counts-repo.ts';
import { DebuggerRepo } from '../../store/debugger-repo.ts';
import type { DebuggerEventsTable } from '../../store/schema.ts';
import type { DataScope } from '../../store/scope.ts';
import type { AccessService, SourceInfo } from '../access/access.ts';
import type { CapturedMessages } from '../ingest/ingest-flush.ts';
import type { Metrics } from '../metrics.ts';
import { DailyTally } from './daily-tally.ts';

export interface DebuggerSettings {
  /** Rows kept per source (and the most one read returns). */
  keep: number;
  /** Sustained captures per source and process per second; a burst of up to `keep` is always captured whole. */
  perSecond: number;
  /** Milliseconds between writes of what was captured (0: only on read, flush and close). */
  flushMs: number;
}

export const DEFAULT_DEBUGGER: DebuggerSettings = { keep: 200, perSecond: 50, flushMs: 1000 };
/** The most lines kept per source: what one read may return. */
export const MAX_KEEP = 500;
/** Sources this process holds captures or a rate bucket for; past it a new source waits for the next write. */
const MAX_SOURCES = 1_000;

export interface DebuggerDeps {
  db: DataScope;
  access: AccessService;
  metrics: Metrics;
  logger: Logger;
  settings?: Partial<DebuggerSettings> | undefined;
  now?: (() => number) | undefined;
  /** false (`FIDUCIA_DEBUGGER=0`): no lines are kept; the daily counts still are. Default true. */
  lines?: boolean | undefined;
}

export interface DebuggerLine extends DebuggerEntry {
  id: string;
  receivedAt: number;
}

export interface DebuggerPage {
  source: SourceInfo;
  entries: DebuggerLine[];
  /** The newest id returned (or the `since` given when nothing is newer): the next poll's `since`. */
  cursor: string | null;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class LiveDebugger {
  readonly settings: DebuggerSettings;
  readonly #repo: DebuggerRepo;
  readonly #now: () => number;
  #pending = new Map<string, DebuggerEventsTable[]>();
  readonly #tally = new DailyTally();
  readonly #buckets = new Map<string, Bucket>();
  #writing: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: DebuggerDeps) {
    this.settings = settingsOf(deps.settings);
    this.#repo = new DebuggerRepo(deps.db);
    this.#now = deps.now ?? Date.now;
  }

  start(): void {
    if (this.settings.flushMs > 0 && !this.#timer) this.#timer = setInterval(() => void this.flush(), this.settings.flushMs).unref();
  }

  /** Called after each group commit; synchronous and cheap: names are built only for what is kept. */
  offer(captured: CapturedMessages): void {
    for (const list of captured.values()) for (const c of list) this.#tally.add(c);
    if (this.deps.lines === false) return;
    const { keep } = this.settings;
    for (const [sourceId, list] of captured) {
      let pending = this.#pending.get(sourceId);
      if (!pending) {
        if (this.#pending.size >= MAX_SOURCES) {
          this.deps.metrics.debuggerEntries.inc({ outcome: 'sampled_out' }, list.length);
          continue;
        }
        this.#pending.set(sourceId, (pending = []));
      }
      // Only the newest `keep` of a large group could survive the prune anyway; of those, what the rate allows.
      const allowed = Math.min(this.#take(sourceId, Math.min(list.length, keep)), list.length);
      const kept = list.slice(list.length - allowed);
      for (const c of kept) pending.push(row(sourceId, c));
      if (pending.length > keep) pending.splice(0, pending.length - keep);
      this.deps.metrics.debuggerEntries.inc({ outcome: 'recorded' }, kept.length);
      if (list.length > kept.length) this.deps.metrics.debuggerEntries.inc({ outcome: 'sampled_out' }, list.length - kept.length);
    }
  }

  /** Up to `wanted` tokens of the source's bucket (capacity `keep`, refilled at `perSecond`). */
  #take(sourceId: string, wanted: number): number {
    const now = this.#now();
    const { keep, perSecond } = this.settings;
    let b = this.#buckets.get(sourceId);
    if (!b) {
      if (this.#buckets.size >= MAX_SOURCES) this.#buckets.clear();
      this.#buckets.set(sourceId, (b = { tokens: keep, at: now }));
    }
    b.tokens = Math.min(keep, b.tokens + (Math.max(0, now - b.at) * perSecond) / 1000);
    b.at = now;
    const n = Math.min(wanted, Math.floor(b.tokens));
    b.tokens -= n;
    return n;
  }

  /** Writes what was captured so far (one transaction: the rows, then each touched source pruned to `keep`). */
  flush(): Promise<void> {
    this.#writing = this.#writing.then(() => this.#write());
    return this.#writing;
  }

  async #write(): Promise<void> {
    if (this.#pending.size === 0 && this.#tally.empty) return;
    const batch = this.#pending;
    this.#pending = new Map();
    const counts = this.#tally.drain();
    try {
      await this.deps.db.transaction(async (trx) => {
        const repo = new DebuggerRepo(trx);
        await repo.insert([...batch.values()].flat());
        for (const sourceId of batch.keys()) await repo.prune(sourceId, this.settings.keep);
        await new DailyCountsRepo(trx).add(counts);
      });
    } catch (err) {
      // A debugger is a view, not a record: a failed write loses these lines and nothing else. The counts are kept
      // for the next write (a few dozen numbers a day at most).
      this.#tally.restore(counts);
      this.deps.metrics.debuggerEntries.inc({ outcome: 'write_failed' }, [...batch.values()].reduce((n, l) => n + l.length, 0));
      this.deps.logger.warn({ err: { type: (err as Error).name, message: (err as Error).message } }, 'live debugger lines could not be written');
    }
  }

  /** A source's newest lines, newest first (only those after `since` when given); null for an unknown source. */
  async read(sourceId: string, opts: { since?: string | undefined; limit?: number | undefined }): Promise<DebuggerPage | null> {
    const source = await this.deps.access.source(sourceId);
    if (!source) return null;
    // What this process captured but has not written yet is written first, so a read sees it.
    await this.flush();
    const limit = Math.min(opts.limit ?? this.settings.keep, this.settings.keep);
    const rows = await this.#repo.newest(sourceId, limit, opts.since);
    return { source, entries: rows.map(line), cursor: rows[0]?.id ?? opts.since ?? null };
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }
}

/** The defaults with what was given; a value out of range stops the start (the API reads at most 500 lines). */
function settingsOf(given: Partial<DebuggerSettings> | undefined): DebuggerSettings {
  const keep = given?.keep ?? DEFAULT_DEBUGGER.keep;
  const perSecond = given?.perSecond ?? DEFAULT_DEBUGGER.perSecond;
  const flushMs = given?.flushMs ?? DEFAULT_DEBUGGER.flushMs;
  if (!Number.isInteger(keep) || keep < 1 || keep > MAX_KEEP) throw new Error(`debugger.keep must be a whole number from 1 to ${MAX_KEEP}`);
  if (!(perSecond > 0)) throw new Error('debugger.perSecond must be more than 0');
  if (!(Number.isFinite(flushMs) && flushMs >= 0)) throw new Error('debugger.flushMs must be 0 or more');
  return { keep, perSecond, flushMs };
}

function row(sourceId: string, c: MessageCapture): DebuggerEventsTable {
  const e = debuggerEntry(c);
  return {
    source_id: sourceId,
    // Time-ordered, strictly increasing within this process: the polling cursor.
    id: uuidv7(c.receivedAt),
    received_at: c.receivedAt,
    type: e.type,
    event_name: e.event,
    message_id: e.messageId,
    outcome: e.outcome,
    reason: e.reason,
    details: JSON.stringify({ identity: e.identity, stored: e.stored, dropped: e.dropped, omitted: e.omitted }),
  };
}

function line(r: DebuggerEventsTable): DebuggerLine {
  const d = JSON.parse(r.details) as Pick<DebuggerEntry, 'identity' | 'stored' | 'dropped' | 'omitted'>;
  return {
    id: r.id,
    receivedAt: Number(r.received_at),
    type: r.type as DebuggerEntry['type'],
    event: r.event_name,
    messageId: r.message_id,
    outcome: r.outcome as DebuggerEntry['outcome'],
    reason: r.reason as DebuggerEntry['reason'],
    ...d,
  };
}
