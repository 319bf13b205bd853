// The `fiducia start` command: run the server, print where it listens and, on the first start, the secrets made for it
// with three commands that show the engine at work (consent, an event, a read for a purpose).
import type { Command } from 'commander';
import type { CompiledConfig } from '../domain/privacy-config.ts';

/** Names that go into the printed commands as they are: no quoting needed in a shell or in JSON. */
const PLAIN_NAME = /^[A-Za-z0-9_]{1,64}$/;

/**
 * A consent-based purpose and an identify trait it may read, for the first-start example: the shipped configuration's
 * personalization and `favoriteCategory` when present, else the first pair the configuration allows.
 */
export function examplePair(cfg: CompiledConfig): { purpose: string; trait: string } | null {
  const purposes = [...cfg.consentPurposes()].sort((a, b) => Number(b.key === 'personalization') - Number(a.key === 'personalization'));
  const traits = Object.keys(cfg.config.trackingPlan.traits ?? {}).sort((a, b) => Number(b === 'favoriteCategory') - Number(a === 'favoriteCategory'));
  for (const p of purposes) {
    if (!PLAIN_NAME.test(p.key)) continue;
    for (const trait of traits) {
      const category = cfg.classifyTrait(trait);
      if (!PLAIN_NAME.test(trait) || category === null || cfg.isSpecial(category)) continue;
      if (cfg.purposesCovering(category).some((c) => c.key === p.key)) return { purpose: p.key, trait };
    }
  }
  return null;
}

export interface TryInput {
  url: string;
  cfg: CompiledConfig;
  writeKey: string | undefined;
  adminToken: string | undefined;
}

/**
 * Three commands a newcomer can paste as printed: record consent for an anonymous visitor, send an identify with a
 * trait that consent covers, read the profile back for that purpose (the trait is there). Placeholders stand for a
 * secret this start did not make (it came from the environment).
 */
export function tryCommands({ url, cfg, writeKey, adminToken }: TryInput): string[] {
  const pair = examplePair(cfg);
  if (!pair) return [];
  const { purpose, trait } = pair;
  const key = writeKey ?? '<write key>';
  const json = "-H 'content-type: application/json'";
  const consent = JSON.stringify({ anonymousId: 'visitor-1', purposes: { [purpose]: true }, noticeVersion: cfg.config.notice.current });
  const identify = JSON.stringify({ anonymousId: 'visitor-1', traits: { [trait]: 'shoes' } });
  return [
    `Try it: consent first, then an event, then read the profile back for "${purpose}":`,
    `  curl -s -u ${key}: ${url}/v1/consent ${json} -d '${consent}'`,
    `  curl -s -u ${key}: ${url}/v1/identify ${json} -d '${identify}'`,
    `  curl -s -H 'authorization: Bearer ${adminToken ?? '<admin token>'}' '${url}/api/v1/profiles/anonymousId:visitor-1?purpose=${purpose}'`,
    `  (the answer's "traits" hold ${trait}: "shoes", kept and shown because visitor-1 consented to ${purpose})`,
  ];
}

export function registerStartCommand(program: Command, fail: (err: unknown) => never): void {
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
      const { urlOfAddress } = await import('../core.ts');
      const opts = optionsFromEnv();
      const fiducia = await createFiducia(opts).catch(fail);
      const host = process.env.HOST ?? '127.0.0.1';
      await fiducia.app.listen({ host, port: Number(process.env.PORT ?? 8787) }).catch(fail);
      // The address really bound (PORT=0 picks one), as the links in emails use it unless FIDUCIA_PUBLIC_URL is set.
      const address = fiducia.app.server.address();
      const url = address && typeof address === 'object' ? urlOfAddress(address.address, address.port) : urlOfAddress(host, Number(process.env.PORT ?? 8787));
      const lines = [`Fiducia is running at ${url} (${fiducia.dbs.dialect}, ${fiducia.dbs.location})`];
      const { adminToken, writeKey, browserWriteKey, verificationSecret } = fiducia.bootstrap.generated;
      if (fiducia.masterKeyCreated) lines.push(`A new master key was written to ${opts.dataDir}/master.key (0600): back it up apart from the data.`);
      if (adminToken || writeKey || browserWriteKey) {
        lines.push('First start: these secrets are shown once (keys are stored only as hashes; see docs/security.md).');
        if (adminToken) lines.push(`  admin token:          ${adminToken}`);
        if (writeKey) lines.push(`  server write key:     ${writeKey}   (secret: for your servers only; it may assert who a user is)`);
        if (browserWriteKey) lines.push(`  browser write key:    ${browserWriteKey}   (public: the one that goes into web pages)`);
        if (verificationSecret) lines.push(`  verification secret:  ${verificationSecret}   (secret: your server signs userIds with it, see docs/security.md)`);
        lines.push(...tryCommands({ url, cfg: fiducia.cfg, writeKey: writeKey ?? browserWriteKey, adminToken }));
        if (adminToken) lines.push(`Console: open ${url}/console and choose "First start: create the first admin" with the admin token above.`);
      }
      lines.push(`Console: ${url}/console   Privacy center: ${url}/privacy${fiducia.pages.demo ? `   Demo shop: ${url}/demo` : ''}`);
      process.stdout.write(`${lines.join('\n')}\n`);
      stopOnSignals(fiducia);
    });
}

function stopOnSignals(fiducia: { logger: { info(o: object, m: string): void; error(o: object, m: string): void }; close(): Promise<void> }): void {
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
}
