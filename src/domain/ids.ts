// Identifiers: UUIDv7 (time-ordered, so B-tree inserts append) for events and ledgers, UUIDv4 for subjects.
import { randomUUID } from 'node:crypto';
import { pooledRandomBytes } from './pooled-random-bytes.ts';

let lastMs = 0;
let seq = 0;

/**
 * RFC 9562 UUIDv7. Within one millisecond a 12-bit counter in `rand_a` keeps ids from this process
 * strictly increasing; if it runs out, the clock is advanced by one millisecond.
 */
export function uuidv7(now = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    seq = 0;
  } else if (++seq > 0xfff) {
    lastMs += 1;
    seq = 0;
  }
  const b = Buffer.allocUnsafe(16);
  b.writeUIntBE(lastMs, 0, 6);
  b[6] = 0x70 | (seq >> 8);
  b[7] = seq & 0xff;
  pooledRandomBytes(8).copy(b, 8);
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Subject ids carry no time or order: nothing about a person should be inferable from the id. */
export function subjectId(): string {
  return randomUUID();
}
