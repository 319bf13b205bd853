import assert from 'node:assert/strict';
import { it } from 'node:test';
import { dropOldest } from './drop-oldest.ts';

it('drops the entries inserted first, at least one, a whole number of them', () => {
  const m = new Map([['a', 1], ['b', 2], ['c', 3], ['d', 4]]);
  m.delete('a');
  m.set('a', 5); // re-inserted: now the newest
  dropOldest(m, 2.9);
  assert.deepEqual([...m.keys()], ['d', 'a']);
  dropOldest(m, 0);
  assert.deepEqual([...m.keys()], ['a'], 'at least one');
  dropOldest(m, 10);
  assert.equal(m.size, 0, 'more than there are: all of them');
});
