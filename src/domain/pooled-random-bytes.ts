// One pool of random bytes for the process's small, frequent draws (AES-GCM IVs, UUIDv7 random bits).
// It sits beside ids.ts because `domain` imports nothing of ours, while crypto/envelope.ts may import from here.
import { randomBytes } from 'node:crypto';

// One getrandom call per 4 KiB instead of one per draw (~340 IVs or 512 UUIDs per refill).
const POOL_SIZE = 4096;

let pool = Buffer.alloc(0);
let at = 0;

/**
 * `n` fresh bytes from the CSPRNG. Every byte is handed out once: slices never overlap, so IV uniqueness holds and a
 * caller that writes into its slice changes nobody else's. Only for values that are not secret (the pool stays in
 * memory until it is used up); draws larger than the pool come straight from `randomBytes`.
 */
export function pooledRandomBytes(n: number): Buffer {
  if (n > POOL_SIZE) return randomBytes(n);
  if (at + n > pool.length) {
    pool = randomBytes(POOL_SIZE);
    at = 0;
  }
  const out = pool.subarray(at, at + n);
  at += n;
  return out;
}
