// Commands that work on existing data (audit, keys, segments, jobs, ropa), pointed where there is none, say so and exit
// 2 instead of creating a new, empty store there; with a store but no master key they refuse to make a new key.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { cliEnv, eachDialect, freshStore, PG_URL } from './helpers/harness.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');

async function fiducia(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const COMMANDS = [['audit', 'verify'], ['audit', 'checkpoint'], ['ropa'], ['keys', 'rotate'], ['segments', 'recompute'], ['jobs', 'list'], ['jobs', 'run', 'retention']];

async function schemaExists(schema: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return ((await client.query('select 1 from information_schema.schemata where schema_name = $1', [schema])).rowCount ?? 0) > 0;
  } finally {
    await client.end();
  }
}

await eachDialect('maintenance commands on a store that does not exist', (dialect) => {
  const store = freshStore(dialect);
  after(() => store.cleanup());
  const env = cliEnv(store.options);
  // The SQLite folder itself is not there either: nothing may make it.
  const dataDir = join(store.options.dataDir, 'not-here');
  env.FIDUCIA_DATA_DIR = dataDir;

  for (const args of COMMANDS) {
    it(`fiducia ${args.join(' ')} says there is no data, exits 2 and creates nothing`, async () => {
      const r = await fiducia(env, ...args);
      assert.equal(r.code, 2, `${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /^fiducia: no Fiducia data in /, r.stderr);
      assert.match(r.stderr, /nothing was created/);
      assert.match(r.stderr, dialect === 'sqlite' ? /Set FIDUCIA_DATA_DIR/ : /Set DATABASE_URL/);
      assert.equal(r.stdout, '', 'no report of an empty log');
      assert.equal(existsSync(dataDir), false, 'no data folder, no master key');
      if (dialect === 'postgres') {
        assert.equal(await schemaExists(store.options.schema ?? ''), false, 'no data schema');
        assert.equal(await schemaExists(store.options.keysSchema ?? ''), false, 'no keystore schema');
      }
    });
  }
});

await eachDialect('maintenance commands on a store without its master key', (dialect) => {
  const store = freshStore(dialect);
  after(() => store.cleanup());

  it('refuses to make a new master key beside existing data', async () => {
    const withKey = cliEnv(store.options);
    const migrated = await fiducia(withKey, 'migrate');
    assert.equal(migrated.code, 0, migrated.stderr);
    const ok = await fiducia(withKey, 'audit', 'verify');
    assert.equal(ok.code, 0, `with its key the store verifies: ${ok.stderr}`);
    const withoutKey = { ...withKey };
    delete withoutKey.FIDUCIA_MASTER_KEY;
    const r = await fiducia(withoutKey, 'audit', 'verify');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /no master key: .*master\.key not found and FIDUCIA_MASTER_KEY unset/);
    assert.ok(!readdirSync(store.options.dataDir).includes('master.key'), 'no master key was made');
  });
});
