// checkPrivacyConfigFile: positions, order, and which `fiducia-check: allow` comments accept a finding.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { checkPrivacyConfigFile } from './config-check.ts';
import { DEFAULT_CONFIG_PATH } from './config-loader.ts';

const SHIPPED = readFileSync(DEFAULT_CONFIG_PATH, 'utf8');
const ALLOW = '    # fiducia-check: allow unreachable-tracking-plan-entry\n';
const ENTRY = '    location: user.location.precise\n';
const dir = mkdtempSync(join(tmpdir(), 'fiducia-config-check-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** The shipped file with the allow comment and the entry it is about replaced by `lines`. */
function withEntry(lines: string): string {
  assert.ok(SHIPPED.includes(ALLOW + ENTRY), 'the shipped file allows its precise-location entry just above it');
  const file = join(dir, `variant-${n++}.yaml`);
  writeFileSync(file, SHIPPED.replace(ALLOW + ENTRY, lines));
  return file;
}

const rulesOf = (file: string) => checkPrivacyConfigFile(file).findings.map((f) => f.rule);

describe('checkPrivacyConfigFile', () => {
  it('the shipped file: nothing found, one finding allowed, with its place in the file', () => {
    const report = checkPrivacyConfigFile(DEFAULT_CONFIG_PATH);
    assert.deepEqual({ loads: report.loads, findings: report.findings, errors: report.errors, warnings: report.warnings }, { loads: true, findings: [], errors: 0, warnings: 0 });
    const line = SHIPPED.split('\n').indexOf(ENTRY.trimEnd()) + 1;
    assert.deepEqual(
      report.allowed.map((f) => [f.rule, f.line, f.column]),
      [['unreachable-tracking-plan-entry', line, 5]],
    );
  });

  it('an allow comment counts on the same line, and above through other comment lines, but not across a key or a blank line', () => {
    assert.deepEqual(rulesOf(withEntry('    location: user.location.precise # fiducia-check: allow unreachable-tracking-plan-entry (dropped on purpose)\n')), []);
    assert.deepEqual(rulesOf(withEntry(`${ALLOW}    # coordinates are dropped on purpose\n${ENTRY}`)), []);
    assert.deepEqual(rulesOf(withEntry(`${ALLOW}\n${ENTRY}`)), ['unreachable-tracking-plan-entry']);
    assert.deepEqual(rulesOf(withEntry(`${ALLOW}    timezone2: user.location.approximate\n${ENTRY}`)), ['unreachable-tracking-plan-entry']);
  });

  it('only the rules it names, before the reason, are allowed', () => {
    assert.deepEqual(rulesOf(withEntry(`    # fiducia-check: allow transfer-on-derogation, unreachable-tracking-plan-entry\n${ENTRY}`)), []);
    assert.deepEqual(rulesOf(withEntry(`    # fiducia-check: allow transfer-on-derogation\n${ENTRY}`)), ['unreachable-tracking-plan-entry']);
    assert.deepEqual(rulesOf(withEntry(`    # fiducia-check: allow because unreachable-tracking-plan-entry\n${ENTRY}`)), ['unreachable-tracking-plan-entry']);
    assert.deepEqual(rulesOf(withEntry(`    # fiducia-check: ignore unreachable-tracking-plan-entry\n${ENTRY}`)), ['unreachable-tracking-plan-entry']);
  });

  it('a load error cannot be allowed: the server refuses the file all the same', () => {
    const file = withEntry(`    # fiducia-check: allow config-invalid\n    place: user.location.nowhere\n${ENTRY}`);
    const report = checkPrivacyConfigFile(file);
    assert.equal(report.loads, false);
    assert.deepEqual(report.findings.map((f) => [f.rule, f.path]), [['config-invalid', 'trackingPlan.context.place']]);
    assert.equal(report.errors, 1);
  });
});
