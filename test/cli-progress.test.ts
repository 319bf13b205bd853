// Long commands (audit verify, keys rotate, segments recompute) report progress: with stderr piped (CI, scripts) no bar
// and no escape codes, one plain line with the count against the total known in advance; on a terminal (a pseudo-TTY
// from util-linux `script`, where installed) a bar.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { cliEnv, eachDialect, startFiducia, type StoreHandle } from './helpers/harness.ts';
import { seedSubject } from './helpers/rights.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
const ESC = String.fromCharCode(27);
const SUBJECTS = 3;
const HAS_SCRIPT = process.platform === 'linux' && spawnSync('script', ['--version']).status === 0;

await eachDialect('progress of long CLI commands', (dialect) => {
  let store: StoreHandle;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    const f = await startFiducia(dialect, { auditCheckpointSeconds: 0 });
    for (let i = 0; i < SUBJECTS; i++) await seedSubject(f, `progress-${i}`, 2);
    store = f.store;
    await f.close();
    env = cliEnv(store.options);
  });
  after(async () => store.cleanup());

  const fiducia = async (...args: string[]) => {
    const r = await run(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env, timeout: 60_000 });
    assert.ok(!r.stderr.includes(ESC) && !r.stdout.includes(ESC), `no escape codes when piped: ${JSON.stringify(r.stderr)}`);
    return r;
  };

  it('audit verify: one plain line, every entry of the head', async () => {
    const r = await fiducia('audit', 'verify');
    const m = /^audit verify: (\d+) of (\d+) entries$/m.exec(r.stderr);
    assert.ok(m, r.stderr);
    assert.equal(m[1], m[2], 'all of the total');
    assert.ok(Number(m[2]) > 0, 'the head has entries');
    assert.match(r.stdout, new RegExp(`^OK: ${m[2]} entries read`));
  });

  it('keys rotate: one plain line, every data key counted in advance', async () => {
    const r = await fiducia('keys', 'rotate');
    assert.equal(r.stderr, `keys rotate: ${SUBJECTS} of ${SUBJECTS} data keys rewrapped\n`);
    assert.match(r.stdout, new RegExp(`: ${SUBJECTS} data keys rewrapped\\n$`));
  });

  it('segments recompute: one plain line over every subject', async () => {
    const r = await fiducia('segments', 'recompute');
    assert.equal(r.stderr, `segments recompute: ${SUBJECTS} of ${SUBJECTS} subjects\n`);
  });

  it('draws a bar on a terminal', { skip: !HAS_SCRIPT && 'no util-linux `script` for a pseudo-terminal' }, () => {
    // `script` runs the command on a pseudo-terminal and copies what it wrote to stdout.
    const command = [process.execPath, '--import', 'tsx', MAIN, 'audit', 'verify'].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const r = spawnSync('script', ['-qec', command, '/dev/null'], { cwd: ROOT, env: { ...env, COLUMNS: '120' }, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.ok(r.stdout.includes(ESC), 'terminal control sequences');
    assert.match(r.stdout, /audit verify \[.*\] 100% \| (\d+)\/\1 entries/);
    assert.doesNotMatch(r.stdout, /audit verify: \d+ of/, 'no plain line on a terminal');
  });
});
