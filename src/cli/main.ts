#!/usr/bin/env node
// The `fiducia` command: start the server, run migrations, rotate keys, check and lint a privacy configuration.
// The application is imported inside each command's action, so that `--help` or `config check` does not load it all.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerAuditCommands } from './audit.ts';
import { registerCheckCommand } from './check.ts';
import { registerJobCommands } from './jobs.ts';
import { registerSegmentCommands } from './segments.ts';
import { registerStartCommand } from './start.ts';

function fail(err: unknown): never {
  // By name: importing config-loader.ts for an instanceof check would load it for every command.
  if (err instanceof Error && err.name === 'ConfigInvalidError') {
    process.stderr.write(`fiducia: the privacy configuration is invalid:\n${err.message}\n`);
  } else {
    process.stderr.write(`fiducia: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  // 2: pointed where there is no data (a script can tell it from a failed check, which exits 1).
  process.exit(err instanceof Error && err.name === 'NoFiduciaDataError' ? 2 : 1);
}

// src/cli/ and dist/cli/ both sit two folders below the package's root.
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command()
  .name('fiducia')
  .description('Privacy-first customer data platform')
  .version(version, '-v, --version', 'print the version')
  .showHelpAfterError();

registerStartCommand(program, fail);

program
  .command('migrate')
  .description('apply database migrations (start does this too)')
  .action(async () => {
    const { openCore, optionsFromEnv } = await import('../core.ts');
    const { dbs } = await openCore(optionsFromEnv()).catch(fail);
    await dbs.close();
    process.stdout.write(`migrations applied (${dbs.dialect})\n`);
  });

const keys = program.command('keys').description('key management');
keys
  .command('rotate')
  .description('make a new KEK version and rewrap every data key with it (data is not touched)')
  .action(async () => {
    const [{ openExistingCore, optionsFromEnv }, { rotateKeys }, { progressReporter }] = await Promise.all([
      import('../core.ts'),
      import('../services/keys/key-rotation.ts'),
      import('./progress.ts'),
    ]);
    const { dbs, ring, audit } = await openExistingCore(optionsFromEnv()).catch(fail);
    const progress = progressReporter('keys rotate', 'data keys rewrapped');
    try {
      const result = await rotateKeys({ ring, audit, db: dbs.store }, 'system', (done, total) => progress.update(done, total));
      progress.stop();
      process.stdout.write(`KEK version ${result.kekVersion}: ${result.rewrapped} data keys rewrapped\n`);
    } catch (err) {
      progress.stop(false);
      throw err;
    } finally {
      await dbs.close();
    }
  });

program
  .command('config')
  .description('privacy configuration')
  .command('check')
  .description('validate a privacy configuration as the server does at start (`fiducia check` also lints it) and print its hash')
  .argument('[file]', 'YAML file (default: FIDUCIA_CONFIG, else the shipped config/fiducia.yaml)')
  .action(async (fileArg: string | undefined) => {
    const { DEFAULT_CONFIG_PATH, loadPrivacyConfig } = await import('../services/config/config-loader.ts');
    const file = fileArg ?? process.env.FIDUCIA_CONFIG ?? DEFAULT_CONFIG_PATH;
    try {
      const cfg = loadPrivacyConfig(file);
      process.stdout.write(`${file}: valid (${cfg.config.purposes.length} purposes, ${cfg.config.categories.length} categories, sha256 ${cfg.hash})\n`);
    } catch (err) {
      fail(err);
    }
  });

registerCheckCommand(program, fail);
registerAuditCommands(program, fail);
registerSegmentCommands(program, fail);
registerJobCommands(program, fail);

await program.parseAsync(process.argv);
