#!/usr/bin/env node
// `npm run build`: compiles src/ to dist/ (tsc, source maps) and writes the browser bundles to dist/web/ (esbuild).
// `--if-stale` builds only when a source is newer than the last build (npm start and npm run fiducia use it).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(ROOT, 'dist');
/** Written last, with the build's start time: a dist/ without it is incomplete. */
const STAMP = join(DIST, '.build-stamp');
const say = (line) => process.stderr.write(`build: ${line}\n`);

/** Newest modification time of what the build reads (tests excluded: they are not built). */
function newestInput() {
  let newest = 0;
  const visit = (path) => {
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory()) {
      for (const name of readdirSync(path)) if (name !== 'node_modules') visit(join(path, name));
    } else if (!path.endsWith('.test.ts')) newest = Math.max(newest, st.mtimeMs);
  };
  for (const p of ['src', 'web', 'tsconfig.json', 'tsconfig.build.json', 'package.json', 'scripts/build.mjs']) visit(join(ROOT, p));
  return newest;
}

const built = statSync(STAMP, { throwIfNoEntry: false });
if (process.argv.includes('--if-stale') && built && built.mtimeMs >= newestInput()) process.exit(0);

let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  // A production install (--omit=dev) of a tree built beforehand: keep its build.
  if (built) {
    say('typescript is not installed (npm install --omit=dev?): keeping the existing dist/');
    process.exit(0);
  }
  say('typescript is not installed: run npm install (with dev dependencies) to build');
  process.exit(1);
}

const started = new Date();
rmSync(DIST, { recursive: true, force: true });
say('compiling src/ to dist/ (tsc)');
const compiled = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit', cwd: ROOT });
if (compiled.status !== 0) {
  // tsc writes what it can even with type errors; a half-right dist/ must not look built.
  rmSync(DIST, { recursive: true, force: true });
  say('tsc failed: nothing built');
  process.exit(1);
}
try {
  if (!existsSync(join(DIST, 'cli', 'main.js'))) throw new Error('dist/cli/main.js is missing after tsc');
  const { writeWebAssets } = await import(pathToFileURL(join(DIST, 'http', 'web-build.js')).href);
  const bundles = await writeWebAssets();
  say(`browser bundles in dist/web/: ${bundles.join(', ')}`);
} catch (err) {
  rmSync(DIST, { recursive: true, force: true });
  say(`failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
writeFileSync(STAMP, `${started.toISOString()}\n`);
utimesSync(STAMP, started, started);
