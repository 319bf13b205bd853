// `fiducia start` as a newcomer meets it: on a fresh data folder with only PORT set, the first start's "try it" commands
// work as printed (consent, an identify, a read for a purpose that shows the trait), and the link in a rights email
// points at the port the server really listens on, not at the default 8787 (and at FIDUCIA_PUBLIC_URL when set).
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { basicAuth, freePort, startFiducia } from './helpers/harness.ts';
import { CaptureMailer, seedSubject, type Running } from './helpers/rights.ts';
import { SmtpServer } from './helpers/smtp-server.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
const HAS_CURL = spawnSync('curl', ['--version']).status === 0;

/** The text of a quoted-printable body (soft line breaks joined, `=XX` decoded). */
const unQuote = (data: string) => data.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));

/** Waits, without a deadline of its own (the test's timeout is the limit), until `probe` gives something. */
async function eventually<T>(probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('fiducia start on a fresh folder, PORT set, FIDUCIA_PUBLIC_URL unset', { timeout: 120_000 }, () => {
  let dir: string;
  let child: ChildProcess;
  let port: number;
  let stdout = '';
  let stderr = '';
  const smtp = new SmtpServer();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fiducia-start-'));
    await smtp.start();
    port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', FIDUCIA_DATA_DIR: dir, PORT: String(port), HOST: '127.0.0.1' };
    for (const k of Object.keys(env)) if ((k.startsWith('FIDUCIA_') && k !== 'FIDUCIA_DATA_DIR') || k === 'DATABASE_URL') delete env[k];
    env.FIDUCIA_SMTP_URL = `smtp://127.0.0.1:${smtp.port}`;
    child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`start exited (${code}):\n${stdout}${stderr}`))));
    await Promise.race([eventually(() => (stdout.includes('Privacy center:') ? true : undefined)), exited]);
  });

  after(async () => {
    if (child.exitCode === null) {
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await done;
    }
    await smtp.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('says where it listens: the port it was given', () => {
    assert.match(stdout, new RegExp(`running at http://127\\.0\\.0\\.1:${port} `), stdout);
  });

  it('prints consent, event and read commands that work as printed and end with the trait read back', { skip: !HAS_CURL && 'curl is not installed', timeout: 60_000 }, async () => {
    const commands = stdout.split('\n').filter((l) => l.startsWith('  curl '));
    assert.equal(commands.length, 3, stdout);
    assert.match(commands[0] ?? '', /\/v1\/consent /, 'consent first');
    assert.match(commands[1] ?? '', /\/v1\/identify /, 'then an event');
    assert.match(commands[2] ?? '', /\/api\/v1\/profiles\/.*\?purpose=personalization/, 'then a read for a purpose');
    const outputs: string[] = [];
    for (const line of commands) {
      // Run as printed, by a shell: the quoting a person pastes is the quoting tested.
      const r = spawnSync('sh', ['-c', line], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 0, `${line}\n${r.stderr}`);
      outputs.push(r.stdout);
    }
    assert.deepEqual((JSON.parse(outputs[0] ?? '') as { consents: unknown }).consents, { personalization: 'granted' });
    const profile = JSON.parse(outputs[2] ?? '') as { traits: Record<string, unknown>; consents: Record<string, { status: string }> };
    assert.deepEqual(profile.traits, { favoriteCategory: 'shoes' });
    assert.equal(profile.consents.personalization?.status, 'granted');
  });

  it('mails a download link on the port it listens on', { timeout: 60_000 }, async () => {
    const writeKey = /server write key: +(\S+)/.exec(stdout)?.[1];
    assert.ok(writeKey, 'the first start prints a server write key');
    const url = `http://127.0.0.1:${port}`;
    const headers = { authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`, 'content-type': 'application/json' };
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
      assert.ok(res.ok, `${path}: ${res.status} ${await res.clone().text()}`);
      return (await res.json()) as Record<string, unknown>;
    };
    const email = 'port-check@example.com';
    await post('/v1/consent', { userId: 'port-check', purposes: { marketing: true }, noticeVersion: '2026-11' });
    await post('/v1/identify', { userId: 'port-check', traits: { email } });
    const { id } = (await post('/v1/rights-requests', { email, type: 'access', language: 'en' })) as { id: string };
    const code = await eventually(() => smtp.messages.filter((m) => m.to.includes(email)).map((m) => /: (\d{6})\n/.exec(unQuote(m.data))?.[1]).find((c) => c !== undefined));
    const verified = await post(`/v1/rights-requests/${id}/verify`, { code });
    assert.deepEqual({ id: verified.id, status: verified.status }, { id, status: 'completed' });
    const link = await eventually(() => smtp.messages.map((m) => /(https?:\/\/\S+\/download\?token=\S+)/.exec(unQuote(m.data))?.[1]).find((l) => l !== undefined));
    assert.ok(link.startsWith(`${url}/v1/rights-requests/${id}/download?token=`), link);
    const download = await fetch(link);
    assert.equal(download.status, 200, 'the link works where it points');
  });
});

describe('the public URL of an embedded server', () => {
  const flow = async (f: Running, mail: CaptureMailer, base: string) => {
    const ada = await seedSubject(f, 'embedded', 1);
    const res = await fetch(`${base}/v1/rights-requests`, { method: 'POST', headers: { authorization: basicAuth(), 'content-type': 'application/json' }, body: JSON.stringify({ email: ada.email, type: 'access', language: 'en' }) });
    assert.equal(res.status, 202, await res.clone().text());
    const { id } = (await res.json()) as { id: string };
    const ok = await fetch(`${base}/v1/rights-requests/${id}/verify`, { method: 'POST', headers: { authorization: basicAuth(), 'content-type': 'application/json' }, body: JSON.stringify({ code: mail.codeFor(ada.email) }) });
    assert.equal(ok.status, 200, await ok.text());
    return mail.linkFor(ada.email);
  };

  it('is the address bound by listen (port 0 included) when FIDUCIA_PUBLIC_URL is unset', async () => {
    const mail = new CaptureMailer();
    const f = await startFiducia('sqlite', { mailer: mail, rightsSweepMs: 0 });
    try {
      await f.app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = f.app.server.address() as AddressInfo;
      const link = await flow(f, mail, `http://127.0.0.1:${port}`);
      assert.ok(link?.startsWith(`http://127.0.0.1:${port}/v1/rights-requests/`), String(link));
    } finally {
      await f.stop();
    }
  });

  it('is FIDUCIA_PUBLIC_URL when set, whatever the listening address', async () => {
    const mail = new CaptureMailer();
    const f = await startFiducia('sqlite', { mailer: mail, rightsSweepMs: 0, publicUrl: 'https://cdp.shop.example/' });
    try {
      await f.app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = f.app.server.address() as AddressInfo;
      const link = await flow(f, mail, `http://127.0.0.1:${port}`);
      assert.ok(link?.startsWith('https://cdp.shop.example/v1/rights-requests/'), String(link));
    } finally {
      await f.stop();
    }
  });
});
