// Loads the privacy configuration YAML from disk, validates it and compiles it; a bad file stops the start.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LineCounter, isMap, isNode, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import { CompiledConfig, parseConfigPath, validatePrivacyConfig } from '../../domain/privacy-config.ts';
import type { ConfigError } from '../../domain/privacy-config.ts';

/** The shipped configuration for a typical online shop (`config/fiducia.yaml`). */
export const DEFAULT_CONFIG_PATH: string = fileURLToPath(new URL('../../../config/fiducia.yaml', import.meta.url));

/** The configuration file cannot be read, parsed or validated. `errors` holds every problem found. */
export class ConfigInvalidError extends Error {
  readonly code = 'FIDUCIA_CONFIG_INVALID';
  readonly file: string;
  readonly errors: ConfigError[];

  constructor(file: string, errors: ConfigError[]) {
    const lines = errors.map((e) => (e.path === '' ? `${file}: ${e.message}` : `${file}: ${e.path}: ${e.message}`));
    super(`invalid privacy configuration (${errors.length} ${errors.length === 1 ? 'error' : 'errors'}):\n${lines.join('\n')}`);
    this.name = 'ConfigInvalidError';
    this.file = file;
    this.errors = errors;
  }
}

/** Where `path` is in the file: its key (or item), else the nearest existing ancestor (a missing key's parent). */
function locate(doc: Document, lines: LineCounter, path: string): string {
  const segments = parseConfigPath(path);
  for (let n = segments.length; n >= 0; n--) {
    const parent: unknown = n <= 1 ? doc.contents : doc.getIn(segments.slice(0, n - 1), true);
    const last = segments[n - 1];
    let node: unknown = n === 0 ? doc.contents : undefined;
    if (n > 0 && isMap(parent)) node = parent.items.find((item) => isScalar(item.key) && item.key.value === last)?.key;
    else if (n > 0 && isSeq(parent) && typeof last === 'number') node = parent.items[last];
    if (isNode(node) && node.range) {
      const { line, col } = lines.linePos(node.range[0]);
      return ` (line ${line}, column ${col})`;
    }
  }
  return '';
}

export function loadPrivacyConfig(path: string): CompiledConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigInvalidError(path, [{ path: '', message: `cannot read the file: ${(err as Error).message}` }]);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: true, lineCounter, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigInvalidError(
      path,
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        // prettyErrors appends the position and a source excerpt to the message; keep its first line only.
        const first = (e.message.split('\n')[0] ?? e.code).replace(/ at line \d+, column \d+:?$/, '');
        const message = `YAML syntax error: ${first}`;
        return { path: pos ? `line ${pos.line}, column ${pos.col}` : '', message };
      }),
    );
  }
  const result = validatePrivacyConfig(doc.toJS());
  if (!result.ok) {
    throw new ConfigInvalidError(
      path,
      result.errors.map((e) => ({ path: e.path, message: `${e.message}${locate(doc, lineCounter, e.path)}` })),
    );
  }
  return new CompiledConfig(result.config);
}
