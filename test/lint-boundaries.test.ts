// The layer rules of eslint.config.js bite: probe files at virtual paths in src/ import across layers, through the
// ESLint Node API, and each forbidden import is reported by boundaries/dependencies while each allowed one is clean.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CONFIG = join(ROOT, 'eslint.config.js');
const RULE = 'boundaries/dependencies';

interface Probe {
  /** Where the probe pretends to live, relative to the repository. */
  file: string;
  code: string;
}

/** Rule ids and messages ESLint reports for a probe; a parse error (ruleId null) shows as `parse: …`. */
async function lint(eslint: ESLint, { file, code }: Probe): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: file });
  assert.ok(result, `no result for ${file}`);
  return result.messages.map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`);
}

/** The probe is refused by the layer rule, with a message naming `why` (the layer or package it may not import). */
async function refused(eslint: ESLint, probe: Probe, why: RegExp): Promise<void> {
  const messages = await lint(eslint, probe);
  const hits = messages.filter((m) => m.startsWith(`${RULE}:`));
  assert.equal(hits.length, 1, `${probe.file}: ${probe.code.split('\n')[0]} should break one layer rule; ESLint said ${JSON.stringify(messages)}`);
  assert.match(hits[0]!, why, `${probe.file}: refused for another reason than expected`);
}

/** The probe lints clean: no layer rule, nor any other rule, objects. */
async function allowed(eslint: ESLint, probe: Probe): Promise<void> {
  assert.deepEqual(await lint(eslint, probe), [], `${probe.file}: ${probe.code.split('\n')[0]} should be allowed`);
}

/** A probe importing `specifier`, by value unless `type`. */
const importing = (file: string, specifier: string, type = false): Probe => ({
  file,
  code: `import ${type ? 'type ' : ''}* as imported from '${specifier}';\nexport type Imported = typeof imported;\n`,
});

describe('layer boundaries (eslint.config.js) on the repository', () => {
  const eslint = new ESLint({ cwd: ROOT });

  it('the probes point at files that exist, so a refusal is about the layer and not a missing file', () => {
    for (const file of ['src/store/database.ts', 'src/services/metrics.ts', 'src/http/app.ts', 'src/app.ts', 'src/domain/errors.ts', 'src/crypto/user-hash.ts']) {
      assert.ok(existsSync(join(ROOT, file)), `${file} is gone: point the probes of this test at another file of its layer`);
    }
  });

  it('src/http never imports src/store, not even a type', async () => {
    await refused(eslint, importing('src/http/routes/probe.ts', '../../store/database.ts'), /"http" to elements of type "store"/);
    await refused(eslint, importing('src/http/probe.ts', '../store/database.ts', true), /"http" to elements of type "store"/);
  });

  it('only src/store imports kysely, better-sqlite3 or pg, `import type` and subpaths included', async () => {
    await refused(eslint, { file: 'src/services/probe.ts', code: "import { Kysely } from 'kysely';\nexport const K = Kysely;\n" }, /module source "kysely"/);
    await refused(eslint, importing('src/services/probe.ts', 'kysely', true), /module source "kysely"/);
    await refused(eslint, importing('src/http/probe.ts', 'kysely/helpers/postgres'), /module source "kysely"/);
    await refused(eslint, importing('src/domain/probe.ts', 'better-sqlite3', true), /module source "better-sqlite3"/);
    await refused(eslint, importing('src/jobs/probe.ts', 'pg'), /module source "pg"/);
    await refused(eslint, importing('src/app.ts', 'pg'), /module source "pg"/);
    await allowed(eslint, importing('src/store/probe.ts', 'kysely'));
    await allowed(eslint, importing('src/store/probe.ts', 'pg', true));
  });

  it('src/domain imports nothing of ours outside src/domain; built-ins and npm packages are fine', async () => {
    await refused(eslint, importing('src/domain/probe.ts', '../services/metrics.ts'), /"domain" to elements of type "services"/);
    await refused(eslint, importing('src/domain/probe.ts', '../crypto/user-hash.ts'), /"domain" to elements of type "crypto"/);
    await refused(eslint, importing('src/domain/probe.ts', '../../test/helpers/tcf-strings.ts'), /"domain" to .*"local"/);
    await allowed(eslint, importing('src/domain/probe.ts', './errors.ts'));
    await allowed(eslint, importing('src/domain/probe.ts', 'node:crypto'));
    await allowed(eslint, importing('src/domain/probe.ts', 'yaml'));
  });

  it('src/services never imports src/http, src/jobs, src/cli or src/app.ts; statically, dynamically or re-exported', async () => {
    await refused(eslint, importing('src/services/probe.ts', '../http/app.ts'), /"services" to elements of type "http"/);
    await refused(eslint, { file: 'src/services/probe.ts', code: "export const app = await import('../http/app.ts');\n" }, /"services" to elements of type "http"/);
    await refused(eslint, { file: 'src/services/probe.ts', code: "export { buildHttpApp } from '../http/app.ts';\n" }, /"services" to elements of type "http"/);
    await refused(eslint, importing('src/services/rights/probe.ts', '../../app.ts'), /"services" to elements of type "root"/);
    await refused(eslint, importing('src/services/probe.ts', '../jobs/periodic.ts'), /"services" to elements of type "jobs"/);
    await refused(eslint, importing('src/services/probe.ts', '../cli/main.ts'), /"services" to elements of type "cli"/);
    await allowed(eslint, importing('src/services/probe.ts', '../store/database.ts'));
    await allowed(eslint, importing('src/services/probe.ts', '../crypto/user-hash.ts'));
  });

  it('src/store never imports src/services, src/http or the composition root', async () => {
    await refused(eslint, importing('src/store/probe.ts', '../services/metrics.ts', true), /"store" to elements of type "services"/);
    await refused(eslint, importing('src/store/probe.ts', '../http/app.ts'), /"store" to elements of type "http"/);
    await refused(eslint, importing('src/store/probe.ts', '../app.ts'), /"store" to elements of type "root"/);
    await allowed(eslint, importing('src/store/probe.ts', '../domain/errors.ts'));
  });

  it('src/crypto imports only src/crypto and src/domain', async () => {
    await refused(eslint, importing('src/crypto/probe.ts', '../services/metrics.ts'), /"crypto" to elements of type "services"/);
    await refused(eslint, importing('src/crypto/probe.ts', '../store/database.ts', true), /"crypto" to elements of type "store"/);
    await allowed(eslint, importing('src/crypto/probe.ts', '../domain/errors.ts'));
  });

  it('src/jobs imports services and domain, not http or store', async () => {
    await refused(eslint, importing('src/jobs/probe.ts', '../http/app.ts'), /"jobs" to elements of type "http"/);
    await refused(eslint, importing('src/jobs/probe.ts', '../store/database.ts', true), /"jobs" to elements of type "store"/);
    await allowed(eslint, importing('src/jobs/probe.ts', '../services/metrics.ts'));
    await allowed(eslint, importing('src/jobs/probe.ts', '../domain/errors.ts'));
  });

  it('src/http imports services, domain, crypto and itself', async () => {
    await allowed(eslint, importing('src/http/routes/probe.ts', '../../services/metrics.ts'));
    await allowed(eslint, importing('src/http/routes/probe.ts', '../../domain/errors.ts'));
    await allowed(eslint, importing('src/http/routes/probe.ts', '../../crypto/user-hash.ts'));
    await allowed(eslint, importing('src/http/routes/probe.ts', '../app.ts'));
  });

  it('the composition root (src/app.ts, src/cli) may import anything in src', async () => {
    await allowed(eslint, importing('src/app.ts', './store/database.ts'));
    await allowed(eslint, importing('src/app.ts', './http/app.ts'));
    await allowed(eslint, importing('src/cli/probe.ts', '../store/database.ts'));
    await allowed(eslint, importing('src/cli/probe.ts', '../app.ts'));
  });

  it('tests are linted, but the layer rules leave them alone', async () => {
    await allowed(eslint, importing('src/domain/probe.test.ts', '../store/database.ts'));
    await allowed(eslint, importing('test/probe.test.ts', 'kysely', true));
  });

  it('no-explicit-any holds in src/domain and src/services', async () => {
    for (const file of ['src/domain/probe.ts', 'src/services/probe.ts']) {
      const messages = await lint(eslint, { file, code: 'export const f = (x: any): unknown => x;\n' });
      assert.deepEqual(messages.map((m) => m.split(':')[0]), ['@typescript-eslint/no-explicit-any'], `${file}: ${JSON.stringify(messages)}`);
    }
  });
});

// src/store/internal/ is new: until it holds files, a copy of the layer folders in a temporary directory stands in
// (an import that does not resolve is refused for that reason alone, which would prove nothing here).
describe('layer boundaries: src/store/internal/ is private to src/store/', () => {
  const fixture = mkdtempSync(join(tmpdir(), 'fiducia-lint-'));
  after(() => rmSync(fixture, { recursive: true, force: true }));
  for (const file of ['src/store/internal/helpers.ts', 'src/store/database.ts']) {
    mkdirSync(dirname(join(fixture, file)), { recursive: true });
    writeFileSync(join(fixture, file), 'export const value = 1;\n');
  }
  const eslint = new ESLint({ cwd: fixture, overrideConfigFile: CONFIG, overrideConfig: { settings: { 'boundaries/root-path': fixture } } });

  it('nothing outside src/store imports src/store/internal, the composition root included', async () => {
    await refused(eslint, importing('src/http/probe.ts', '../store/internal/helpers.ts', true), /"http" to elements of type "store-internal"/);
    await refused(eslint, importing('src/services/probe.ts', '../store/internal/helpers.ts'), /"services" to elements of type "store-internal"/);
    await refused(eslint, importing('src/cli/probe.ts', '../store/internal/helpers.ts'), /"cli" to elements of type "store-internal"/);
    await refused(eslint, importing('src/app.ts', './store/internal/helpers.ts'), /"root" to elements of type "store-internal"/);
  });

  it('src/store imports its internals, and others import the rest of src/store', async () => {
    await allowed(eslint, importing('src/store/probe.ts', './internal/helpers.ts'));
    await allowed(eslint, importing('src/store/internal/probe.ts', '../database.ts'));
    await allowed(eslint, importing('src/services/probe.ts', '../store/database.ts'));
  });
});
