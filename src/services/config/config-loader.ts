// Loads the privacy configuration YAML from disk, validates it and compiles it; a bad file stops the start.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LineCounter, isMap, isNode, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import { CompiledConfig, parseConfigPath, validatePrivacyConfig } from '../../domain/privacy-config.ts';
import type { ConfigError } from '../../domain/privacy-config.ts';
import type { PrivacyConfig } from '../../domain/privacy-config-types.ts';

/** The shipped configuration for a typical online shop (`config/fiducia.yaml`). */
export const DEFAULT_CONFIG_PATH: string = fileURLToPath(new URL('../../../config/fiducia.yaml', import.meta.url));

/** A problem in the file, with the line and column (1-based) of the key it is about, when the file has one. */
export interface LocatedConfigError extends ConfigError {
  line?: number;
  column?: number;
}

/** The parsed file, kept to point at lines and to read comments. */
export interface ConfigSource {
  file: string;
  text: string;
  doc: Document;
  lines: LineCounter;
}

export type ConfigRead =
  | { ok: true; source: ConfigSource; config: PrivacyConfig }
  | { ok: false; source: ConfigSource | undefined; errors: LocatedConfigError[] };

const at = (e: LocatedConfigError): string => (e.line === undefined ? '' : `line ${e.line}, column ${e.column ?? 1}`);

/** The configuration file cannot be read, parsed or validated. `errors` holds every problem found. */
export class ConfigInvalidError extends Error {
  readonly code = 'FIDUCIA_CONFIG_INVALID';
  readonly file: string;
  readonly errors: LocatedConfigError[];

  constructor(file: string, errors: LocatedConfigError[]) {
    const lines = errors.map((e) => {
      if (e.rule === 'yaml-syntax') return `${file}: ${at(e) === '' ? '' : `${at(e)}: `}${e.message}`;
      const where = at(e) === '' ? '' : ` (${at(e)})`;
      return e.path === '' ? `${file}: ${e.message}${where}` : `${file}: ${e.path}: ${e.message}${where}`;
    });
    super(`invalid privacy configuration (${errors.length} ${errors.length === 1 ? 'error' : 'errors'}):\n${lines.join('\n')}`);
    this.name = 'ConfigInvalidError';
    this.file = file;
    this.errors = errors;
  }
}

/** Where `path` is in the file: its key (or item), else the nearest existing ancestor (a missing key's parent). */
export function locateConfigPath(source: ConfigSource, path: string): { line: number; column: number } | undefined {
  const { doc, lines } = source;
  const segments = parseConfigPath(path);
  for (let n = segments.length; n >= 0; n--) {
    const parent: unknown = n <= 1 ? doc.contents : doc.getIn(segments.slice(0, n - 1), true);
    const last = segments[n - 1];
    let node: unknown = n === 0 ? doc.contents : undefined;
    if (n > 0 && isMap(parent)) node = parent.items.find((item) => isScalar(item.key) && item.key.value === last)?.key;
    else if (n > 0 && isSeq(parent) && typeof last === 'number') node = parent.items[last];
    if (isNode(node) && node.range) {
      const { line, col } = lines.linePos(node.range[0]);
      return { line, column: col };
    }
  }
  return undefined;
}

/** Reads, parses and validates the file; never throws. Problems come back with their place in the file. */
export function readPrivacyConfig(file: string): ConfigRead {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { ok: false, source: undefined, errors: [{ path: '', message: `cannot read the file: ${(err as Error).message}` }] };
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: true, lineCounter: lines, uniqueKeys: true });
  const source: ConfigSource = { file, text, doc, lines };
  const [syntax, ...more] = doc.errors;
  if (syntax) {
    // Only the first: the parser reports every token after a broken bracket too, often hundreds, which hide the cause.
    const pos = syntax.linePos?.[0];
    // prettyErrors appends the position and a source excerpt to the message; keep its first line only.
    const first = (syntax.message.split('\n')[0] ?? syntax.code).replace(/ at line \d+, column \d+:?$/, '');
    const after = more.length === 0 ? '' : ` (and ${more.length} more after it, most following from this one)`;
    const error: LocatedConfigError = { path: '', message: `YAML syntax error: ${first}${after}`, rule: 'yaml-syntax' };
    return { ok: false, source, errors: [pos ? { ...error, line: pos.line, column: pos.col } : error] };
  }
  const result = validatePrivacyConfig(doc.toJS());
  if (!result.ok) return { ok: false, source, errors: result.errors.map((e) => ({ ...e, ...locateConfigPath(source, e.path) })) };
  return { ok: true, source, config: result.config };
}

export function loadPrivacyConfig(path: string): CompiledConfig {
  const read = readPrivacyConfig(path);
  if (!read.ok) throw new ConfigInvalidError(path, read.errors);
  return new CompiledConfig(read.config);
}
