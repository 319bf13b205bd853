// The `fiducia` command's own manners: `--version` prints the package's version; an unknown command is named, with
// the list of commands, instead of reaching `start` as a stray argument.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');

async function fiducia(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'silent' }, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('fiducia CLI basics', () => {
  it('prints its version with --version and -v', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      const r = await fiducia(flag);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), version);
    }
  });

  it('names an unknown command and lists the commands, exit 1, without starting anything', async () => {
    const r = await fiducia('frobnicate\u001b[2J');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unknown command "frobnicate\?\[2J"/, 'named, control characters replaced');
    for (const c of ['start', 'migrate', 'check', 'audit', 'jobs']) assert.ok(r.stderr.includes(c), `lists ${c}`);
    assert.doesNotMatch(r.stdout, /running at/);
  });
});
