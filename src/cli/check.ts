// The `fiducia check [config]` command: the privacy lint of a configuration, as file:line:column lines, JSON or GitHub annotations.
import { relative, isAbsolute } from 'node:path';
import type { Command } from 'commander';
import type { CheckFinding, CheckReport } from '../services/config/config-check.ts';

export const CHECK_FORMATS = ['text', 'json', 'github'] as const;
export type CheckFormat = (typeof CHECK_FORMATS)[number];

const isCheckFormat = (s: string): s is CheckFormat => (CHECK_FORMATS as readonly string[]).includes(s);

/** `file:line:column: severity rule: message`, as compilers write it (editors and CI logs link it to the line). */
export function formatFindingLine(f: CheckFinding): string {
  const where = f.line === null ? f.file : `${f.file}:${f.line}:${f.column ?? 1}`;
  return `${where}: ${f.severity} ${f.rule}: ${f.message}`;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

export function formatText(report: CheckReport): string {
  const lines = report.findings.map(formatFindingLine);
  const counts = report.findings.length === 0 ? 'no problems found' : `${plural(report.errors, 'error')}, ${plural(report.warnings, 'warning')}`;
  const n = report.allowed.length;
  const allowed = n === 0 ? '' : ` (${n === 1 ? '1 finding' : `${n} findings`} allowed by fiducia-check comments)`;
  const refused = report.loads ? '' : '; the server would refuse this file at start, so the privacy lint did not run';
  lines.push(`${report.file}: ${counts}${allowed}${refused}`);
  return `${lines.join('\n')}\n`;
}

// GitHub Actions workflow commands: https://docs.github.com/actions/reference/workflow-commands-for-github-actions
const escapeData = (s: string): string => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
const escapeProperty = (s: string): string => escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');

/** One `::error`/`::warning` annotation per finding: GitHub shows them on the lines of the file in the pull request. */
export function formatGithub(report: CheckReport): string {
  const lines = report.findings.map((f) => {
    const props = [`file=${escapeProperty(f.file)}`];
    if (f.line !== null) props.push(`line=${f.line}`, `col=${f.column ?? 1}`);
    props.push(`title=${escapeProperty(f.rule)}`);
    return `::${f.severity} ${props.join(',')}::${escapeData(f.message)}`;
  });
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}

export function formatReport(report: CheckReport, format: CheckFormat): string {
  if (format === 'json') return `${JSON.stringify(report.findings, null, 2)}\n`;
  return format === 'github' ? formatGithub(report) : formatText(report);
}

/** Errors fail; warnings fail only with `--strict`. */
export function exitCodeOf(report: CheckReport, strict: boolean): number {
  return report.errors > 0 || (strict && report.warnings > 0) ? 1 : 0;
}

/** The file as people will look for it: relative to the working directory when it is under it. */
function shown(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

interface CheckOptions {
  format: string;
  strict?: boolean;
  consentRetentionCeiling?: string;
  listRules?: boolean;
}

/** One line per rule: id, severity, what it finds (for writing allow comments and CI filters). */
export function formatRules(rules: Readonly<Record<string, { severity: string; summary: string }>>): string {
  const width = Math.max(...Object.keys(rules).map((id) => id.length));
  return `${Object.entries(rules).map(([id, r]) => `${id.padEnd(width)}  ${r.severity.padEnd(7)}  ${r.summary}`).join('\n')}\n`;
}

export function registerCheckCommand(program: Command, fail: (err: unknown) => never): void {
  program
    .command('check')
    .description('lint a privacy configuration beyond its schema (file:line messages; exit 1 on an error, or on a warning with --strict)')
    .argument('[config]', 'YAML file (default: FIDUCIA_CONFIG, else the shipped config/fiducia.yaml)')
    .option('--format <format>', `${CHECK_FORMATS.join(', ')} (GitHub Actions annotations)`, 'text')
    .option('--strict', 'warnings fail too')
    .option('--consent-retention-ceiling <days>', 'longest retentionDays a consent-based purpose may have without a warning (default 730)')
    .option('--list-rules', 'print every rule with its severity, and check nothing')
    .action(async (fileArg: string | undefined, o: CheckOptions) => {
      if (o.listRules) {
        const { LINT_RULES } = await import('../domain/privacy-lint.ts');
        process.stdout.write(formatRules(LINT_RULES));
        return;
      }
      const format = o.format;
      if (!isCheckFormat(format)) fail(new Error(`--format must be ${CHECK_FORMATS.join(', ')}`));
      const ceiling = o.consentRetentionCeiling === undefined ? undefined : Number(o.consentRetentionCeiling);
      if (ceiling !== undefined && !(Number.isInteger(ceiling) && ceiling > 0)) fail(new Error('--consent-retention-ceiling must be a positive number of days'));
      // Imported here, like every command's application code: registering `check` must not load it (see main.ts).
      const [{ DEFAULT_CONFIG_PATH }, { checkPrivacyConfigFile }] = await Promise.all([
        import('../services/config/config-loader.ts'),
        import('../services/config/config-check.ts'),
      ]);
      const file = fileArg ?? process.env.FIDUCIA_CONFIG ?? shown(DEFAULT_CONFIG_PATH);
      const report = checkPrivacyConfigFile(file, ceiling === undefined ? {} : { consentRetentionCeilingDays: ceiling });
      process.stdout.write(formatReport(report, format));
      process.exitCode = exitCodeOf(report, o.strict === true);
    });
}
