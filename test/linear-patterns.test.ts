// Every regular expression in src/ is proven linear by the structural check, so no input can make one backtrack.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { regexLinearity } from '../src/domain/regex-linearity.ts';
import { patternsIn, sourceFiles, type FoundPattern } from './helpers/regex-literals.ts';

const ROOT = join(import.meta.dirname, '..');
const all: FoundPattern[] = sourceFiles(join(ROOT, 'src'), ROOT).flatMap((f) => patternsIn(f, ROOT));

function problems(patterns: readonly FoundPattern[]): string[] {
  const out: string[] = [];
  for (const p of patterns) {
    const where = `${p.file}:${p.line}`;
    if (p.source === null || p.flags === '?') out.push(`${where}: a pattern built at run time cannot be checked`);
    else {
      const r = regexLinearity(p.source, p.flags);
      if (!r.linear) out.push(`${where}: /${p.source}/${p.flags}: ${r.reason}`);
    }
  }
  return out;
}

describe('regular expressions in src/', () => {
  it('finds the patterns (literals, RegExp and schema `pattern` strings)', () => {
    assert.ok(all.length > 20, `only ${all.length} patterns found: the scan is broken`);
    assert.ok(all.some((p) => p.kind === 'schema'), 'route schemas carry `pattern` strings');
    assert.ok(all.some((p) => p.file === join('src', 'domain', 'identity.ts')), 'identity.ts has patterns');
  });

  it('identity and message normalization (every ingestion request): each pattern is linear', () => {
    const hot = all.filter((p) => /src\/domain\/(identity|segment-message|consent-proof)\.ts$/.test(p.file));
    assert.ok(hot.length >= 4, `found ${hot.length}`);
    assert.deepEqual(problems(hot), []);
  });

  it('every other pattern is linear too', () => {
    assert.deepEqual(problems(all), []);
  });
});
