import assert from 'node:assert/strict';
import { afterEach, describe, it, mock } from 'node:test';
import type { AuditEntryInput } from '../services/audit/audit-port.ts';
import { Metrics } from '../services/metrics.ts';
import { AuthFailureLog, OTHER_NETWORKS, UNKNOWN_NETWORK, type AuthFailureOptions } from './auth-failures.ts';

const T0 = Date.parse('2026-11-20T12:00:00.000Z');

function harness(extra: Partial<AuthFailureOptions> = {}) {
  let now = T0;
  const written: AuditEntryInput[][] = [];
  const log = new AuthFailureLog({
    write: async (entries) => void written.push([...entries]),
    now: () => now,
    ...extra,
  });
  return {
    log,
    written,
    entries: () => written.flat(),
    at: (ms: number) => void (now = T0 + ms),
  };
}

const byNetwork = (entries: AuditEntryInput[]) => new Map(entries.map((e) => [e.details?.network, e]));

describe('AuthFailureLog', () => {
  afterEach(() => mock.timers.reset());

  it('writes nothing while counting, then one summary per network with counts by reason', async () => {
    const h = harness();
    for (let i = 0; i < 150; i++) h.log.record(`203.0.113.${i % 200}`, 'missing_token', '/api/v1/tokens');
    for (let i = 0; i < 50; i++) h.log.record('2001:db8:1:2::5', i % 2 ? 'unknown_token' : 'missing_token', '/api/v1/audit/verify');
    h.log.record('2001:db8:1:ffff::9', 'unknown_token', '/api/v1/tokens');
    assert.equal(h.written.length, 0, 'no write on the request path');
    h.at(1234);
    await h.log.flush();
    assert.equal(h.written.length, 1, 'one append for the whole window');
    const entries = byNetwork(h.entries());
    assert.deepEqual([...entries.keys()].sort(), ['2001:db8:1::', '203.0.113.0']);
    const v4 = entries.get('203.0.113.0')!;
    assert.deepEqual(v4.counts, { requests: 150, missing_token: 150 });
    assert.deepEqual(v4.details, { network: '203.0.113.0', windowStart: '2026-11-20T12:00:00.000Z', windowEnd: '2026-11-20T12:00:01.234Z', routes: '/api/v1/tokens' });
    assert.equal(v4.actor, 'anonymous');
    assert.equal(v4.action, 'auth.failed');
    assert.equal(v4.outcome, 'denied');
    const v6 = entries.get('2001:db8:1::')!;
    assert.deepEqual(v6.counts, { requests: 51, missing_token: 25, unknown_token: 26 });
    assert.equal(v6.details?.routes, '/api/v1/audit/verify /api/v1/tokens');
    await h.log.flush();
    assert.equal(h.written.length, 1, 'an empty window writes nothing');
  });

  it('closes a window when a failure arrives after it ended, and starts a new one', async () => {
    const h = harness({ windowMs: 60_000 });
    h.log.record('198.51.100.1', 'missing_token', '/r');
    h.at(59_999);
    h.log.record('198.51.100.2', 'missing_token', '/r');
    assert.equal(h.written.length, 0);
    h.at(60_000);
    h.log.record('198.51.100.3', 'unknown_token', '/r');
    await h.log.flush();
    assert.equal(h.written.length, 2);
    const [first, second] = h.written.map((w) => w[0]!);
    assert.deepEqual(first!.counts, { requests: 2, missing_token: 2 });
    assert.equal(first!.details?.windowEnd, '2026-11-20T12:01:00.000Z', 'a window ends at its nominal end even when closed later');
    assert.deepEqual(second!.counts, { requests: 1, unknown_token: 1 });
    assert.equal(second!.details?.windowStart, '2026-11-20T12:01:00.000Z');
  });

  it('writes the window when its timer fires, with no further failure', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    const h = harness({ windowMs: 60_000 });
    h.log.record('198.51.100.1', 'missing_token', '/r');
    mock.timers.tick(59_999);
    assert.equal(h.written.length, 0);
    h.at(60_000);
    mock.timers.tick(1);
    await h.log.flush();
    assert.equal(h.written.length, 1);
    assert.deepEqual(h.written[0]![0]!.counts, { requests: 1, missing_token: 1 });
  });

  it('tracks at most maxNetworks networks per window; the rest share one summary', async () => {
    const h = harness({ maxNetworks: 3 });
    for (let n = 0; n < 10; n++) for (let i = 0; i < 4; i++) h.log.record(`10.0.${n}.${i}`, 'missing_token', '/r');
    await h.log.flush();
    const entries = byNetwork(h.entries());
    assert.equal(entries.size, 4);
    assert.deepEqual(entries.get(OTHER_NETWORKS)!.counts, { requests: 28, missing_token: 28 });
    assert.equal(h.entries().reduce((n, e) => n + (e.counts?.requests ?? 0), 0), 40, 'every failure is counted');
  });

  it('names at most 16 routes per summary', async () => {
    const h = harness();
    for (let i = 0; i < 40; i++) h.log.record('10.0.0.1', 'missing_token', `/route/${String(i).padStart(2, '0')}`);
    await h.log.flush();
    const routes = String(h.entries()[0]!.details?.routes).split(' ');
    assert.equal(routes.length, 17);
    assert.ok(routes.includes('other'), 'the overflow is counted under other');
  });

  it('counts requests without a usable address under unknown', async () => {
    const h = harness();
    h.log.record(undefined, 'missing_token', '/r');
    h.log.record('not an address', 'missing_token', '/r');
    await h.log.flush();
    assert.deepEqual(h.entries()[0]!.details?.network, UNKNOWN_NETWORK);
    assert.equal(h.entries()[0]!.counts?.requests, 2);
  });

  it('counts every failure in metrics, also after close; close writes what is pending', async () => {
    const metrics = new Metrics();
    const h = harness({ metrics });
    h.log.record('10.0.0.1', 'missing_token', '/r');
    h.log.record('10.0.0.1', 'unknown_token', '/r');
    await h.log.close();
    assert.equal(h.written.length, 1, 'close flushes');
    h.log.record('10.0.0.1', 'unknown_token', '/r');
    await h.log.flush();
    assert.equal(h.written.length, 1, 'nothing is written after close');
    const text = await metrics.registry.metrics();
    assert.match(text, /fiducia_auth_failures_total\{credential="token",reason="missing_token"\} 1/);
    assert.match(text, /fiducia_auth_failures_total\{credential="token",reason="unknown_token"\} 2/);
  });

  it('reports a summary that could not be written, and flush still resolves', async () => {
    const errors: number[] = [];
    const log = new AuthFailureLog({ write: async () => Promise.reject(new Error('db down')), onWriteError: (_err, failures) => errors.push(failures) });
    log.record('10.0.0.1', 'missing_token', '/r');
    log.record('10.0.1.1', 'missing_token', '/r');
    await log.flush();
    assert.deepEqual(errors, [2]);
  });
});
