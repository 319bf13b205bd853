// Bounded in-memory maps (caches of keys, decrypted values, read rows): make room by dropping the oldest entries.

/**
 * Deletes the first `count` entries of `map` (at least one): a Map iterates in insertion order, so these are the oldest
 * inserted (an entry re-inserted after a delete counts as new).
 */
export function dropOldest(map: Map<unknown, unknown>, count: number): void {
  let n = Math.max(1, Math.floor(count));
  for (const k of map.keys()) {
    map.delete(k);
    if (--n <= 0) break;
  }
}
