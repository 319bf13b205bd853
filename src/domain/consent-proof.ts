// Proof kept with each consent record: enough to show a choice was made from a browser, not enough to identify it.
import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';

export interface ConsentProof {
  uaHash: string | null;
  ipTruncated: string | null;
}

/** IPv4 keeps its /24, IPv6 its /48: the network, not the device. */
export function truncateIp(ip: string | undefined): string | null {
  if (!ip) return null;
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  if (isIPv4(v4)) return `${v4.split('.').slice(0, 3).join('.')}.0`;
  // The zone id (`fe80::1%eth0`) is cut by position: no pattern runs over a forwarded address a client may write.
  const zone = ip.indexOf('%');
  const bare = zone < 0 ? ip : ip.slice(0, zone);
  if (isIPv6(bare)) {
    // The URL parser canonicalizes (lower case, no leading zeros, dotted tails as two groups).
    const canonical = new URL(`http://[${bare}]`).hostname.slice(1, -1);
    const [head = '', tail = ''] = canonical.split('::');
    const groups = head.split(':').filter(Boolean);
    const tailGroups = tail.split(':').filter(Boolean);
    const full = [...groups, ...Array<string>(Math.max(0, 8 - groups.length - tailGroups.length)).fill('0'), ...tailGroups];
    return `${full.slice(0, 3).join(':')}::`;
  }
  return null;
}

export function consentProof(userAgent: string | undefined, ip: string | undefined): ConsentProof {
  return {
    uaHash: userAgent ? createHash('sha256').update(userAgent).digest('hex') : null,
    ipTruncated: truncateIp(ip),
  };
}
