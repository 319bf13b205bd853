// Leaf hashes of the audit log, page by page in index order, for verification. Large logs are split with a worker thread
// that reads and hashes its share of the pages over a connection of its own, so both cores work.
import { Worker } from 'node:worker_threads';
import { canonicalEntryText } from '../domain/audit-entry.ts';
import { leafHashOfTextInto, perfectRoot } from '../domain/merkle.ts';
import type { VerifyRow } from '../store/audit-repo.ts';
import type { RawTarget } from '../store/database.ts';

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
        if (!text.startsWith('{')) throw new Error('a NULL column');
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
export type PageReply = { page: LeafPage } | { from: number; error: string };

/** Share of the pages the worker takes: this thread also builds the tree and compares nodes for every page. */
const WORKER_SHARE = 0.6;
/** Worker pages requested ahead of the one being consumed (each reply holds ~40 bytes per entry). */
const AHEAD = 8;

/**
 * Pages [0, end) in order. With `worker`, a worker thread opened on that target computes about two pages in three;
 * this thread reads the rest, one page ahead (on PostgreSQL the server reads while this process hashes).
 */
export async function* leafPages(
  read: (from: number, to: number) => Promise<VerifyRow[]>,
  end: number,
  pageSize: number,
  block: number,
  worker?: RawTarget,
): AsyncGenerator<LeafPage> {
  const count = Math.ceil(end / pageSize);
  const mine = (p: number) => !worker || Math.floor((p + 1) * (1 - WORKER_SHARE)) > Math.floor(p * (1 - WORKER_SHARE));
  const w = worker ? startWorker(worker) : undefined;
  try {
    const local = new Map<number, Promise<VerifyRow[]>>();
    const readLocal = (p: number) => {
      for (let q = p; q < count; q++) {
        if (!mine(q)) continue;
        if (!local.has(q)) {
          const rows = read(q * pageSize, (q + 1) * pageSize);
          rows.catch(() => undefined); // awaited in turn; not unhandled if iteration stops first
          local.set(q, rows);
        }
        return;
      }
    };
    let requested = 0;
    for (let p = 0; p < count; p++) {
      if (w) {
        for (; requested < count && requested <= p + AHEAD; requested++) if (!mine(requested)) w.request({ from: requested * pageSize, to: (requested + 1) * pageSize, block });
      }
      if (mine(p)) {
        readLocal(p);
        const rows = await local.get(p)!;
        local.delete(p);
        readLocal(p + 1);
        yield hashRows(p * pageSize, rows, block);
      } else {
        yield await w!.reply(p * pageSize);
      }
    }
  } finally {
    await w?.close();
  }
}

function startWorker(target: RawTarget) {
  const worker = new Worker(new URL('./audit-leaf-worker.mjs', import.meta.url), { workerData: target });
  const waiting = new Map<number, { resolve: (p: LeafPage) => void; reject: (e: Error) => void }>();
  const arrived = new Map<number, PageReply>();
  let failed: Error | undefined;
  const fail = (err: Error) => {
    failed = err;
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
  };
  worker.on('message', (m: PageReply) => {
    const from = 'page' in m ? m.page.from : m.from;
    const w = waiting.get(from);
    if (!w) return void arrived.set(from, m);
    waiting.delete(from);
    if ('page' in m) w.resolve(m.page);
    else w.reject(new Error(`audit verification worker: ${m.error}`));
  });
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`audit verification worker exited (${code})`)));
  return {
    request(req: PageRequest) {
      worker.postMessage(req);
    },
    reply(from: number): Promise<LeafPage> {
      const m = arrived.get(from);
      if (m) {
        arrived.delete(from);
        return 'page' in m ? Promise.resolve(m.page) : Promise.reject(new Error(`audit verification worker: ${m.error}`));
      }
      if (failed) return Promise.reject(failed);
      return new Promise((resolve, reject) => waiting.set(from, { resolve, reject }));
    },
    async close() {
      worker.removeAllListeners('exit');
      await worker.terminate();
    },
  };
}
