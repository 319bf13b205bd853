// Which X-Forwarded-For hops to believe: `FIDUCIA_TRUST_PROXY` as a hop count or a list of proxy addresses, never "all".
import { isIP } from 'node:net';

/** `(address, hop)` → whether that hop is one of our proxies; hop 0 is the socket peer (Fastify's trust function). */
export type TrustProxyFn = (address: string, hop: number) => boolean;

/** Named ranges Fastify's address matcher understands. */
const NAMED_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);
const MAX_HOPS = 16;
const MAX_TEXT = 4096;

export class TrustProxyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrustProxyError';
  }
}

const refuse = (value: string, why: string) =>
  new TrustProxyError(
    `FIDUCIA_TRUST_PROXY=${value.slice(0, 80)} ${why}: give the number of proxies in front of Fiducia (e.g. 1) or their addresses and CIDRs (e.g. 10.0.0.5,172.16.0.0/12)`,
  );

const EVERY_HOP = /^(true|all|\*)$/i;

function checkProxy(entry: string, whole: string): string {
  if (EVERY_HOP.test(entry)) throw refuse(whole, 'would trust every hop, so any client could choose its own address');
  if (NAMED_RANGES.has(entry)) return entry;
  const slash = entry.indexOf('/');
  const address = slash < 0 ? entry : entry.slice(0, slash);
  const family = isIP(address);
  if (family === 0) throw refuse(whole, `has ${JSON.stringify(entry.slice(0, 60))}, which is not an IP address or CIDR`);
  if (slash < 0) return entry;
  const bits = entry.slice(slash + 1);
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) throw refuse(whole, `has ${JSON.stringify(entry.slice(0, 60))}, whose prefix is not 0–${max}`);
  // A /0 range is every address: the same as trusting all hops.
  if (Number(bits) === 0) throw refuse(whole, 'would trust every hop (a /0 range), so any client could choose its own address');
  return entry;
}

function hops(n: number, shown: string): TrustProxyFn | false {
  if (!Number.isInteger(n) || n < 0 || n > MAX_HOPS) throw refuse(shown, `is not a hop count from 0 to ${MAX_HOPS}`);
  // Fastify ignores a bare number (it cannot check the peer), so the count becomes a trust function.
  return n === 0 ? false : (_address, hop) => hop < n;
}

/**
 * What Fastify's `trustProxy` gets: `false` (the socket peer is the client), a function trusting the first `n` hops from
 * the socket inwards (the client is the address the outermost of our proxies added), or a list of proxy addresses.
 * Accepts the environment's text (`'1'`, `'10.0.0.5, 172.16.0.0/12'`), a number or a list; throws `TrustProxyError`.
 */
export function resolveTrustProxy(value: string | number | readonly string[] | undefined): TrustProxyFn | string[] | false {
  if (value === undefined) return false;
  if (typeof value === 'number') return hops(value, String(value));
  if (typeof value !== 'string') {
    const shown = value.join(',');
    if (shown.length > MAX_TEXT) throw refuse(shown, `is longer than ${MAX_TEXT} characters`);
    return value.length === 0 ? false : value.map((entry) => checkProxy(entry.trim().toLowerCase(), shown));
  }
  if (value.length > MAX_TEXT) throw refuse(value, `is longer than ${MAX_TEXT} characters`);
  const trimmed = value.trim();
  if (trimmed === '') return false;
  if (EVERY_HOP.test(trimmed)) throw refuse(trimmed, 'would trust every hop, so any client could choose its own address');
  // Digits alone are a hop count; an IPv4 address alone is a one-proxy list.
  if (/^[\d.+-]+$/.test(trimmed)) {
    if (isIP(trimmed) !== 0) return [trimmed];
    if (!/^\d+$/.test(trimmed)) throw refuse(trimmed, 'is neither a hop count nor a list of addresses');
    return hops(Number(trimmed), trimmed);
  }
  return trimmed.split(',').map((entry) => checkProxy(entry.trim().toLowerCase(), trimmed));
}
