// The HTTP client that delivers to destinations: one POST at a time, to an address checked against the SSRF rules
// and pinned for the connection, answering with a machine-readable outcome that never carries the response body.
import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { isPublicAddress } from './public-address.ts';
import { parseRetryAfter } from './retry-after.ts';

export interface OutboundRequest {
  /** `http:` or `https:`, without credentials. */
  url: string;
  headers: Record<string, string>;
  /** Already-serialized JSON. */
  body: string;
  /** The destination's explicit opt-in to loopback, private and other non-public addresses. */
  allowPrivateNetwork: boolean;
  /** The whole exchange: resolution, waiting for a socket, connect, request and response. Default 10 s. */
  timeoutMs?: number;
}

/**
 * The outcome of one delivery. `error` is a code, never text from the receiver or the URL: `http_<status>`,
 * `redirect_refused`, `blocked_address`, `dns_failed`, `timeout`, `connection_refused`, `connection_reset`,
 * `host_unreachable`, `tls_error`, `invalid_response`, `network_error`, `invalid_url`, `unsupported_scheme`,
 * `credentials_in_url`, `invalid_header` or `client_closed`.
 */
export type OutboundResult =
  | { ok: true; status: number }
  | { ok: false; status: number | null; retryable: boolean; retryAfterMs: number | null; error: string };

export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Every address of a host name, as `dns.lookup(hostname, { all: true })` answers. Tests pass a fake. */
export type LookupFn = (hostname: string) => Promise<readonly ResolvedAddress[]>;

export const DEFAULT_TIMEOUT_MS = 10_000;
/** What is read of a response body before the connection is dropped; the body is never kept. */
export const MAX_RESPONSE_BODY_BYTES = 64 * 1024;
const DEFAULT_MAX_SOCKETS = 16;
/** setTimeout's limit: a longer delay would fire at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;
const MAX_URL_LENGTH = 8192;
const MAX_HEADERS = 64;
/** Shorter than the idle limit of common servers, so a kept-alive socket is rarely reused just as the server drops it. */
const IDLE_SOCKET_MS = 4_000;
/** Headers that frame the message or name the host (and so the TLS server name): the client sets these itself. */
const RESERVED_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect', 'proxy-connection']);

type Scheme = 'http:' | 'https:';

interface Target {
  scheme: Scheme;
  /** A host name, or an IP address without brackets. */
  host: string;
  port: number | undefined;
  path: string;
}

export class OutboundClient {
  readonly #lookup: LookupFn;
  readonly #maxSockets: number;
  /**
   * Keep-alive pools, one per scheme and address policy, made when first needed: a socket opened for a destination
   * allowed on private networks never carries a request of one that is not.
   */
  readonly #agents = new Map<string, http.Agent>();
  #closed = false;

  constructor(opts: { maxSockets?: number; lookup?: LookupFn } = {}) {
    const maxSockets = opts.maxSockets ?? DEFAULT_MAX_SOCKETS;
    if (!Number.isSafeInteger(maxSockets) || maxSockets < 1) throw new RangeError('maxSockets must be a whole number ≥ 1');
    this.#maxSockets = maxSockets;
    this.#lookup = opts.lookup ?? ((hostname) => dnsLookup(hostname, { all: true }));
  }

