import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pooledRandomBytes } from './pooled-random-bytes.ts';

describe('pooledRandomBytes', () => {
  it('hands out slices of the asked length, across pool refills and beyond the pool size', () => {
    for (const n of [0, 1, 8, 12, 4095, 4096, 4097, 10_000]) assert.equal(pooledRandomBytes(n).length, n, `length ${n}`);
  });

  it('never hands out the same bytes twice (1,000 IVs across several refills)', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) seen.add(pooledRandomBytes(12).toString('hex'));
    assert.equal(seen.size, 1000, 'every 12-byte draw is distinct');
  });

  it('gives slices that share no memory, so writing into one leaves the others alone', () => {
    const draws = Array.from({ length: 400 }, () => pooledRandomBytes(12));
    const copies = draws.map((d) => Buffer.from(d));
    draws[0]!.fill(0);
    for (let i = 1; i < draws.length; i++) assert.ok(draws[i]!.equals(copies[i]!), `draw ${i} unchanged by a write into draw 0`);
  });
});
