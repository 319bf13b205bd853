// The widget's budget: all of its code and styles at most 6 KB gzip (fides-js-style size gate); and web/ stands alone.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { WEB_ROOT, buildWebAssets } from '../src/http/web-build.ts';

const BUDGET = 6144;

test(`/widget.js (JS and CSS together) is at most ${BUDGET} bytes gzip`, async (t) => {
  const widget = (await buildWebAssets()).get('widget.js');
  assert.ok(widget);
  // node's default level (6) is what most servers use; level 9 is what Fiducia itself serves.
  const gzip = gzipSync(widget.body).length;
  t.diagnostic(`widget.js: ${widget.body.length} bytes minified, ${gzip} bytes gzip (level 6), ${widget.gzip.length} (level 9); budget ${BUDGET}`);
  assert.ok(gzip <= BUDGET, `widget.js is ${gzip} bytes gzip, over the ${BUDGET}-byte budget`);
  assert.ok(widget.gzip.length <= gzip);
  // The CSS is inside the bundle (no second request to count), minified.
  const text = widget.body.toString('utf8');
  assert.match(text, /\.dlg\{position:fixed/);
  assert.doesNotMatch(text, /\brequire\(|\bimport\(/, 'zero dependencies: nothing is loaded at run time');
});

test('browser code under web/ imports nothing from src/', () => {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name.endsWith('.ts')) files.push(join(dir, e.name));
    }
  };
  walk(WEB_ROOT);
  assert.ok(files.length >= 5);
  for (const f of files) {
    for (const m of readFileSync(f, 'utf8').matchAll(/from\s+'([^']+)'/g)) {
      assert.ok(!m[1]!.includes('/src/') && !m[1]!.startsWith('node:'), `${f} imports ${m[1]}`);
    }
  }
});

test('browser code type-checks (esbuild strips types without checking them)', () => {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(WEB_ROOT, 'tsconfig.json')], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
});
