// `fiducia check [config]` run as a separate process: exit codes, file:line:column lines, --strict, --format json and github.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
// The TypeScript entry point through tsx, as test/audit-cli.test.ts does: no build needed (test/build.test.ts runs bin/).
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
const SHIPPED = readFileSync(join(ROOT, 'config', 'fiducia.yaml'), 'utf8');

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function fiducia(...args: string[]): Promise<Outcome> {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'silent' };
  delete env['FIDUCIA_CONFIG'];
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const dir = mkdtempSync(join(tmpdir(), 'fiducia-check-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The shipped file with `from` replaced by `to` (each must be found), written to a file of its own. */
function variant(name: string, ...edits: [from: string, to: string][]): { file: string; text: string } {
  let text = SHIPPED;
  for (const [from, to] of edits) {
    assert.ok(text.includes(from), `the shipped configuration contains ${JSON.stringify(from)}`);
    text = text.replace(from, to);
  }
  const file = join(dir, name);
  writeFileSync(file, text);
  return { file, text };
}

/** 1-based line and column of the first occurrence of `needle` after the line holding `anchor`. */
function positionOf(text: string, anchor: string, needle: string): { line: number; column: number } {
  const lines = text.split('\n');
  const from = lines.findIndex((l) => l.includes(anchor));
  const index = lines.findIndex((l, i) => i >= from && l.includes(needle));
  assert.ok(from >= 0 && index >= 0, `${anchor} … ${needle} in the file`);
  return { line: index + 1, column: (lines[index] ?? '').indexOf(needle) + 1 };
}

const ALLOW_LOCATION = '    # fiducia-check: allow unreachable-tracking-plan-entry\n';
const NOTICE = ['  current: "2026-11"', '    - { version: "2026-06", material: true }\n    - { version: "2026-11", material: false }'] as const;
const warningOnly = variant('warning.yaml', [ALLOW_LOCATION, '']);
const withError = variant(
  'error.yaml',
  [ALLOW_LOCATION, ''],
  [NOTICE[0], '  current: "2026-06"'],
  [NOTICE[1], '    - { version: "2026-11", material: false }\n    - { version: "2026-06", material: true }'],
);

describe('fiducia check', () => {
  it('passes the shipped configuration, with and without --strict, naming what a comment allowed', async () => {
    const plain = await fiducia('check');
    assert.equal(plain.code, 0, plain.stdout + plain.stderr);
    assert.equal(plain.stdout, 'config/fiducia.yaml: no problems found (1 finding allowed by fiducia-check comments)\n');
    const strict = await fiducia('check', 'config/fiducia.yaml', '--strict');
    assert.equal(strict.code, 0, strict.stdout + strict.stderr);
  });

  it('warnings alone exit 0, and 1 with --strict; each is file:line:column: severity rule: message', async () => {
    const { line, column } = positionOf(warningOnly.text, '  context:', 'location: user.location.precise');
    const plain = await fiducia('check', warningOnly.file);
    assert.equal(plain.code, 0, plain.stdout + plain.stderr);
    assert.match(plain.stdout, new RegExp(`^${escape(warningOnly.file)}:${line}:${column}: warning unreachable-tracking-plan-entry: no purpose reads "user\\.location\\.precise"`));
    assert.match(plain.stdout, /: 0 errors, 1 warning\n$/);
    const strict = await fiducia('check', '--strict', warningOnly.file);
    assert.equal(strict.code, 1, strict.stdout + strict.stderr);
  });

  it('an error exits 1 and points at the line and column of the key it is about', async () => {
    const { line, column } = positionOf(withError.text, '  versions:', 'version: "2026-06"');
    const r = await fiducia('check', withError.file);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    for (const l of lines.slice(0, -1)) assert.match(l, /^\S+:\d+:\d+: (error|warning) [a-z-]+: \S/, l);
    assert.ok(lines.includes(`${withError.file}:${line}:${column}: error notice-versions-out-of-order: "2026-06" is listed after "2026-11": ` +
      'versions go oldest first, and which consents still hold is decided by that order'), r.stdout);
    assert.equal(lines.at(-1), `${withError.file}: 1 error, 1 warning`);
  });

  it('--format json prints an array of findings with file, line, column, rule, severity, path and message', async () => {
    const r = await fiducia('check', withError.file, '--format', 'json');
    assert.equal(r.code, 1, r.stderr);
    const findings = JSON.parse(r.stdout) as Record<string, unknown>[];
    assert.ok(Array.isArray(findings) && findings.length === 2, r.stdout);
    for (const f of findings) assert.deepEqual(Object.keys(f).sort(), ['column', 'file', 'line', 'message', 'path', 'rule', 'severity']);
    const notice = findings.find((f) => f['rule'] === 'notice-versions-out-of-order');
    assert.deepEqual(
      { file: notice?.['file'], severity: notice?.['severity'], path: notice?.['path'], line: notice?.['line'] },
      { file: withError.file, severity: 'error', path: 'notice.versions[2].version', line: positionOf(withError.text, '  versions:', 'version: "2026-06"').line },
    );
    const clean = await fiducia('check', '--format', 'json');
    assert.equal(clean.code, 0, clean.stderr);
    assert.deepEqual(JSON.parse(clean.stdout), []);
  });

  it('--format github writes workflow-command annotations', async () => {
    const r = await fiducia('check', warningOnly.file, '--format', 'github');
    assert.equal(r.code, 0, r.stderr);
    const { line, column } = positionOf(warningOnly.text, '  context:', 'location: user.location.precise');
    assert.match(r.stdout, new RegExp(`^::warning file=${escape(warningOnly.file)},line=${line},col=${column},title=unreachable-tracking-plan-entry::no purpose reads`));
  });

  it('a file the server would refuse is reported in the same format, under yaml-syntax or config-invalid', async () => {
    const broken = variant('broken.yaml', ['languages: [it, en]', 'languages: [it, en']);
    const syntax = await fiducia('check', broken.file);
    assert.equal(syntax.code, 1, syntax.stdout);
    assert.match(syntax.stdout, new RegExp(`^${escape(broken.file)}:\\d+:\\d+: error yaml-syntax: YAML syntax error`));
    assert.match(syntax.stdout, /the server would refuse this file at start, so the privacy lint did not run\n$/);

    const unknown = variant('unknown.yaml', ['  dpo: dpo@example-shop.it', '  dpo: dpo@example-shop.it\n  colour: blue']);
    const { line, column } = positionOf(unknown.text, 'controller:', 'colour');
    const invalid = await fiducia('check', unknown.file);
    assert.equal(invalid.code, 1, invalid.stdout);
    assert.match(invalid.stdout, new RegExp(`^${escape(unknown.file)}:${line}:${column}: error config-invalid: unknown key "colour"`));

    const missing = await fiducia('check', join(dir, 'no-such-file.yaml'));
    assert.equal(missing.code, 1, missing.stdout);
    assert.match(missing.stdout, /no-such-file\.yaml: error config-invalid: cannot read the file/);
  });

  it('--list-rules prints each rule with its severity', async () => {
    const r = await fiducia('check', '--list-rules');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^special-category-without-explicit-consent +error +an Art\. 9 special category/m);
    assert.match(r.stdout, /^unreachable-tracking-plan-entry +warning +/m);
  });

  it('refuses an unknown --format; `fiducia config check` still validates and prints the hash', async () => {
    const bad = await fiducia('check', '--format', 'xml');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--format must be text, json, github/);
    const legacy = await fiducia('config', 'check', warningOnly.file);
    assert.equal(legacy.code, 0, legacy.stderr);
    assert.match(legacy.stdout, /: valid \(6 purposes, \d+ categories, sha256 [0-9a-f]{64}\)/);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
