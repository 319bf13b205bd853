// `fiducia check`: the loader's errors, or else the privacy lint, of one configuration file, each finding with its line and column.
import { countBySeverity, findingFromConfigError, isLintRule, lintPrivacyConfig } from '../../domain/privacy-lint.ts';
import type { LintFinding, LintOptions, LintRule } from '../../domain/privacy-lint.ts';
import { locateConfigPath, readPrivacyConfig } from './config-loader.ts';
import type { ConfigSource } from './config-loader.ts';

export interface CheckFinding extends LintFinding {
  file: string;
  /** 1-based; null when the finding is about the file as a whole (it cannot be read, say). */
  line: number | null;
  column: number | null;
}

export interface CheckReport {
  file: string;
  /** False when the server would refuse the file at start: the findings are then the loader's errors, and no lint ran. */
  loads: boolean;
  /** In the order of the file. */
  findings: CheckFinding[];
  /** Lint findings left out by a `fiducia-check: allow <rule>` comment. */
  allowed: CheckFinding[];
  errors: number;
  warnings: number;
}

const MARK = 'fiducia-check:';

/** The rules allowed by a comment on `line`: `# fiducia-check: allow <rule> [<rule> …] [why]`. */
function allowedOn(line: string): LintRule[] {
  const hash = line.indexOf('#');
  const mark = hash < 0 ? -1 : line.indexOf(MARK, hash);
  if (mark < 0) return [];
  const [verb, ...words] = line.slice(mark + MARK.length).trim().split(/[\s,]+/);
  if (verb !== 'allow') return [];
  const rules: LintRule[] = [];
  for (const word of words) {
    if (!isLintRule(word)) break; // the rest is the reason
    rules.push(word);
  }
  return rules;
}

/** An allow comment counts on the finding's own line or on the comment lines right above it. */
function isAllowed(lines: readonly string[], f: CheckFinding): boolean {
  if (f.line === null) return false;
  if (allowedOn(lines[f.line - 1] ?? '').includes(f.rule)) return true;
  for (let i = f.line - 2; i >= 0 && /^\s*#/.test(lines[i] ?? ''); i--) if (allowedOn(lines[i] ?? '').includes(f.rule)) return true;
  return false;
}

const byPosition = (a: CheckFinding, b: CheckFinding): number => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0);

function placed(file: string, source: ConfigSource | undefined, f: LintFinding, line?: number, column?: number): CheckFinding {
  const pos = line !== undefined ? { line, column: column ?? 1 } : source && f.path !== '' ? locateConfigPath(source, f.path) : undefined;
  return { file, ...f, line: pos?.line ?? null, column: pos?.column ?? null };
}

/** Reads and checks `file`; never throws for a bad or missing file (that is a finding). */
export function checkPrivacyConfigFile(file: string, options: LintOptions = {}): CheckReport {
  const read = readPrivacyConfig(file);
  if (!read.ok) {
    const findings = read.errors.map((e) => placed(file, read.source, findingFromConfigError(e), e.line, e.column));
    findings.sort(byPosition);
    return { file, loads: false, findings, allowed: [], ...countBySeverity(findings) };
  }
  const lines = read.source.text.split(/\r?\n/);
  const all = lintPrivacyConfig(read.config, options).map((f) => placed(file, read.source, f));
  all.sort(byPosition);
  const findings = all.filter((f) => !isAllowed(lines, f));
  const allowed = all.filter((f) => isAllowed(lines, f));
  return { file, loads: true, findings, allowed, ...countBySeverity(findings) };
}
