// The verifier's worker thread: reads the pages it is asked for over its own connection and returns their leaf hashes.
import { parentPort, workerData } from 'node:worker_threads';
import { readVerifyRows } from '../../store/audit-raw.ts';
import { openRaw, type RawTarget } from '../../store/raw.ts';
import { hashRows, type PageReply, type PageRequest } from './audit-leaves.ts';

const port = parentPort;
if (!port) throw new Error('audit-leaf-worker runs as a worker thread');
const raw = await openRaw(workerData as RawTarget);
port.postMessage({ ready: true } satisfies PageReply);
// Each page is read as soon as it is asked for (on PostgreSQL the server works on it while earlier pages are hashed
// here) and hashed in the order asked.
let queue = Promise.resolve();
port.on('message', (req: PageRequest | 'close') => {
  // Done: close the connection (PostgreSQL sees a proper goodbye, not a dropped socket), then let the thread end.
  if (req === 'close') return void queue.then(() => raw.close()).finally(() => port.close());
  const rows = readVerifyRows(raw, req.from, req.to);
  rows.catch(() => undefined); // awaited in turn below
  queue = queue.then(async () => {
    let reply: PageReply;
    try {
      reply = { page: hashRows(req.from, await rows, req.block) };
    } catch (err) {
      reply = { from: req.from, error: (err as Error).message };
    }
    const transfer = 'page' in reply ? [reply.page.idx, reply.page.hashes, reply.page.blockRoots, reply.page.blockValid].map((a) => a.buffer as ArrayBuffer) : [];
    port.postMessage(reply, transfer);
  });
});
