import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { subjectId, uuidv7 } from './ids.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The 48-bit millisecond timestamp at the front of a UUIDv7. */
const msOf = (id: string): number => Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16);

describe('uuidv7', () => {
  it('has the RFC 9562 layout: version 7, variant 10', () => {
    for (let i = 0; i < 1000; i++) {
      const id = uuidv7();
      assert.match(id, UUID);
      assert.equal(id[14], '7', 'version nibble');
      assert.ok('89ab'.includes(id[19]!), `variant nibble of ${id}`);
    }
  });

  it('is strictly increasing for 10,000 consecutive ids from the real clock, and unique', () => {
    // Runs before the tests below move the generator's clock into the future.
    const ids: string[] = [];
    for (let i = 0; i < 10_000; i++) ids.push(uuidv7());
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i]! > ids[i - 1]!, `#${i}`);
    assert.equal(new Set(ids).size, ids.length);
  });

  it('encodes the given time in its first 48 bits', () => {
    const t = Date.now() + 10 * 365 * 86_400_000; // later than any id made so far in this process
    const id = uuidv7(t);
    assert.equal(msOf(id), t);
    assert.equal(msOf(uuidv7(t + 5)), t + 5);
  });

  it('is strictly increasing for 10,000 consecutive ids within the same millisecond', () => {
    const t = Date.now() + 20 * 365 * 86_400_000;
    let prev = uuidv7(t);
    for (let i = 0; i < 10_000; i++) {
      const id = uuidv7(t);
      assert.ok(id > prev, `${id} after ${prev} (#${i})`);
      assert.equal(id[14], '7');
      assert.ok('89ab'.includes(id[19]!));
      prev = id;
    }
    // 4,096 ids fit in one millisecond's counter; beyond that the clock is advanced, never wrapped.
    assert.ok(msOf(prev) >= t + 2 && msOf(prev) <= t + 3, `advanced to ${msOf(prev) - t} ms`);
  });

  it('stays increasing when the clock goes backwards', () => {
    const t = Date.now() + 30 * 365 * 86_400_000;
    const a = uuidv7(t);
    const b = uuidv7(t - 60_000);
    const c = uuidv7(t - 120_000);
    assert.ok(b > a && c > b);
  });

  it('does not repeat its random part', () => {
    const tails = new Set<string>();
    for (let i = 0; i < 5000; i++) tails.add(uuidv7().slice(19));
    assert.equal(tails.size, 5000);
  });
});

describe('subjectId', () => {
  it('is a random UUIDv4 that carries no time', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const id = subjectId();
      assert.match(id, UUID);
      assert.equal(id[14], '4', 'version nibble');
      assert.ok('89ab'.includes(id[19]!), `variant nibble of ${id}`);
      seen.add(id);
    }
    assert.equal(seen.size, 1000);
  });
});