  async post(request: OutboundRequest): Promise<OutboundResult> {
    const timeoutMs = request.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) {
      throw new RangeError(`timeoutMs must be a whole number of milliseconds from 1 to ${MAX_TIMEOUT_MS}`);
    }
    if (this.#closed) return failure('client_closed', true);
    const target = parseTarget(request.url);
    if (typeof target === 'string') return failure(target, false);
    const headers = buildHeaders(request.headers, request.body);
    if (headers === null) return failure('invalid_header', false);

    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), timeoutMs);
    try {
      const resolved = await this.#addressesOf(target.host, request.allowPrivateNetwork, deadline.signal);
      if ('refused' in resolved) return resolved.refused;
      const { addresses } = resolved;
      if (deadline.signal.aborted) return failure('timeout', true);
      if (this.#closed) return failure('client_closed', true);
      // A name is connected through a lookup that can only answer the addresses just checked, so a DNS answer that
      // changes between the check and the connect (rebinding) is never used. An IP address is connected as it is.
      const lookup = isIP(target.host) === 0 ? pinnedLookup(target.host, addresses) : undefined;
      return await this.#send(target, headers, request.body, lookup, this.#agent(target.scheme, request.allowPrivateNetwork), deadline.signal);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Destroys every socket, kept-alive or busy; later posts answer `client_closed`. */
  close(): void {
    this.#closed = true;
    for (const agent of this.#agents.values()) agent.destroy();
    this.#agents.clear();
  }

  /** The addresses to connect to, each one checked unless the destination allows private networks. */
  async #addressesOf(host: string, allowPrivateNetwork: boolean, signal: AbortSignal): Promise<{ addresses: readonly ResolvedAddress[] } | { refused: OutboundResult }> {
    let addresses: readonly ResolvedAddress[];
    const family = isIP(host);
    if (family !== 0) {
      addresses = [{ address: host, family }];
    } else {
      try {
        const answer = await untilAborted(this.#lookup(host), signal);
        // The family is taken from the address itself, not from the resolver's word.
        addresses = answer.map(({ address }) => ({ address, family: isIP(address) }));
      } catch {
        return { refused: signal.aborted ? failure('timeout', true) : failure('dns_failed', true) };
      }
      if (addresses.length === 0 || addresses.some((a) => a.family === 0)) return { refused: failure('dns_failed', true) };
    }
    if (!allowPrivateNetwork && !addresses.every((a) => isPublicAddress(a.address))) return { refused: failure('blocked_address', false) };
    return { addresses };
  }

  #agent(scheme: Scheme, allowPrivateNetwork: boolean): http.Agent {
    const key = `${scheme}${allowPrivateNetwork ? 'private' : 'public'}`;
    let agent = this.#agents.get(key);
    if (agent === undefined) {
      const options: https.AgentOptions = {
        keepAlive: true,
        maxSockets: this.#maxSockets,
        maxFreeSockets: this.#maxSockets,
        timeout: IDLE_SOCKET_MS,
        scheduling: 'lifo',
        // Tries every pinned address (IPv6 and IPv4 alternately) instead of only the first.
        autoSelectFamily: true,
        // Explicit, so NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment cannot turn certificate checks off.
        rejectUnauthorized: true,
      };
      agent = scheme === 'https:' ? new https.Agent(options) : new http.Agent(options);
      this.#agents.set(key, agent);
    }
    return agent;
  }

  #send(target: Target, headers: http.OutgoingHttpHeaders, body: string, lookup: LookupFunction | undefined, agent: http.Agent, signal: AbortSignal): Promise<OutboundResult> {
    return new Promise((resolve) => {
      let status: number | null = null;
      let retryAfter: string | undefined;
      let settled = false;
      let req: http.ClientRequest | undefined;
      const onAbort = (): void => {
        req?.destroy();
      };
      const settle = (result: OutboundResult): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        resolve(result);
      };
      // Once the status line has arrived it decides the outcome, whatever happens to the rest of the body.
      const answered = (): void => settle(statusResult(status ?? 0, retryAfter));
      const broken = (err?: unknown): void => {
        if (status !== null) answered();
        else settle(signal.aborted ? failure('timeout', true) : failure(err === undefined ? 'network_error' : networkErrorCode(err), true));
      };

      const options: https.RequestOptions = {
        protocol: target.scheme,
        hostname: target.host,
        port: target.port,
        path: target.path,
        method: 'POST',
        headers,
        agent,
        // Certificates are checked against the name in the URL, whatever address the connection was pinned to.
        ...(target.scheme === 'https:' && isIP(target.host) === 0 ? { servername: target.host } : {}),
        ...(lookup === undefined ? {} : { lookup }),
      };
      try {
        req = (target.scheme === 'https:' ? https : http).request(options);
      } catch {
        settle(failure('invalid_header', false));
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });

      req.on('error', broken);
      req.on('close', () => broken());
      req.on('response', (res) => {
        status = res.statusCode ?? 0;
        retryAfter = res.headers['retry-after'];
        // The body is counted and dropped; past the limit the connection goes rather than be drained.
        if (Number(res.headers['content-length']) > MAX_RESPONSE_BODY_BYTES) {
          res.destroy();
          answered();
          return;
        }
        let received = 0;
        res.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > MAX_RESPONSE_BODY_BYTES) {
            res.destroy();
            answered();
          }
        });
        res.on('end', answered);
        res.on('error', answered);
        res.on('close', answered);
      });
      if (signal.aborted) req.destroy();
      else req.end(body);
    });
  }
}

