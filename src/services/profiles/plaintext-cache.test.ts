// The decrypted-value cache: found only by subject, field and the exact ciphertext; bounded by age and size.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PlaintextCache } from './plaintext-cache.ts';

describe('PlaintextCache', () => {
  const blob = Buffer.from('ciphertext-1');

  it('finds a value only by the same subject, field and ciphertext bytes', () => {
    const c = new PlaintextCache(10);
    c.set('s1', 'firstName', blob, 'Ada');
    assert.deepEqual(c.get('s1', 'firstName', Buffer.from('ciphertext-1')), { blob, value: 'Ada' }, 'same bytes in another buffer hit');
    assert.equal(c.get('s1', 'firstName', Buffer.from('ciphertext-2')), undefined, 'a new ciphertext (a new value) misses');
    assert.equal(c.get('s1', 'lastName', blob), undefined, 'another field misses');
    assert.equal(c.get('s2', 'firstName', blob), undefined, 'another subject misses');
  });

  it('keeps a copy of the ciphertext, so a driver reusing the row buffer cannot turn a miss into a hit', () => {
    const c = new PlaintextCache(10);
    const row = Buffer.from('ciphertext-1');
    c.set('s1', 'f', row, 1);
    row.write('XX');
    assert.equal(c.get('s1', 'f', row), undefined, 'the changed buffer no longer matches');
    assert.ok(c.get('s1', 'f', blob), 'the original bytes still do');
  });

  it('freezes values: every reader shares them', () => {
    const c = new PlaintextCache(10);
    c.set('s1', 'address', blob, { city: 'Milano', tags: ['a'] });
    const v = c.get('s1', 'address', blob)?.value as { city: string; tags: string[] };
    assert.ok(Object.isFrozen(v) && Object.isFrozen(v.tags), 'frozen deeply');
    assert.throws(() => v.tags.push('b'), TypeError);
  });

  it('forgets a subject, expires after its age, and stays within its size', () => {
    let now = 1_000;
    const c = new PlaintextCache(10, 60_000, () => now);
    c.set('s1', 'f', blob, 1);
    c.forget('s1');
    assert.equal(c.get('s1', 'f', blob), undefined, 'forgotten');
    c.set('s1', 'f', blob, 1);
    now += 60_001;
    assert.equal(c.get('s1', 'f', blob), undefined, 'expired');
    for (let i = 0; i < 25; i++) c.set(`s${i}`, 'f', blob, i);
    assert.ok(c.size <= 10, `size ${c.size} within 10`);
    assert.ok(c.get('s24', 'f', blob), 'the newest subject is kept');
    assert.equal(c.get('s0', 'f', blob), undefined, 'the oldest subject was dropped');
  });

  it('after `forget`, a read still in flight cannot put the subject back, until the entries would have expired anyway', () => {
    let now = 1_000;
    const c = new PlaintextCache(10, 60_000, () => now);
    c.set('s1', 'f', blob, 1);
    c.forget('s1');
    c.set('s1', 'f', blob, 1); // the read that held the key before the erasure cleared the cache
    assert.equal(c.holds('s1'), false, 'refused');
    now += 60_001;
    c.sweep();
    c.set('s1', 'f', blob, 1);
    assert.equal(c.holds('s1'), true, 'the refusal ends with the lifetime (the keys are long gone by then)');
  });

  it('sweep drops entries past their age without a read asking for them; the timer does not hold the process', () => {
    let now = 1_000;
    const c = new PlaintextCache(10, 60_000, () => now);
    c.set('old', 'f', blob, 1);
    now += 30_000;
    c.set('young', 'f', blob, 1);
    now += 30_001;
    c.sweep();
    assert.equal(c.holds('old'), false, 'past its age: dropped');
    assert.equal(c.holds('young'), true, 'still young: kept');
    c.start(10);
    c.close();
    assert.equal(c.size, 0, 'close empties it');
  });

  it('refuses a size that is not a whole number ≥ 0 (a typo in FIDUCIA_READ_CACHE_SUBJECTS stops the start)', () => {
    for (const bad of [Number.NaN, -1, 2.5]) assert.throws(() => new PlaintextCache(bad), RangeError, String(bad));
  });

  it('size 0 keeps nothing', () => {
    const c = new PlaintextCache(0);
    c.set('s1', 'f', blob, 1);
    assert.equal(c.get('s1', 'f', blob), undefined, 'nothing kept');
  });
});
