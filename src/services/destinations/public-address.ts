// Decides whether an IP address is on the public internet, so that a destination cannot reach Fiducia's own network.
import { isIP } from 'node:net';

/** IPv4 ranges that are not public unicast (IANA special-purpose registry, trimmed to what matters for a client). */
const BLOCKED_V4: readonly (readonly [string, number])[] = [
  ['0.0.0.0', 8], // "this network", incl. 0.0.0.0, which Linux connects to the local host
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, incl. cloud metadata at 169.254.169.254
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments (DS-Lite, NAT64 discovery)
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast, deprecated
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, incl. broadcast 255.255.255.255
];

/**
 * IPv6 is judged by allow-list: only global unicast (2000::/3) is public, less the special ranges below. That leaves
 * out ::, ::1, IPv4-compatible ::/96, fc00::/7, fe80::/10, ff00::/8, 64:ff9b:1::/48 and whatever IANA adds later
 * outside 2000::/3. IPv4-mapped, NAT64 and 6to4 addresses are judged by the IPv4 address they carry.
 */
const GLOBAL_UNICAST_V6: readonly [bigint, number] = [v6('2000::'), 3];
const BLOCKED_V6: readonly (readonly [bigint, number])[] = [
  [v6('2001::'), 23], // IETF protocol assignments: Teredo (which hides an IPv4 address), benchmarking, ORCHID
  [v6('2001:db8::'), 32], // documentation
  [v6('3fff::'), 20], // documentation (RFC 9637)
];
const MAPPED_V6: readonly [bigint, number] = [v6('::ffff:0:0'), 96];
const NAT64_V6: readonly [bigint, number] = [v6('64:ff9b::'), 96];
const SIX_TO_FOUR_V6: readonly [bigint, number] = [v6('2002::'), 16];

const BLOCKED_V4_PARSED: readonly (readonly [number, number])[] = BLOCKED_V4.map(([address, bits]) => [v4(address), bits]);

/**
 * True when `address` (an IP address as text) is public unicast; false for every special range, and for anything that
 * is not an IP address at all, so a caller that gets nonsense from a resolver refuses it.
 */
export function isPublicAddress(address: string): boolean {
  const zoneless = address.includes('%') ? address.slice(0, address.indexOf('%')) : address;
  switch (isIP(zoneless)) {
    case 4:
      return isPublicV4(v4(zoneless));
    case 6:
      return isPublicV6(v6(zoneless));
    default:
      return false;
  }
}

function isPublicV4(address: number): boolean {
  return !BLOCKED_V4_PARSED.some(([network, bits]) => address >>> (32 - bits) === network >>> (32 - bits));
}

function isPublicV6(address: bigint): boolean {
  const low32 = Number(address & 0xffffffffn);
  if (inV6(address, MAPPED_V6) || inV6(address, NAT64_V6)) return isPublicV4(low32);
  if (inV6(address, SIX_TO_FOUR_V6)) return isPublicV4(Number((address >> 80n) & 0xffffffffn));
  if (!inV6(address, GLOBAL_UNICAST_V6)) return false;
  return !BLOCKED_V6.some((range) => inV6(address, range));
}

function inV6(address: bigint, [network, bits]: readonly [bigint, number]): boolean {
  const shift = BigInt(128 - bits);
  return address >> shift === network >> shift;
}

/** A dotted-quad IPv4 address (already validated by `isIP`) as an unsigned 32-bit number. */
function v4(text: string): number {
  return text.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

/** An IPv6 address (already validated by `isIP`, without a zone) as a 128-bit number. */
function v6(text: string): bigint {
  const [head = '', tail] = text.split('::');
  const groups = (part: string): number[] => {
    if (part === '') return [];
    return part.split(':').flatMap((group) => {
      if (!group.includes('.')) return [Number.parseInt(group, 16)];
      const embedded = v4(group);
      return [embedded >>> 16, embedded & 0xffff];
    });
  };
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  return all.reduce((acc, group) => (acc << 16n) | BigInt(group), 0n);
}
