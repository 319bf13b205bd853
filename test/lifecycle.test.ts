// Start, bootstrap secrets, health, metrics, graceful shutdown and configuration errors.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { createFiducia } from '../src/app.ts';
import { basicAuth, eachDialect, freshStore, startFiducia, freePort } from './helpers/harness.ts';

const ROOT = new URL('..', import.meta.url).pathname;

function runCli(args: string[], env: Record<string, string>, untilOutput?: RegExp): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (untilOutput && untilOutput.test(stdout)) child.kill('SIGTERM');
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

await eachDialect('lifecycle', (dialect) => {
  it('first start generates an admin token and a write key once, stored only as hashes', async () => {
    const store = freshStore(dialect, { adminToken: undefined, writeKey: undefined });
    try {
      const first = await createFiducia(store.options);
      const { adminToken, writeKey } = first.bootstrap.generated;
      assert.ok(adminToken && writeKey, 'both secrets are generated');
      const tokens = await first.dbs.data.selectFrom('tokens').selectAll().execute();
      const sources = await first.dbs.data.selectFrom('sources').selectAll().execute();
      assert.equal(JSON.stringify(tokens).includes(adminToken), false);
      assert.equal(JSON.stringify(sources).includes(writeKey), false);
      const ok = await first.app.inject({ method: 'POST', url: '/v1/consent', headers: { authorization: basicAuth(writeKey) }, payload: { anonymousId: 'v', purposes: { analytics: true }, noticeVersion: '2026-11' } });
      assert.equal(ok.statusCode, 200);
      await first.close();
      const second = await createFiducia(store.options);
      assert.deepEqual(second.bootstrap.generated, {});
      await second.close();
    } finally {
      await store.cleanup();
    }
  });

  it('graceful shutdown finishes in-flight commits', async () => {
    const f = await startFiducia(dialect);
    try {
      await f.app.listen({ host: '127.0.0.1', port: 0 });
      const addr = f.app.server.address();
      assert.ok(addr && typeof addr === 'object');
      const url = `http://127.0.0.1:${addr.port}`;
      const batches = Array.from({ length: 20 }, (_, b) => ({
        batch: Array.from({ length: 50 }, (_, i) => ({ type: 'track', anonymousId: `v${b}-${i}`, event: 'Order Completed', messageId: `m-${b}-${i}`, properties: { order_id: `o${i}`, total: 10 } })),
      }));
      const sent = batches.map((body) => fetch(`${url}/v1/batch`, { method: 'POST', headers: { authorization: basicAuth(), 'content-type': 'application/json' }, body: JSON.stringify(body) }));
      await new Promise((r) => setTimeout(r, 5));
      const closing = f.close();
      const answers = await Promise.allSettled(sent);
      await closing;
      const acked = answers.filter((a) => a.status === 'fulfilled' && a.value.status === 200).length;
      // Reopen the same storage: every acknowledged batch is there in full.
      const again = await createFiducia(f.store.options);
      const events = await again.dbs.data.selectFrom('events').select('message_id').execute();
      assert.equal(events.length % 50, 0, 'no batch is half stored');
      assert.ok(events.length >= acked * 50, `${acked} batches acknowledged, ${events.length / 50} stored`);
      await again.close();
    } finally {
      await f.store.cleanup();
    }
  });

  it('answers /healthz and exposes metrics', async () => {
    const f = await startFiducia(dialect);
    try {
      const h = await f.app.inject({ method: 'GET', url: '/healthz' });
      assert.deepEqual(h.json(), { status: 'ok' });
      await f.app.inject({ method: 'POST', url: '/v1/page', headers: { authorization: basicAuth() }, payload: { anonymousId: 'nobody-consented', name: 'Home' } });
      const m = await f.app.inject({ method: 'GET', url: '/metrics' });
      assert.match(m.body, /fiducia_dropped_fields_total\{kind="event",reason="no_basis"\} 1/);
      assert.match(m.body, /fiducia_messages_total\{type="page",outcome="dropped"\} 1/);
      const spec = await f.app.inject({ method: 'GET', url: '/openapi.json' });
      assert.ok(spec.json().paths['/v1/batch']);
    } finally {
      await f.stop();
    }
  });
});

it('npm start prints the URL and the first-start secrets; an invalid configuration stops the start naming the key', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fiducia-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const started = await runCli(['start'], { FIDUCIA_DATA_DIR: dir, PORT: String(port), FIDUCIA_MASTER_KEY: '' }, /Privacy center:/);
  assert.match(started.stdout, new RegExp(`http://127\\.0\\.0\\.1:${port}`));
  assert.match(started.stdout, /admin token:\s+ft_\S+/);
  // Both keys, each saying where it goes: the server key is secret, the browser key is the one for web pages.
  assert.match(started.stdout, /server write key:\s+wks_\S+\s+\(secret/);
  assert.match(started.stdout, /browser write key:\s+wkb_\S+\s+\(public: the one that goes into web pages\)/);
  assert.match(started.stdout, /verification secret:\s+vs_\S+/);
  assert.deepEqual(readdirSync(dir).filter((f) => !f.includes('-')).sort(), ['fiducia.db', 'keys.db', 'master.key']);

  const bad = join(dir, 'bad.yaml');
  const shipped = readFileSync(join(ROOT, 'config/fiducia.yaml'), 'utf8');
  writeFileSync(bad, shipped.replace('legalBasis: contract', 'legalBasis: contrakt'));
  const refused = await runCli(['start'], { FIDUCIA_DATA_DIR: dir, PORT: String(port), FIDUCIA_CONFIG: bad });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /purposes\[0\]\.legalBasis/);
  assert.match(refused.stderr, /bad\.yaml/);
});
