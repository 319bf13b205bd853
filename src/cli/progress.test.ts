import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { progressReporter, type ProgressStream } from './progress.ts';

/** A stand-in for stderr that keeps what is written; `tty` makes it claim to be a terminal. */
function fakeStream(tty: boolean): ProgressStream & { text(): string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  }) as Writable & { isTTY?: boolean; columns?: number };
  if (tty) {
    stream.isTTY = true;
    stream.columns = 100;
  }
  return Object.assign(stream, { text: () => chunks.join('') });
}

// ESC (0x1b): the cursor moves, line clears and hidden cursor of a bar.
const ESC = String.fromCharCode(27);

describe('progressReporter', () => {
  it('draws a bar with the total on a terminal, and leaves no final plain line of its own', () => {
    const stream = fakeStream(true);
    const p = progressReporter('audit verify', 'entries', stream);
    p.update(0, 200);
    p.update(100, 200);
    p.update(200, 200);
    p.stop();
    const out = stream.text();
    assert.ok(out.includes(ESC), 'terminal control sequences');
    assert.ok(out.includes('audit verify ['), `the bar: ${JSON.stringify(out)}`);
    assert.ok(out.includes('100%') && out.includes('200/200 entries'), `the final state: ${JSON.stringify(out)}`);
    assert.ok(!out.includes('audit verify: '), 'no plain line on a terminal');
  });

  it('counts without a bar on a terminal when the total is unknown', () => {
    const stream = fakeStream(true);
    const p = progressReporter('jobs run retention', 'items', stream);
    p.update(5);
    p.update(12);
    p.stop();
    const out = stream.text();
    assert.ok(out.includes('jobs run retention | 12 items'), `a running count: ${JSON.stringify(out)}`);
    assert.ok(!out.includes('%'), 'no percentage of an unknown total');
  });

  it('writes nothing while running without a terminal, then one plain line', () => {
    const stream = fakeStream(false);
    const p = progressReporter('keys rotate', 'data keys rewrapped', stream);
    p.update(0, 3000);
    p.update(1000, 3000);
    assert.equal(stream.text(), '', 'nothing while running');
    p.update(3000, 3000);
    p.stop();
    p.stop();
    assert.equal(stream.text(), 'keys rotate: 3000 of 3000 data keys rewrapped\n');
  });

  it('writes no plain line after a failure, nor when nothing was reported', () => {
    const failed = fakeStream(false);
    const p = progressReporter('segments recompute', 'subjects', failed);
    p.update(10, 50);
    p.stop(false);
    assert.equal(failed.text(), '');
    const quiet = fakeStream(false);
    progressReporter('jobs run audit-checkpoint', 'items', quiet).stop();
    assert.equal(quiet.text(), '');
  });
});
