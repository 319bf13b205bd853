// `fiducia audit verify [--checkpoint FILE]`, `fiducia audit checkpoint` and `fiducia ropa`, run as a separate process.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { FiduciaOptions } from '../src/app.ts';
import { createFiducia } from '../src/app.ts';
import { eachDialect, freshStore, type StoreHandle } from './helpers/harness.ts';

const run = promisify(execFile);
const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

function envOf(o: FiduciaOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, FIDUCIA_DATA_DIR: o.dataDir, FIDUCIA_MASTER_KEY: o.masterKey, LOG_LEVEL: 'silent' };
  for (const k of ['DATABASE_URL', 'FIDUCIA_DB_SCHEMA', 'FIDUCIA_KEYS_SCHEMA', 'FIDUCIA_CONFIG']) delete env[k];
  if (o.databaseUrl) Object.assign(env, { DATABASE_URL: o.databaseUrl, FIDUCIA_DB_SCHEMA: o.schema, FIDUCIA_KEYS_SCHEMA: o.keysSchema });
  return env;
}

async function fiducia(store: StoreHandle, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: envOf(store.options), timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

await eachDialect('audit CLI', (dialect) => {
  let store: StoreHandle;
  before(async () => {
    store = freshStore(dialect);
    const f = await createFiducia({ ...store.options, auditCheckpointSeconds: 0 });
    await f.audit.append(
      f.dbs.store,
      Array.from({ length: 300 }, (_, i) => ({ actor: 'tok_cli', action: 'profile.read', purpose: 'marketing', subjectId: `s${i}`, fields: ['email'], outcome: 'ok' as const })),
    );
    await f.close();
  });
  after(async () => store.cleanup());

  it('exports a checkpoint, verifies against it, and names the first bad entry of a rewritten log', async () => {
    const file = join(store.options.dataDir, 'kept-elsewhere.checkpoint');
    const cp = await fiducia(store, 'audit', 'checkpoint', '--out', file);
    assert.equal(cp.code, 0, cp.stderr);
    assert.match(readFileSync(file, 'utf8'), /^fiducia\/audit\/[0-9a-f]{16}\n\d+\n/);

    const ok = await fiducia(store, 'audit', 'verify', '--checkpoint', file);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^OK: \d+ entries read/);
    assert.match(ok.stdout, /supplied checkpoint \(\d+ entries, .*\): consistent/);

    // Rewrite entry 7 from outside (a second process with database access, no signing key).
    const { openDatabases } = await import('../src/store/database.ts');
    const dbs = await openDatabases(store.options);
    try {
      await dbs.data.updateTable('audit_entries').set({ actor: 'tok_someone_else' }).where('idx', '=', 7).execute();
    } finally {
      await dbs.close();
    }
    const bad = await fiducia(store, 'audit', 'verify', '--checkpoint', file);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /^FAILED/);
    assert.match(bad.stdout, /first bad entry: 7\n/);
    const json = await fiducia(store, 'audit', 'verify', '--json');
    assert.equal(json.code, 1);
    assert.equal((JSON.parse(json.stdout) as { firstBadEntry: number }).firstBadEntry, 7);

    const missing = await fiducia(store, 'audit', 'verify', '--checkpoint', join(store.options.dataDir, 'nope'));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /ENOENT|no such file/);
  });

  it('prints the record of processing', async () => {
    const csv = await fiducia(store, 'ropa', '--format', 'csv');
    assert.equal(csv.code, 0, csv.stderr);
    assert.equal(csv.stdout.trimEnd().split('\r\n').length, 7);
    const json = await fiducia(store, 'ropa');
    assert.equal((JSON.parse(json.stdout) as { controller: { name: string } }).controller.name, 'Example Shop S.r.l.');
    const italian = await fiducia(store, 'ropa', '--format', 'html', '--lang', 'it');
    assert.equal(italian.code, 0, italian.stderr);
    assert.match(italian.stdout, /<html lang="it">.*Registro delle attività di trattamento/s);
    assert.match((await fiducia(store, 'ropa', '--format', 'html', '--lang', 'en')).stdout, /<html lang="en">.*Record of processing activities/s);
    assert.equal((await fiducia(store, 'ropa', '--format', 'html', '--lang', 'fr')).code, 1);
  });
});
