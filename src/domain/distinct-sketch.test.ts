import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { DistinctSketch, EXACT_LIMIT } from './distinct-sketch.ts';

/** A 48-bit key per item, as the detector derives them (a hash of the item). */
const key = (item: string): number => createHash('sha256').update(item).digest().readUIntBE(0, 6);

describe('DistinctSketch', () => {
  it('counts exactly up to its limit, repeats counted once', () => {
    const s = new DistinctSketch();
    for (let i = 0; i < 2000; i++) s.add(key('same'));
    assert.equal(s.estimate(), 1, 'one item added 2,000 times is one');
    for (let i = 0; i < EXACT_LIMIT - 1; i++) s.add(key(`s${i}`));
    assert.equal(s.exact, true, 'still exact at the limit');
    assert.equal(s.estimate(), EXACT_LIMIT);
  });

  it('turns dense past the limit and stays within a few percent', () => {
    for (const n of [EXACT_LIMIT + 1, 20_000, 200_000]) {
      const s = new DistinctSketch();
      for (let i = 0; i < n; i++) s.add(key(`subject-${n}-${i}`));
      assert.equal(s.exact, false, `dense at ${n}`);
      const error = Math.abs(s.estimate() - n) / n;
      assert.ok(error < 0.05, `estimate ${s.estimate()} for ${n} is within 5 % (4 standard errors of 1.6 %)`);
    }
  });

  it('merges by union: commutative and idempotent, exact and dense alike', () => {
    for (const size of [300, 9000]) {
      const a = new DistinctSketch();
      const b = new DistinctSketch();
      for (let i = 0; i < size; i++) a.add(key(`a${i}`));
      for (let i = 0; i < size; i++) b.add(key(i % 2 === 0 ? `a${i}` : `b${i}`));
      const ab = DistinctSketch.fromBuffer(a.toBuffer());
      ab.merge(b);
      const ba = DistinctSketch.fromBuffer(b.toBuffer());
      ba.merge(a);
      ba.merge(a);
      ba.merge(b);
      assert.equal(ab.estimate(), ba.estimate(), `same union in any order (${size})`);
      const want = size + size / 2;
      assert.ok(Math.abs(ab.estimate() - want) / want < 0.05, `union of ${want}: ${ab.estimate()}`);
      if (size === 300) assert.equal(ab.estimate(), want, 'exact while small');
    }
  });

  it('round-trips through its buffer and refuses what is not one', () => {
    const s = new DistinctSketch();
    for (let i = 0; i < 10; i++) s.add(key(`x${i}`));
    assert.equal(DistinctSketch.fromBuffer(s.toBuffer()).estimate(), 10);
    for (const bad of [Buffer.from([]), Buffer.from([1, 0, 0]), Buffer.from([2, 1]), Buffer.from([9]), Buffer.concat([Buffer.from([2]), Buffer.alloc(4096, 40)])]) {
      assert.throws(() => DistinctSketch.fromBuffer(bad), RangeError, `refused: ${bad.toString('hex').slice(0, 12)}`);
    }
  });
});
