// A real HTTP receiver on loopback for destination tests: verifies Standard Webhooks signatures with the
// `standardwebhooks` package (as a receiver would), records what arrives, and can answer errors or go down.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

export interface Received {
  path: string;
  id: string;
  body: Record<string, unknown>;
  headers: IncomingMessage['headers'];
  verified: boolean;
  at: number;
}

export class Receiver {
  readonly secret = `whsec_${randomBytes(24).toString('base64')}`;
  readonly received: Received[] = [];
  /** Status to answer (200 by default); a function decides per request. */
  answer: number | ((r: Received) => number) = 200;
  /** Milliseconds to wait before answering; a function decides per request. */
  delayMs: number | ((r: Received) => number) = 0;
  /** Requests being answered right now, and the most at once for the same id. */
  inFlight = new Map<string, number>();
  maxConcurrentSameId = 0;
  #server: Server | null = null;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let verified = false;
        try {
          new Webhook(this.secret).verify(raw, req.headers as Record<string, string>);
          verified = true;
        } catch {
          verified = false;
        }
        const id = String(req.headers['webhook-id'] ?? (JSON.parse(raw) as { batch?: { messageId?: string }[]; messageId?: string }).batch?.[0]?.messageId ?? '');
        const r: Received = { path: req.url ?? '', id, body: JSON.parse(raw) as Record<string, unknown>, headers: req.headers, verified, at: Date.now() };
        const n = (this.inFlight.get(id) ?? 0) + 1;
        this.inFlight.set(id, n);
        this.maxConcurrentSameId = Math.max(this.maxConcurrentSameId, n);
        setTimeout(() => {
          this.inFlight.set(id, (this.inFlight.get(id) ?? 1) - 1);
          const status = typeof this.answer === 'function' ? this.answer(r) : this.answer;
          if (status >= 200 && status < 300) this.received.push(r);
          res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
        }, typeof this.delayMs === 'function' ? this.delayMs(r) : this.delayMs);
      });
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
    return this;
  }

  /** Stops listening (connections refused) until `start` again, on the same port. */
  async stop(): Promise<void> {
    const s = this.#server;
    this.#server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Unique messages by id (a redelivery counted once), in arrival order of their first copy. */
  unique(): Received[] {
    const seen = new Set<string>();
    return this.received.filter((r) => (seen.has(r.id) ? false : (seen.add(r.id), true)));
  }
}
