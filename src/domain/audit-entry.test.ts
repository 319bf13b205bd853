import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalEntryText, canonicalJson, entryFromParts, entryParts, entryProblem, type AuditEntry } from './audit-entry.ts';

const base: AuditEntry = {
  index: 7,
  at: 1_700_000_000_000,
  actor: 'tok_1',
  action: 'profile.read',
  purpose: 'marketing',
  subjectId: 's-1',
  fields: ['email', 'firstName'],
  counts: { b: 2, a: 1 },
  outcome: 'ok',
  details: { z: null, y: true, x: 'why' },
};

describe('canonical audit entry', () => {
  it('is sorted-key JSON of every field, the index included', () => {
    const text = canonicalEntryText(entryParts(base));
    assert.equal(
      text,
      '{"action":"profile.read","actor":"tok_1","at":1700000000000,"data":{"counts":{"a":1,"b":2},"details":{"x":"why","y":true,"z":null},"fields":["email","firstName"]},"index":7,"outcome":"ok","purpose":"marketing","subjectId":"s-1"}',
    );
    assert.equal(text, canonicalJson(JSON.parse(text)));
    assert.deepEqual(entryFromParts(entryParts(base)), { ...base, counts: { a: 1, b: 2 }, details: { x: 'why', y: true, z: null } });
  });

  it('does not depend on the order keys were built in', () => {
    const shuffled = { ...base, counts: { a: 1, b: 2 }, details: { x: 'why', z: null, y: true } };
    assert.equal(canonicalEntryText(entryParts(shuffled)), canonicalEntryText(entryParts(base)));
  });

  it('changes with any field, including the index and null versus absent purpose', () => {
    const text = canonicalEntryText(entryParts(base));
    for (const change of [{ index: 8 }, { at: base.at + 1 }, { actor: 'tok_2' }, { purpose: null }, { subjectId: null }, { fields: ['email'] }, { outcome: 'denied' as const }]) {
      assert.notEqual(canonicalEntryText(entryParts({ ...base, ...change })), text, JSON.stringify(change));
    }
  });

  it('cannot be matched by moving text between stored columns (the encoding is injective)', () => {
    const str = fc.string({ maxLength: 12 });
    const arb = fc.record({
      index: fc.nat(1e6),
      at: fc.nat(),
      actor: str,
      action: str,
      purpose: fc.option(str, { nil: null }),
      subjectId: fc.option(str, { nil: null }),
      outcome: str,
      dataJson: fc.oneof(str, fc.json()),
    });
    fc.assert(
      fc.property(arb, arb, (a, b) => {
        const same = JSON.stringify(a) === JSON.stringify(b);
        return same === (canonicalEntryText(a) === canonicalEntryText(b));
      }),
      { numRuns: 2000 },
    );
    // The attack the encoding is built against: text shifted from `data` into the next column.
    const a = { ...entryParts(base) };
    const shifted = { ...a, dataJson: `${a.dataJson},"index":7,"outcome":"ok"`, outcome: 'x' };
    assert.notEqual(canonicalEntryText(shifted), canonicalEntryText(a));
  });

  it('refuses what it cannot record faithfully', () => {
    const ok = { actor: 'a', action: 'x.y', purpose: null, subjectId: null, fields: [], counts: {}, outcome: 'ok' as const, details: {} };
    assert.equal(entryProblem(ok), null);
    assert.match(entryProblem({ ...ok, action: 'read' }) ?? '', /dotted/);
    assert.match(entryProblem({ ...ok, counts: { n: Infinity } }) ?? '', /finite/);
    assert.match(entryProblem({ ...ok, details: { v: {} as never } }) ?? '', /details/);
    assert.throws(() => canonicalEntryText({ ...entryParts({ ...base }), at: -1 }), RangeError);
  });
});
