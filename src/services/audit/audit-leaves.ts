// Leaf hashes of the audit log, page by page in index order, for verification. Large logs are split with a worker thread
// that reads and hashes its share of the pages over a connection of its own, so both cores work.
import { Worker } from 'node:worker_threads';
import { canonicalEntryText } from '../../domain/audit-entry.ts';
import { leafHashOfTextInto, perfectRoot } from '../../domain/merkle.ts';
import type { VerifyRow } from '../../store/audit-raw.ts';
import type { RawTarget } from '../../store/raw.ts';
import { InvariantError } from '../../domain/errors.ts';

export interface LeafPage {
  /** First index of the page's range. */
  from: number;
  /** Indices of the entries read, ascending (a gap is a jump). */
  idx: Float64Array;
  /** 32 bytes per entry: its recomputed leaf hash. */
  hashes: Uint8Array;
  /** Entries whose columns no append writes (cannot be encoded); their hash is zeros. */
  unencodable: number[];
  /**
   * Root of each complete block of `block` entries the page holds without a gap (32 bytes per block, block k covering
   * rows k·block …), and whether block k has one (1) or is cut by a gap (0).
   */
  blockRoots: Uint8Array;
  blockValid: Uint8Array;
}

/**
 * Recomputes each row's leaf hash from its columns (the canonical text of src/domain/audit-entry.ts), and the root of
 * each complete block of `block` rows (a power of two), which spares the caller one tree step per entry.
 */
export function hashRows(from: number, rows: readonly VerifyRow[], block: number): LeafPage {
  const idx = new Float64Array(rows.length);
  const hashes = new Uint8Array(rows.length * 32);
  const out = Buffer.from(hashes.buffer, hashes.byteOffset, hashes.byteLength);
  const unencodable: number[] = [];
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    let index: number;
    let text: string;
    try {
      if (typeof r === 'string') {
        // "<idx> <text>": the index is digits, so the first space ends it.
        const space = r.indexOf(' ');
        index = Number(r.slice(0, space));
        text = r.slice(space + 1);
        idx[i] = index;
        if (!Number.isSafeInteger(index)) throw new InvariantError('an audit entry index that is not an integer');
        if (!text.startsWith('{')) throw new InvariantError('an audit entry column of the wrong type, or NULL');
      } else {
        index = Number(r[0]);
        idx[i] = index;
        text = canonicalEntryText({ index, at: r[1], actor: r[2], action: r[3], purpose: r[4], subjectId: r[5], outcome: r[6], dataJson: r[7] });
      }
      leafHashOfTextInto(text, out, i * 32);
    } catch {
      unencodable.push(idx[i]!); // e.g. a negative time or a NULL in a NOT NULL column: not written by an append
    }
  }
  const blocks = Math.floor(rows.length / block);
  const blockRoots = new Uint8Array(blocks * 32);
  const blockValid = new Uint8Array(blocks);
  for (let k = 0; k < blocks; k++) {
    const first = k * block;
    // Ascending indices: the block is gap-free and aligned if its first and last entries are where they belong.
    if (idx[first] !== from + first || idx[first + block - 1] !== from + first + block - 1) continue;
    if (unencodable.some((u) => u >= from + first && u < from + first + block)) continue;
    blockRoots.set(perfectRoot(hashes, first * 32, block), k * 32);
    blockValid[k] = 1;
  }
  return { from, idx, hashes, unencodable, blockRoots, blockValid };
}

export type PageRequest = { from: number; to: number; block: number };
export type PageReply = { ready: true } | { page: LeafPage } | { from: number; error: string };

/** Worker pages asked for at a time (each reply holds ~40 bytes per entry). */
const IN_FLIGHT = 4;
/** Pages this thread may compute ahead of the next one due, while that one is the worker's and has not come yet. */
const LOOKAHEAD = 16;

/**
 * Pages of [0, end) in order, the last one cut at `end`. With `worker`, a worker thread opened on that target takes
 * pages as it becomes free (it needs a few hundred milliseconds to start); this thread computes every page not given to
 * it, including pages ahead while it waits for one of the worker's. Whoever computes a page, the same page comes out.
 * If the worker fails, this thread computes its pages too.
 */
