#!/usr/bin/env node
// The `fiducia` command: start the server, run migrations, rotate keys, check and lint a privacy configuration.
// The application is imported inside each command's action, so that `--help` or `config check` does not load it all.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerAuditCommands } from './audit.ts';
import { registerCheckCommand } from './check.ts';
import { registerJobCommands } from './jobs.ts';
import { registerSegmentCommands } from './segments.ts';

function fail(err: unknown): never {
  // By name: importing config-loader.ts for an instanceof check would load it for every command.
  if (err instanceof Error && err.name === 'ConfigInvalidError') {
    process.stderr.write(`fiducia: the privacy configuration is invalid:\n${err.message}\n`);
  } else {
    process.stderr.write(`fiducia: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  process.exit(1);
}

// src/cli/ and dist/cli/ both sit two folders below the package's root.
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command()
  .name('fiducia')
  .description('Privacy-first customer data platform')
  .version(version, '-v, --version', 'print the version')
  .showHelpAfterError();

program
  .command('start', { isDefault: true })
  .description('run the server (SQLite under FIDUCIA_DATA_DIR, or PostgreSQL with DATABASE_URL)')
  // `start` is what a bare `fiducia` runs, so an unknown command arrives here as a word: name it and list the commands.
  .argument('[command]')
  .action(async (word: string | undefined) => {
    if (word !== undefined) {
      const commands = program.commands.map((c) => c.name()).join(', ');
      process.stderr.write(`fiducia: unknown command "${word.slice(0, 64).replace(/[^\x20-\x7e]/g, '?')}". Commands: ${commands} (fiducia --help for more)\n`);
      process.exit(1);
    }
    const { createFiducia, optionsFromEnv } = await import('../app.ts');
    const opts = optionsFromEnv();
    const fiducia = await createFiducia(opts).catch(fail);
    const host = process.env.HOST ?? '127.0.0.1';
    const port = Number(process.env.PORT ?? 8787);
    await fiducia.app.listen({ host, port }).catch(fail);
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    const lines = [`Fiducia is running at ${url} (${fiducia.dbs.dialect}, ${fiducia.dbs.location})`];
    const { adminToken, writeKey, browserWriteKey, verificationSecret } = fiducia.bootstrap.generated;
    if (fiducia.masterKeyCreated) lines.push(`A new master key was written to ${opts.dataDir}/master.key (0600): back it up apart from the data.`);
    if (adminToken || writeKey || browserWriteKey) {
      lines.push('First start: these secrets are shown once (keys are stored only as hashes; see docs/security.md).');
      if (adminToken) lines.push(`  admin token:          ${adminToken}`);
      if (writeKey) lines.push(`  server write key:     ${writeKey}   (secret: for your servers only; it may assert who a user is)`);
      if (browserWriteKey) lines.push(`  browser write key:    ${browserWriteKey}   (public: the one that goes into web pages)`);
      if (verificationSecret) lines.push(`  verification secret:  ${verificationSecret}   (secret: your server signs userIds with it, see docs/security.md)`);
      lines.push(`  try: curl -u ${writeKey ?? browserWriteKey ?? '<write key>'}: ${url}/v1/track -H 'content-type: application/json' -d '{"anonymousId":"a1","event":"Product Viewed"}'`);
    }
    lines.push(`Privacy center: ${url}/privacy${fiducia.pages.demo ? `   Demo shop: ${url}/demo` : ''}`);
    process.stdout.write(`${lines.join('\n')}\n`);
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      fiducia.logger.info({ signal }, 'shutting down: finishing in-flight commits');
      fiducia.close().then(
        () => process.exit(0),
        (err: unknown) => {
          fiducia.logger.error({ err: String(err) }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });

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
    const [{ openCore, optionsFromEnv }, { rotateKeys }] = await Promise.all([import('../core.ts'), import('../services/keys/key-rotation.ts')]);
    const { dbs, ring, audit } = await openCore(optionsFromEnv()).catch(fail);
    try {
      const result = await rotateKeys({ ring, audit, db: dbs.store }, 'system', (done) => process.stderr.write(`\rrewrapped ${done} data keys`));
      process.stderr.write('\n');
      process.stdout.write(`KEK version ${result.kekVersion}: ${result.rewrapped} data keys rewrapped\n`);
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
