import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { didYouMean, editDistance } from './edit-distance.ts';

describe('editDistance', () => {
  it('counts insertions, deletions and substitutions', () => {
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(editDistance('abc', ''), 3);
    assert.equal(editDistance('purpose', 'purposes'), 1);
    assert.equal(editDistance('flaw', 'lawn'), 2);
  });

  it('is a metric: zero exactly for equal strings, symmetric, bounded by the longer length, triangle inequality', () => {
    const word = fc.string({ maxLength: 12, unit: fc.constantFrom('a', 'b', 'c', 'd') });
    fc.assert(
      fc.property(word, word, word, (a, b, c) => {
        const ab = editDistance(a, b);
        assert.equal(ab === 0, a === b, `zero iff equal: ${a} / ${b}`);
        assert.equal(ab, editDistance(b, a), `symmetric: ${a} / ${b}`);
        assert.ok(ab >= Math.abs(a.length - b.length) && ab <= Math.max(a.length, b.length), `bounds: ${a} / ${b} = ${ab}`);
        assert.ok(editDistance(a, c) <= ab + editDistance(b, c), `triangle: ${a} / ${b} / ${c}`);
      }),
    );
  });
});

describe('didYouMean', () => {
  it('names the closest candidate when it is a likely typo', () => {
    assert.equal(didYouMean('purpose', ['purposes', 'categories']), ' (did you mean "purposes"?)');
    assert.equal(didYouMean('segmentConsentCategorys', ['segmentConsentCategories', 'tcf']), ' (did you mean "segmentConsentCategories"?)');
    assert.equal(didYouMean('Order Complete', ['Order Completed', 'Product Viewed']), ' (did you mean "Order Completed"?)');
  });

  it('treats a case-only difference as a match and prefers the first of equally close candidates', () => {
    assert.equal(didYouMean('NEWSLETTER', ['lifestyle', 'newsletter']), ' (did you mean "newsletter"?)');
    assert.equal(didYouMean('ab', ['ac', 'ad']), ' (did you mean "ac"?)');
  });

  it('says nothing when no candidate is close: more than 2 edits, or a third of a long word', () => {
    assert.equal(didYouMean('xyz', ['purposes']), '');
    assert.equal(didYouMean('anything', []), '');
    assert.equal(didYouMean('abcdefghi', ['abcdefxyz']), ' (did you mean "abcdefxyz"?)', '3 edits on 9 characters');
    assert.equal(didYouMean('abcdefgh', ['abcdexyz']), '', '3 edits on 8 characters');
    assert.equal(didYouMean('Order Completed'.repeat(20_000), ['Order Completed', 'Product Viewed']), '', 'a huge word is compared with nothing');
  });

  it('gives the answer a full search would give', () => {
    const word = fc.string({ maxLength: 10, unit: fc.constantFrom('a', 'b', 'A', 'c') });
    fc.assert(
      fc.property(word, fc.array(word, { maxLength: 6 }), (w, candidates) => {
        const scored = candidates.map((c) => ({ c, d: c.toLowerCase() === w.toLowerCase() ? 0 : editDistance(w, c) }));
        const best = scored.reduce<{ c: string; d: number } | undefined>((b, x) => (b === undefined || x.d < b.d ? x : b), undefined);
        const expected = best !== undefined && best.d <= Math.max(2, Math.floor(w.length / 3)) ? ` (did you mean "${best.c}"?)` : '';
        assert.equal(didYouMean(w, candidates), expected, `${w} among ${JSON.stringify(candidates)}`);
      }),
    );
  });
});