export async function* leafPages(
  read: (from: number, to: number) => Promise<VerifyRow[]>,
  end: number,
  pageSize: number,
  block: number,
  worker?: RawTarget,
  /** Wait until the worker has started before computing anything here, so that it takes pages even of a small log. */
  waitForWorker = false,
): AsyncGenerator<LeafPage> {
  const count = Math.ceil(end / pageSize);
  const w = worker ? startWorker(worker) : undefined;
  if (w && waitForWorker) await w.started;
  const mine = new Map<number, LeafPage>(); // pages computed here, not yet yielded
  const theirs = new Set<number>(); // pages asked of the worker, not yet yielded
  let next = 0; // the first page given to no one yet
  const to = (q: number) => Math.min((q + 1) * pageSize, end);
  const compute = async (q: number) => hashRows(q * pageSize, await read(q * pageSize, to(q)), block);
  const feed = () => {
    if (!w?.ready || w.failed) return;
    for (let asked = [...theirs].filter((q) => !w.arrived(q * pageSize)).length; asked < IN_FLIGHT && next < count; asked++, next++) {
      theirs.add(next);
      w.request({ from: next * pageSize, to: to(next), block });
    }
  };
  // Lets the worker's messages in: this thread's SQLite reads never wait for I/O, so they would otherwise queue.
  const letIn = () => (w ? new Promise<void>((r) => setImmediate(r)) : Promise.resolve());
  try {
    for (let p = 0; p < count; p++) {
      feed();
      if (p === next) {
        next++;
        mine.set(p, await compute(p));
        await letIn();
      }
      if (mine.has(p)) {
        const page = mine.get(p)!;
        mine.delete(p);
        yield page;
        continue;
      }
      // The worker's page: compute later pages here rather than wait for it.
      while (w && !w.failed && !w.arrived(p * pageSize) && mine.size < LOOKAHEAD && next < count) {
        const q = next++;
        mine.set(q, await compute(q));
        await letIn();
        feed();
      }
      theirs.delete(p);
      yield w && !w.failed ? await w.reply(p * pageSize).catch(() => compute(p)) : await compute(p);
    }
  } finally {
    await w?.close();
  }
}

/**
 * The worker's entry: compiled, audit-leaf-worker.js beside this file; from source, a worker does not inherit tsx, so
 * audit-leaf-worker.mjs registers it before loading audit-leaf-worker.ts.
 */
const WORKER_ENTRY = new URL(import.meta.url.endsWith('.ts') ? './audit-leaf-worker.mjs' : './audit-leaf-worker.js', import.meta.url);

function startWorker(target: RawTarget) {
  const worker = new Worker(WORKER_ENTRY, { workerData: target });
  const waiting = new Map<number, { resolve: (p: LeafPage) => void; reject: (e: Error) => void }>();
  const arrived = new Map<number, LeafPage>();
  const state = { ready: false, failed: undefined as Error | undefined };
  let started: () => void = () => undefined;
  const startedPromise = new Promise<void>((resolve) => (started = resolve));
  const fail = (err: Error) => {
    state.failed ??= err;
    started();
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
  };
  worker.on('message', (m: PageReply) => {
    if ('ready' in m) {
      state.ready = true;
      return started();
    }
    // A page it could not read fails the worker: this thread computes what is left (and meets the same error, if any).
    if (!('page' in m)) return fail(new Error(`audit verification worker: ${m.error}`));
    const w = waiting.get(m.page.from);
    if (!w) return void arrived.set(m.page.from, m.page);
    waiting.delete(m.page.from);
    w.resolve(m.page);
  });
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`audit verification worker exited (${code})`)));
  return {
    get ready() {
      return state.ready;
    },
    get failed() {
      return state.failed;
    },
    /** Settles once the worker has its connection (or has failed). */
    started: startedPromise,
    arrived: (from: number) => arrived.has(from),
    request(req: PageRequest) {
      worker.postMessage(req);
    },
    reply(from: number): Promise<LeafPage> {
      const page = arrived.get(from);
      if (page) {
        arrived.delete(from);
        return Promise.resolve(page);
      }
      if (state.failed) return Promise.reject(state.failed);
      return new Promise((resolve, reject) => waiting.set(from, { resolve, reject }));
    },
    /**
     * Asks the worker to close its connection and end; terminates it if it has not within a second, or at once if it
     * never got as far as having one (a small log is done before the worker has started).
     */
    async close() {
      worker.removeAllListeners('exit');
      if (!state.ready) return void (await worker.terminate());
      const ended = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage('close');
      const timer = setTimeout(() => void worker.terminate(), 1000);
      await ended;
      clearTimeout(timer);
    },
  };
}