function failure(error: string, retryable: boolean): OutboundResult {
  return { ok: false, status: null, retryable, retryAfterMs: null, error };
}

function statusResult(status: number, retryAfter: string | undefined): OutboundResult {
  if (status >= 200 && status <= 299) return { ok: true, status };
  if (status >= 300 && status <= 399) return { ok: false, status, retryable: false, retryAfterMs: null, error: 'redirect_refused' };
  if (status < 200 || status > 599) return { ok: false, status, retryable: true, retryAfterMs: null, error: 'invalid_response' };
  const retryable = status === 408 || status === 425 || status === 429 || status >= 500;
  return { ok: false, status, retryable, retryAfterMs: retryable ? parseRetryAfter(retryAfter, Date.now()) : null, error: `http_${status}` };
}

/** A code for a failure before any response, from the error's `code` alone (its message may name the host). */
function networkErrorCode(err: unknown): string {
  const code = typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : '';
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection_refused';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
      return 'connection_reset';
    case 'ETIMEDOUT':
      return 'timeout';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'ENETDOWN':
      return 'host_unreachable';
    case 'ENOTFOUND':
      return 'dns_failed';
  }
  if (code.startsWith('HPE_')) return 'invalid_response';
  if (code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') || code.includes('CERT') || code === 'EPROTO') return 'tls_error';
  return 'network_error';
}

/** The URL split for http.request, or the code that refuses it. */
function parseTarget(text: string): Target | string {
  if (text.length > MAX_URL_LENGTH) return 'invalid_url';
  let url: URL;
  try {
    // WHATWG parsing turns every numeric host form (2130706433, 0x7f.1, 0177.0.0.1, 127.1) into a dotted quad.
    url = new URL(text);
  } catch {
    return 'invalid_url';
  }
  const scheme = url.protocol === 'https:' ? 'https:' : url.protocol === 'http:' ? 'http:' : null;
  if (scheme === null) return 'unsupported_scheme';
  if (url.username !== '' || url.password !== '') return 'credentials_in_url';
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (host === '') return 'invalid_url';
  return { scheme, host, port: url.port === '' ? undefined : Number(url.port), path: `${url.pathname}${url.search}` };
}

/** The caller's headers, checked, with the framing ones added; null if any is malformed or reserved. */
function buildHeaders(given: Record<string, string>, body: string): http.OutgoingHttpHeaders | null {
  const entries = Object.entries(given);
  if (entries.length > MAX_HEADERS) return null;
  const headers = new Map<string, string>();
  for (const [name, value] of entries) {
    const lower = name.toLowerCase();
    if (RESERVED_HEADERS.has(lower) || headers.has(lower)) return null;
    try {
      http.validateHeaderName(name);
      http.validateHeaderValue(name, value);
    } catch {
      return null;
    }
    headers.set(lower, value);
  }
  if (!headers.has('content-type')) headers.set('content-type', 'application/json');
  headers.set('content-length', String(Buffer.byteLength(body)));
  return Object.fromEntries(headers);
}

/** A lookup for http.request that answers only the checked addresses of one host name, and refuses any other name. */
function pinnedLookup(host: string, addresses: readonly ResolvedAddress[]): LookupFunction {
  return (hostname, options, callback) => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : (options.family ?? 0);
    const candidates = addresses.filter((a) => family === 0 || a.family === family);
    const first = candidates[0];
    process.nextTick(() => {
      if (hostname !== host || first === undefined) callback(Object.assign(new Error('no pinned address'), { code: 'ENOTFOUND' }), '', 0);
      else if (options.all === true) callback(null, candidates.map((a) => ({ address: a.address, family: a.family })));
      else callback(null, first.address, first.family);
    });
  };
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error('aborted'));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error('lookup failed'));
      },
    );
  });
}
