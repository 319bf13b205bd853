import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { MAX_RESPONSE_BODY_BYTES, OutboundClient, type LookupFn, type OutboundRequest, type OutboundResult, type ResolvedAddress } from './outbound.ts';

/** A loopback server whose path says how to answer; it records what reached it. */
interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  localAddress: string | undefined;
  remotePort: number | undefined;
}

const received: Received[] = [];
let connections = 0;
let streamed = { written: 0, closed: Promise.resolve() };
const STREAM_LIMIT = 64 * 1024 * 1024;

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    received.push({ path: url.pathname, headers: req.headers, body: Buffer.concat(chunks).toString(), localAddress: req.socket.localAddress, remotePort: req.socket.remotePort });
    const [, route = '', arg = ''] = url.pathname.split('/');
    switch (route) {
      case 'status': {
        const status = Number(arg);
        const retryAfter = url.searchParams.get('retry-after');
        res.writeHead(status, { ...(retryAfter === null ? {} : { 'retry-after': retryAfter }), ...(status >= 300 && status < 400 ? { location: '/status/200' } : {}) });
        res.end('jane.doe@example.com said no');
        return;
      }
      case 'hold':
        setTimeout(() => res.end('ok'), 30);
        return;
      case 'hang':
        return;
      case 'slow-body':
        res.writeHead(200);
        res.write('a');
        return;
      case 'stream':
        stream(res, arg === 'announced');
        return;
      default:
        res.end('ok');
    }
  });
}

