// Requests without a valid token: 401 at once, no write on the request path, one audited summary per window and network.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createFiducia, type Fiducia } from '../src/app.ts';
import { eachDialect, startFiducia } from './helpers/harness.ts';

type F = Awaited<ReturnType<typeof startFiducia>>;

await eachDialect('authentication failures', (dialect) => {
  let f: F;
  before(async () => {
    f = await startFiducia(dialect);
  });
  after(async () => f.stop());

  const failedEntries = async (g: Fiducia = f) => (await g.audit.query({ action: 'auth.failed', limit: 100_000 })).entries.reverse();
  const allEntries = async () => (await f.audit.query({ limit: 100_000 })).entries.length;

  it('200 refused requests from two networks leave two auth.failed entries with their counts, written only at the flush', async () => {
    await f.authFailures.flush();
    const before = (await failedEntries()).length;
    const total = await allEntries();
    for (let i = 0; i < 200; i++) {
      const v4 = i < 150;
      const r = await f.app.inject({
        method: 'GET',
        url: '/api/v1/tokens',
        remoteAddress: v4 ? `203.0.113.${i % 250}` : '2001:db8:1:2::5',
        headers: v4 || i % 2 ? {} : { authorization: 'Bearer ft_not-a-token-anyone-issued' },
      });
      assert.equal(r.statusCode, 401);
      assert.equal(r.json<{ error: { code: string } }>().error.code, 'FIDUCIA_UNAUTHORIZED');
    }
    assert.equal(await allEntries(), total, 'nothing reached the audit log on the request path');

    await f.authFailures.flush();
    const entries = (await failedEntries()).slice(before);
    assert.equal(entries.length, 2, `one entry per network, not per request: ${JSON.stringify(entries)}`);
    const byNetwork = new Map(entries.map((e) => [e.details.network, e]));
    assert.deepEqual(byNetwork.get('203.0.113.0')?.counts, { requests: 150, missing_token: 150 });
    assert.deepEqual(byNetwork.get('2001:db8:1::')?.counts, { requests: 50, missing_token: 25, unknown_token: 25 });
    for (const e of entries) {
      assert.equal(e.actor, 'anonymous');
      assert.equal(e.outcome, 'denied');
      assert.equal(e.details.routes, '/api/v1/tokens');
      assert.ok(Date.parse(String(e.details.windowStart)) <= Date.parse(String(e.details.windowEnd)), 'the window has a start and an end');
    }
    const verify = await f.audit.verify();
    assert.equal(verify.ok, true, 'the summaries are ordinary signed entries');
  });

  it('counts refused tokens on /metrics', async () => {
    for (let i = 0; i < 3; i++) await f.app.inject({ method: 'GET', url: '/api/v1/audit/verify', remoteAddress: '192.0.2.1' });
    const text = (await f.app.inject({ method: 'GET', url: '/metrics' })).body;
    const missing = /fiducia_auth_failures_total\{credential="token",reason="missing_token"\} (\d+)/.exec(text);
    assert.ok(missing && Number(missing[1]) >= 3, `metrics: ${text.split('\n').filter((l) => l.includes('auth_failures')).join('\n')}`);
  });

  it('close() writes the window that is still open', async () => {
    const g = await createFiducia(f.store.options);
    let closed = false;
    try {
      const before = (await failedEntries(g)).length;
      for (let i = 0; i < 5; i++) assert.equal((await g.app.inject({ method: 'GET', url: '/api/v1/tokens', remoteAddress: '198.51.100.9' })).statusCode, 401);
      await g.close();
      closed = true;
      const reopened = await createFiducia(f.store.options);
      try {
        const entries = (await failedEntries(reopened)).slice(before);
        assert.equal(entries.length, 1);
        assert.deepEqual(entries[0]!.counts, { requests: 5, missing_token: 5 });
        assert.equal(entries[0]!.details.network, '198.51.100.0');
      } finally {
        await reopened.close();
      }
    } finally {
      if (!closed) await g.close();
    }
  });
});
