import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Admission, IngestOverloadedError } from './admission.ts';

describe('ingestion admission (backpressure)', () => {
  it('takes anything up to the floor before any rate is known, and any batch into an empty queue', () => {
    const a = new Admission({ maxQueueMs: 500, minQueued: 100 });
    a.enter(60);
    a.enter(40);
    assert.throws(() => a.enter(1), IngestOverloadedError);
    a.leave(100);
    a.enter(5000); // one batch past the bound still goes through an idle writer
    assert.equal(a.queued, 5000);
  });

  it('bounds the queue by the time it would take at the measured rate', () => {
    const a = new Admission({ maxQueueMs: 500, minQueued: 10 });
    a.observe(200, 100); // 2 messages per ms: 1,000 in 500 ms
    assert.equal(a.limit, 1000);
    a.enter(900);
    a.enter(100);
    assert.throws(
      () => a.enter(1),
      (e: unknown) =>
        e instanceof IngestOverloadedError &&
        e.status === 429 &&
        e.code === 'FIDUCIA_RATE_LIMITED' &&
        e.headers()['retry-after'] === '1' &&
        JSON.stringify(e.details) === JSON.stringify({ reason: 'overloaded', retryAfterSeconds: 1 }),
    );
    assert.equal(a.queued, 1000, 'a refused batch is not counted');
    a.leave(1000);
    assert.equal(a.queued, 0);
  });

  it('follows a slower writer, and asks for a longer wait when the queue is long for its rate', () => {
    const a = new Admission({ maxQueueMs: 500, minQueued: 10 });
    a.observe(1000, 100); // 10/ms
    for (let i = 0; i < 50; i++) a.observe(10, 100); // the writer slows to 0.1/ms
    assert.ok(a.limit < 100, `the bound follows the slower rate: ${a.limit}`);
    a.enter(5000);
    // 5,000 queued at about 0.1 per ms is about 50 s: asked to come back in 30 s, the most it ever says.
    assert.equal(a.retryAfterSeconds(), 30);
  });

  it('is saturated only with work queued at or past its bound: then the route refuses before reading a body', () => {
    const a = new Admission({ maxQueueMs: 500, minQueued: 100 });
    assert.equal(a.saturated, false);
    a.enter(5000);
    assert.equal(a.saturated, true);
    assert.equal(a.refusal().status, 429);
    a.enter(0); // a consent choice counts no message and is never refused
    a.leave(4950);
    assert.equal(a.saturated, false, '50 queued, bound 100');
    a.leave(50);
    assert.equal(a.saturated, false, 'an empty queue never is');
  });

  it('ignores commits without messages or time, and never goes below an empty queue', () => {
    const a = new Admission({ maxQueueMs: 500, minQueued: 10 });
    a.observe(0, 10);
    a.observe(10, 0);
    assert.equal(a.limit, 10);
    assert.equal(a.retryAfterSeconds(), 1);
    a.leave(5);
    assert.equal(a.queued, 0);
  });
});