/** Writes until the client goes away (or 64 MiB), honouring backpressure, and records how much was handed over. */
function stream(res: http.ServerResponse, announced: boolean): void {
  res.writeHead(200, announced ? { 'content-length': String(STREAM_LIMIT) } : {});
  const chunk = Buffer.alloc(16 * 1024, 'x');
  streamed = { written: 0, closed: new Promise((resolve) => res.on('close', () => resolve())) };
  const pump = (): void => {
    while (streamed.written < STREAM_LIMIT && !res.destroyed) {
      streamed.written += chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

let server: http.Server;
let port = 0;
let base = '';
/** Every address a client socket looked up in this file. Any that is not loopback is destroyed before it connects. */
const lookedUp: string[] = [];
const sockets: Socket[] = [];
const guard = (message: unknown): void => {
  const { socket } = message as { socket: Socket };
  sockets.push(socket);
  socket.on('lookup', (err: Error | null, address: string) => {
    if (err) return;
    lookedUp.push(address);
    if (!address.startsWith('127.') && address !== '::1') socket.destroy();
  });
};

before(async () => {
  diagnosticsChannel.subscribe('net.client.socket', guard);
  server = http.createServer(handle);
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});

after(async () => {
  diagnosticsChannel.unsubscribe('net.client.socket', guard);
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const clients: OutboundClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
  received.length = 0;
  lookedUp.length = 0;
  sockets.length = 0;
});

function client(opts?: ConstructorParameters<typeof OutboundClient>[0]): OutboundClient {
  const c = new OutboundClient(opts);
  clients.push(c);
  return c;
}

/** A fake resolver that gives the n-th answer on the n-th call (the last one from then on), and counts the calls. */
function fakeDns(...answers: (readonly ResolvedAddress[])[]): { lookup: LookupFn; calls: string[] } {
  const calls: string[] = [];
  const lookup: LookupFn = (hostname) => {
    calls.push(hostname);
    return Promise.resolve(answers[Math.min(calls.length, answers.length) - 1] ?? []);
  };
  return { lookup, calls };
}
const v4 = (address: string): ResolvedAddress => ({ address, family: 4 });
const v6 = (address: string): ResolvedAddress => ({ address, family: 6 });

const post = (c: OutboundClient, url: string, extra: Partial<OutboundRequest> = {}): Promise<OutboundResult> =>
  c.post({ url, headers: {}, body: '{"event":"x"}', allowPrivateNetwork: true, ...extra });

const refused = (error: string, retryable: boolean) => ({ ok: false, status: null, retryable, retryAfterMs: null, error });

describe('OutboundClient: responses', () => {
  it('posts the JSON body with its length and type, and answers ok for every 2xx', async () => {
    const c = client();
    assert.deepEqual(await post(c, `${base}/status/200`, { headers: { 'x-fiducia-signature': 'v1,abc' } }), { ok: true, status: 200 });
    assert.deepEqual(await post(c, `${base}/status/204`), { ok: true, status: 204 });
    assert.deepEqual(await post(c, `${base}/status/299`), { ok: true, status: 299 });
    const first = received[0];
    assert.ok(first, 'the server got the request');
    assert.equal(first.body, '{"event":"x"}');
    assert.equal(first.headers['content-type'], 'application/json');
    assert.equal(first.headers['content-length'], '13');
    assert.equal(first.headers['x-fiducia-signature'], 'v1,abc');
    assert.equal(first.headers.host, `127.0.0.1:${port}`);
  });

  it('retries 408, 425, 429 and 5xx, and no other 4xx', async () => {
    const c = client();
    for (const status of [408, 425, 429, 500, 502, 503, 504]) {
      assert.deepEqual(await post(c, `${base}/status/${status}`), { ok: false, status, retryable: true, retryAfterMs: null, error: `http_${status}` });
    }
    for (const status of [400, 401, 403, 404, 410, 413, 422]) {
      assert.deepEqual(await post(c, `${base}/status/${status}`), { ok: false, status, retryable: false, retryAfterMs: null, error: `http_${status}` });
    }
  });

  it('reads Retry-After in seconds or as an HTTP date, bounded to an hour, and only on a retryable answer', async () => {
    const c = client();
    assert.equal(((await post(c, `${base}/status/429?retry-after=120`)) as { retryAfterMs: number | null }).retryAfterMs, 120_000);
    assert.equal(((await post(c, `${base}/status/503?retry-after=86400`)) as { retryAfterMs: number | null }).retryAfterMs, 3_600_000);
    const date = new Date(Date.now() + 60_000).toUTCString();
    const fromDate = ((await post(c, `${base}/status/503?retry-after=${encodeURIComponent(date)}`)) as { retryAfterMs: number | null }).retryAfterMs;
    assert.ok(fromDate !== null && fromDate > 0 && fromDate <= 60_000, `a date a minute ahead gave ${fromDate}`);
    assert.equal(((await post(c, `${base}/status/503?retry-after=soon`)) as { retryAfterMs: number | null }).retryAfterMs, null);
    assert.equal(((await post(c, `${base}/status/400?retry-after=5`)) as { retryAfterMs: number | null }).retryAfterMs, null);
  });

  it('never follows a redirect: a 3xx is a final, non-retryable failure', async () => {
    const c = client();
    for (const status of [301, 302, 303, 307, 308]) {
      assert.deepEqual(await post(c, `${base}/status/${status}`), { ok: false, status, retryable: false, retryAfterMs: null, error: 'redirect_refused' });
    }
    assert.deepEqual(received.map((r) => r.path), ['/status/301', '/status/302', '/status/303', '/status/307', '/status/308'], 'the Location was never requested');
  });

  it('keeps neither the body nor the URL in the outcome', async () => {
    const result = await post(client(), `${base}/status/500?email=jane.doe@example.com`);
    assert.deepEqual(result, { ok: false, status: 500, retryable: true, retryAfterMs: null, error: 'http_500' });
    assert.doesNotMatch(JSON.stringify(result), /jane/);
  });
});

describe('OutboundClient: time and size limits', () => {
  it('times out a server that never answers', async () => {
    assert.deepEqual(await post(client(), `${base}/hang`, { timeoutMs: 200 }), refused('timeout', true));
  });

  it('times out a resolver that never answers', async () => {
    const c = client({ lookup: () => new Promise(() => {}) });
    assert.deepEqual(await post(c, `http://hooks.fiducia.test:${port}/`, { timeoutMs: 100 }), refused('timeout', true));
  });

  it('lets the status decide once it has arrived, even when the body is cut by the deadline', async () => {
    assert.deepEqual(await post(client(), `${base}/slow-body`, { timeoutMs: 300 }), { ok: true, status: 200 });
  });

  it('stops reading an endless body after 64 KiB and drops the connection', async () => {
    const c = client();
    assert.deepEqual(await post(c, `${base}/stream/chunked`), { ok: true, status: 200 });
    await streamed.closed;
    const socket = sockets[0];
    assert.ok(socket, 'the client socket was seen');
    assert.ok(socket.bytesRead <= 2 * MAX_RESPONSE_BODY_BYTES + 1024, `the client read ${socket.bytesRead} bytes`);
    assert.ok(streamed.written < STREAM_LIMIT, `the server wrote ${streamed.written} bytes before the client left`);
    assert.equal(socket.destroyed, true, 'the connection is not kept after a cut body');
  });

  it('does not read at all a body whose announced length is over the limit', async () => {
    assert.deepEqual(await post(client(), `${base}/stream/announced`), { ok: true, status: 200 });
    await streamed.closed;
    assert.ok(streamed.written < STREAM_LIMIT, `the server wrote ${streamed.written} bytes before the client left`);
  });

  it('refuses a timeout setTimeout cannot keep', async () => {
    for (const timeoutMs of [0, -1, 1.5, Number.NaN, 2 ** 31]) {
      await assert.rejects(post(client(), `${base}/`, { timeoutMs }), RangeError, String(timeoutMs));
    }
  });
});

describe('OutboundClient: connections', () => {
  it('reuses one kept-alive connection for consecutive requests', async () => {
    const c = client();
    const before = connections;
    for (let i = 0; i < 3; i++) assert.deepEqual(await post(c, `${base}/`), { ok: true, status: 200 });
    assert.equal(connections - before, 1);
    assert.equal(new Set(received.map((r) => r.remotePort)).size, 1);
  });

  it('opens no more than maxSockets connections to one endpoint, queueing the rest', async () => {
    const c = client({ maxSockets: 2 });
    const before = connections;
    const results = await Promise.all(Array.from({ length: 6 }, () => post(c, `${base}/hold`)));
    assert.deepEqual(results, Array.from({ length: 6 }, () => ({ ok: true, status: 200 })));
    assert.equal(connections - before, 2);
  });

  it('close() destroys kept-alive sockets, and later posts are refused', async () => {
    const c = client();
    assert.deepEqual(await post(c, `${base}/`), { ok: true, status: 200 });
    const socket = sockets[0];
    assert.ok(socket && !socket.destroyed, 'a kept-alive socket is open');
    c.close();
    assert.equal(socket.destroyed, true);
    assert.deepEqual(await post(c, `${base}/`), refused('client_closed', true));
  });

  it('reports a refused connection as retryable', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    assert.deepEqual(await post(client(), `http://127.0.0.1:${closedPort}/`), refused('connection_refused', true));
  });

  it('reports a failed or empty resolution as dns_failed', async () => {
    const failing = client({ lookup: () => Promise.reject(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' })) });
    assert.deepEqual(await post(failing, `http://nowhere.fiducia.test:${port}/`), refused('dns_failed', true));
    assert.deepEqual(await post(client(fakeDns([])), `http://nowhere.fiducia.test:${port}/`), refused('dns_failed', true));
    assert.deepEqual(await post(client(fakeDns([v4('not-an-address')])), `http://nowhere.fiducia.test:${port}/`), refused('dns_failed', true));
  });
});

describe('OutboundClient: requests it refuses before any connection', () => {
  it('refuses other schemes, credentials, unparsable URLs and reserved or malformed headers', async () => {
    const c = client();
    const cases: [Partial<OutboundRequest> & { url: string }, string][] = [
      [{ url: 'ftp://127.0.0.1/' }, 'unsupported_scheme'],
      [{ url: 'file:///etc/passwd' }, 'unsupported_scheme'],
      [{ url: 'javascript:alert(1)' }, 'unsupported_scheme'],
      [{ url: `http://user:secret@127.0.0.1:${port}/` }, 'credentials_in_url'],
      [{ url: `http://user@127.0.0.1:${port}/` }, 'credentials_in_url'],
      [{ url: 'not a url' }, 'invalid_url'],
      [{ url: `${base}/${'a'.repeat(9000)}` }, 'invalid_url'],
      [{ url: `${base}/`, headers: { Host: 'internal.example' } }, 'invalid_header'],
      [{ url: `${base}/`, headers: { 'Content-Length': '1' } }, 'invalid_header'],
      [{ url: `${base}/`, headers: { 'Transfer-Encoding': 'chunked' } }, 'invalid_header'],
      [{ url: `${base}/`, headers: { 'x-a': 'one\r\nx-injected: two' } }, 'invalid_header'],
      [{ url: `${base}/`, headers: { 'bad name': 'x' } }, 'invalid_header'],
      [{ url: `${base}/`, headers: { 'x-a': '1', 'X-A': '2' } }, 'invalid_header'],
    ];
    const before = connections;
    for (const [request, error] of cases) assert.deepEqual(await post(c, request.url, request), refused(error, false), request.url.slice(0, 60));
    assert.equal(connections, before, 'nothing reached the server');
  });
});

describe('OutboundClient: the address guard', () => {
  const blocked = refused('blocked_address', false);

  it('refuses loopback in every spelling when private networks are not allowed', async () => {
    const c = client();
    const before = connections;
    for (const url of [
      `http://127.0.0.1:${port}/`, `http://localhost:${port}/`, `http://LOCALHOST:${port}/`, `http://[::1]:${port}/`, `http://2130706433:${port}/`,
      `http://0x7f.1:${port}/`, `http://017700000001:${port}/`, `http://127.1:${port}/`, `http://0:${port}/`, `http://[::ffff:127.0.0.1]:${port}/`,
      `https://127.0.0.1:${port}/`,
    ]) {
      assert.deepEqual(await post(c, url, { allowPrivateNetwork: false }), blocked, url);
    }
    assert.equal(connections, before, 'nothing reached the server');
    assert.deepEqual(lookedUp, [], 'no socket was even created');
  });

  it('refuses a name that resolves to a private, link-local or mapped address, or to a mix of public and private', async () => {
    for (const answer of [[v4('10.0.0.1')], [v6('::ffff:169.254.169.254')], [v4('169.254.169.254')], [v6('fd00::1')], [v6('64:ff9b::a00:1')], [v4('93.184.215.14'), v4('10.0.0.1')], [v6('2606:4700::1111'), v6('::1')]]) {
      const dns = fakeDns(answer);
      assert.deepEqual(await post(client({ lookup: dns.lookup }), `http://hooks.fiducia.test:${port}/`, { allowPrivateNetwork: false }), blocked, JSON.stringify(answer));
      assert.deepEqual(dns.calls, ['hooks.fiducia.test']);
    }
    assert.deepEqual(lookedUp, [], 'no socket was created');
  });

  it('reaches the loopback server when the destination allows private networks', async () => {
    const c = client();
    assert.deepEqual(await post(c, `${base}/`), { ok: true, status: 200 });
    assert.deepEqual(await post(c, `http://localhost:${port}/`), { ok: true, status: 200 });
    assert.deepEqual(await post(c, `http://2130706433:${port}/`), { ok: true, status: 200 });
    const dns = fakeDns([v4('127.0.0.1')]);
    assert.deepEqual(await post(client({ lookup: dns.lookup }), `http://hooks.fiducia.test:${port}/`), { ok: true, status: 200 });
    assert.equal(received.at(-1)?.headers.host, `hooks.fiducia.test:${port}`, 'the Host header keeps the name');
  });

  it('connects to the address it checked, not to what DNS answers next (rebinding, private allowed)', async () => {
    // Only 127.0.0.1 listens: a second resolution would connect to 127.0.0.2 and be refused.
    const dns = fakeDns([v4('127.0.0.1')], [v4('127.0.0.2')]);
    assert.deepEqual(await post(client({ lookup: dns.lookup }), `http://hooks.fiducia.test:${port}/`), { ok: true, status: 200 });
    assert.deepEqual(dns.calls, ['hooks.fiducia.test'], 'resolved once');
    assert.deepEqual(lookedUp, ['127.0.0.1'], 'the socket connected to the checked address');
    assert.equal(received[0]?.localAddress, '127.0.0.1');
  });

  it('connects to the checked public address, never to the loopback address DNS answers next (rebinding)', async () => {
    // The guard of this file destroys the socket at its lookup, before it connects to the public address.
    const dns = fakeDns([v4('93.184.215.14')], [v4('127.0.0.1')]);
    const before = connections;
    const result = await post(client({ lookup: dns.lookup }), `http://hooks.fiducia.test:${port}/`, { allowPrivateNetwork: false });
    assert.equal(result.ok, false);
    assert.notEqual((result as { error: string }).error, 'blocked_address');
    assert.deepEqual(dns.calls, ['hooks.fiducia.test'], 'resolved once');
    assert.deepEqual(lookedUp, ['93.184.215.14'], 'the only address the socket was given is the checked one');
    assert.equal(connections, before, 'the loopback server was never reached');
  });

  it('does not hand a connection opened for a private-allowed destination to one that is not', async () => {
    const c = client({ lookup: fakeDns([v4('127.0.0.1')], [v4('93.184.215.14')]).lookup });
    assert.deepEqual(await post(c, `http://hooks.fiducia.test:${port}/`), { ok: true, status: 200 });
    const before = connections;
    // Same host and port, now resolving to a public address: the kept-alive loopback socket must not carry it.
    const result = await post(c, `http://hooks.fiducia.test:${port}/`, { allowPrivateNetwork: false });
    assert.equal(result.ok, false);
    assert.equal(received.length, 1, 'the second request did not reach the loopback server');
    assert.equal(connections, before);
    assert.deepEqual(lookedUp, ['127.0.0.1', '93.184.215.14']);
  });
});

describe('OutboundClient: TLS', () => {
  it('sends the URL host name as SNI while connecting to the pinned address', async () => {
    const names: string[] = [];
    const tlsServer = tls.createServer({
      SNICallback: (servername, callback) => {
        names.push(servername);
        callback(new Error('no certificate here'));
      },
    });
    await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
    try {
      const tlsPort = (tlsServer.address() as AddressInfo).port;
      const result = await post(client({ lookup: fakeDns([v4('127.0.0.1')]).lookup }), `https://hooks.fiducia.test:${tlsPort}/`);
      assert.equal(result.ok, false);
      assert.deepEqual(names, ['hooks.fiducia.test']);
    } finally {
      await new Promise((resolve) => tlsServer.close(resolve));
    }
  });

  it('refuses a certificate it cannot verify, even with NODE_TLS_REJECT_UNAUTHORIZED=0', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'fiducia-outbound-'));
    try {
      try {
        execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=hooks.fiducia.test',
          '-addext', 'subjectAltName=DNS:hooks.fiducia.test', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
      } catch {
        t.skip('openssl is not installed');
        return;
      }
      const httpsServer = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, handle);
      await new Promise<void>((resolve) => httpsServer.listen(0, '127.0.0.1', resolve));
      const previous = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
      try {
        const tlsPort = (httpsServer.address() as AddressInfo).port;
        const result = await post(client({ lookup: fakeDns([v4('127.0.0.1')]).lookup }), `https://hooks.fiducia.test:${tlsPort}/`);
        assert.deepEqual(result, refused('tls_error', true));
        assert.equal(received.length, 0, 'no request went over the unverified connection');
      } finally {
        if (previous === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
        else process.env.NODE_TLS_REJECT_UNAUTHORIZED = previous;
        httpsServer.closeAllConnections();
        await new Promise((resolve) => httpsServer.close(resolve));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
