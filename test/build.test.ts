// `npm run build`'s output runs on plain Node, without tsx: the compiled CLI starts, the server sends the prebuilt
// browser bundles (the bytes it would build itself), and the audit verifier's worker thread loads compiled JavaScript.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WEB_BUNDLES, bundleWebAssets } from '../src/http/web-build.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(ROOT, 'dist');

/** Plain Node: no tsx loader inherited through NODE_OPTIONS, SQLite in a data folder of its own. */
function plainEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', FIDUCIA_MASTER_KEY: '', ...extra };
  for (const k of ['NODE_OPTIONS', 'DATABASE_URL', 'FIDUCIA_CONFIG', 'FIDUCIA_ADMIN_TOKEN', 'FIDUCIA_WRITE_KEY']) delete env[k];
  return env;
}

const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'fiducia-build-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

before(() => {
  // What `npm start` does first: build when a source is newer than dist/ (in CI, `npm ci` has just built it).
  const r = spawnSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: ROOT, encoding: 'utf8', env: plainEnv(), timeout: 600_000 });
  assert.equal(r.status, 0, `the build failed:\n${r.stdout}${r.stderr}`);
});

it('the compiled CLI answers --help, config check and check', () => {
  const help = spawnSync(process.execPath, ['bin/fiducia.js', '--help'], { cwd: ROOT, encoding: 'utf8', env: plainEnv() });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /Usage: fiducia/);
  const check = spawnSync(process.execPath, ['bin/fiducia.js', 'config', 'check'], { cwd: ROOT, encoding: 'utf8', env: plainEnv() });
  assert.equal(check.status, 0, check.stderr);
  assert.match(check.stdout, /config\/fiducia\.yaml: valid \(\d+ purposes/);
  // What .ci/run runs on the shipped configuration.
  const lint = spawnSync(process.execPath, ['bin/fiducia.js', 'check', 'config/fiducia.yaml', '--strict'], { cwd: ROOT, encoding: 'utf8', env: plainEnv() });
  assert.equal(lint.status, 0, lint.stdout + lint.stderr);
  assert.match(lint.stdout, /^config\/fiducia\.yaml: no problems found/);
});

it('nothing under dist/ loads tsx, and every bundle is there', () => {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name.endsWith('.js')) files.push(join(dir, e.name));
    }
  };
  walk(DIST);
  assert.ok(files.length > 50, `dist/ holds ${files.length} .js files`);
  for (const f of files) assert.doesNotMatch(readFileSync(f, 'utf8'), /(from\s*|import\s*\(\s*)["']tsx/, `${f} imports tsx`);
  for (const name of WEB_BUNDLES) assert.ok(existsSync(join(DIST, 'web', name)), `dist/web/${name} is built`);
  assert.ok(existsSync(join(DIST, 'services', 'audit', 'audit-leaf-worker.js')), 'the worker is compiled');
});

it('npm start (compiled) serves the prebuilt bundles, the same bytes the server would build', async () => {
  const port = await new Promise<number>((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
  const child = spawn(process.execPath, ['bin/fiducia.js', 'start'], { cwd: ROOT, env: plainEnv({ FIDUCIA_DATA_DIR: tempDir(), PORT: String(port) }) });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (/Privacy center:/.test(out)) resolve();
      });
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      void exited.then((code) => reject(new Error(`the server exited (${code}):\n${out}`)));
    });
    const fresh = await bundleWebAssets();
    for (const name of ['widget.js', 'privacy.css'] as const) {
      const res = await fetch(`http://127.0.0.1:${port}/${name}`, { headers: { 'accept-encoding': 'identity' } });
      assert.equal(res.status, 200, `${name}: ${res.status}`);
      const body = Buffer.from(await res.arrayBuffer());
      assert.ok(body.equals(readFileSync(join(DIST, 'web', name))), `${name} is dist/web/${name}`);
      assert.ok(body.equals(fresh.get(name)!.body), `${name} is what esbuild builds from web/ now`);
    }
  } finally {
    child.kill('SIGTERM');
    await exited.catch(() => undefined);
  }
});

it('the compiled audit verifier starts its worker thread from dist/ and verifies', () => {
  const dir = tempDir();
  // The worker is started directly (a small log would not start one) and through a verification that asks for it.
  const script = `
    import { Worker } from 'node:worker_threads';
    const { openCore, optionsFromEnv } = await import(${JSON.stringify(new URL('../dist/app.js', import.meta.url).href)});
    const core = await openCore(optionsFromEnv());
    const worker = new Worker(new URL(${JSON.stringify(new URL('../dist/services/audit/audit-leaf-worker.js', import.meta.url).href)}), {
      workerData: { dialect: 'sqlite', file: ${JSON.stringify(join(dir, 'fiducia.db'))} },
    });
    const ready = await new Promise((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject); });
    worker.postMessage('close');
    const report = await core.audit.verify({ worker: 'wait', pageSize: 1 });
    await core.dbs.close();
    process.stdout.write(JSON.stringify({ ready, ok: report.ok, problems: report.problems }));
  `;
  // A file, not --eval: the worker inherits the process's flags, and --input-type would stop it.
  const file = join(dir, 'verify.mjs');
  writeFileSync(file, script);
  const r = spawnSync(process.execPath, [file], { cwd: ROOT, encoding: 'utf8', env: plainEnv({ FIDUCIA_DATA_DIR: dir }), timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { ready: { ready: true }, ok: true, problems: [] });
});
