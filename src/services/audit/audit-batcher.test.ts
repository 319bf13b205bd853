import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DataScope } from '../../store/scope.ts';
import { AuditBatcher } from './audit-batcher.ts';
import type { AuditEntryInput, AuditPort } from './audit-port.ts';

const db = {} as DataScope;
const entry = (n: number): AuditEntryInput => ({ actor: `t${n}`, action: 'profile.read', outcome: 'ok' });

/** A port whose appends complete when the test says so. */
function slowPort() {
  const calls: { entries: readonly AuditEntryInput[]; done: (err?: Error) => void }[] = [];
  const port: AuditPort = {
    append: (_db, entries) => new Promise<void>((resolve, reject) => calls.push({ entries, done: (err) => (err ? reject(err) : resolve()) })),
  };
  return { port, calls };
}
const settle = () => new Promise((r) => setImmediate(r));

describe('AuditBatcher', () => {
  it('commits the entries of one tick together and answers each caller only after the commit', async () => {
    const { port, calls } = slowPort();
    const b = new AuditBatcher(port, db);
    const settled: number[] = [];
    const ps = [1, 2, 3].map((n) => b.append(entry(n)).then(() => settled.push(n)));
    await settle();
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0]!.entries.map((e) => e.actor), ['t1', 't2', 't3']);
    assert.deepEqual(settled, [], 'nobody is answered before the commit');
    // Entries arriving during a commit form the next group.
    const later = b.append(entry(4));
    await settle();
    assert.equal(calls.length, 1);
    calls[0]!.done();
    await Promise.all(ps);
    assert.deepEqual(settled.sort(), [1, 2, 3]);
    await settle();
    assert.equal(calls.length, 2);
    assert.deepEqual(calls[1]!.entries.map((e) => e.actor), ['t4']);
    calls[1]!.done();
    await later;
    await b.flush();
  });

  it('a failed append fails every read of its group, and the next group is unaffected', async () => {
    const { port, calls } = slowPort();
    const b = new AuditBatcher(port, db);
    const a1 = b.append(entry(1));
    const a2 = b.append(entry(2));
    await settle();
    calls[0]!.done(new Error('disk full'));
    await assert.rejects(a1, /disk full/);
    await assert.rejects(a2, /disk full/);
    const a3 = b.append(entry(3));
    await settle();
    calls[1]!.done();
    await a3;
  });

  it('flush waits for everything queued', async () => {
    const { port, calls } = slowPort();
    const b = new AuditBatcher(port, db);
    let done = false;
    void b.append(entry(1)).then(() => (done = true));
    const flushed = b.flush().then(() => assert.ok(done));
    await settle();
    calls[0]!.done();
    await flushed;
  });
});
