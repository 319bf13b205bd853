// The `fiducia audit …` and `fiducia ropa` commands: offline verification, checkpoint export, the record of processing.
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { VerifyReport } from '../services/audit/audit-verify.ts';

// The application is imported inside the actions: registering these commands must not load it (see main.ts).
const core = () => import('../core.ts');

/** A checkpoint file holds the signed note, or the JSON of GET /api/v1/audit/checkpoint (its `note`). */
export function readCheckpointFile(file: string): string {
  const text = readFileSync(file, 'utf8');
  if (text.trimStart().startsWith('{')) {
    const note = (JSON.parse(text) as { note?: unknown }).note;
    if (typeof note !== 'string') throw new Error(`${file}: JSON without a "note" field`);
    return note;
  }
  return text;
}

export function formatReport(r: VerifyReport): string {
  const lines = [
    `${r.ok ? 'OK' : 'FAILED'}: ${r.entries} entries read, head ${r.head.size} entries, root ${r.head.rootHash}`,
    `recomputed root ${r.computedRoot}; ${r.nodesChecked} stored nodes compared; ${r.checkpoints.length} signed checkpoints checked`,
  ];
  if (r.firstBadEntry !== undefined) lines.push(`first bad entry: ${r.firstBadEntry}`);
  for (const p of r.problems) lines.push(`  - [${p.code}] ${p.message}`);
  for (const c of r.checkpoints.filter((x) => x.source === 'supplied')) {
    lines.push(`supplied checkpoint (${c.treeSize} entries, ${new Date(c.timestamp).toISOString()}): ${c.ok ? 'consistent' : 'NOT consistent'}`);
  }
  return `${lines.join('\n')}\n`;
}

export function registerAuditCommands(program: Command, fail: (err: unknown) => never): void {
  const audit = program.command('audit').description('the tamper-evident audit log');
  audit
    .command('verify')
    .description('recompute every entry, node, the head and the signed checkpoints; name the first bad entry (exit 1 if any)')
    .option('--checkpoint <file...>', 'exported checkpoint(s) the log must be consistent with (signed note or its JSON)')
    .option('--json', 'print the report as JSON')
    .action(async (o: { checkpoint?: string[]; json?: boolean }) => {
      let notes: string[];
      try {
        notes = (o.checkpoint ?? []).map(readCheckpointFile);
      } catch (err) {
        fail(err);
      }
      const [{ openExistingCore, optionsFromEnv }, { progressReporter }] = await Promise.all([core(), import('./progress.ts')]);
      const { dbs, audit: log } = await openExistingCore(optionsFromEnv()).catch(fail);
      const progress = progressReporter('audit verify', 'entries');
      let report: VerifyReport;
      try {
        // Read-only: an offline verification leaves no entry of its own.
        report = await log.verify({ checkpoints: notes, onProgress: (done, total) => progress.update(done, total) });
        progress.stop();
      } catch (err) {
        progress.stop(false);
        throw err;
      } finally {
        await dbs.close();
      }
      process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
      process.exitCode = report.ok ? 0 : 1;
    });
  audit
    .command('checkpoint')
    .description('sign and store a checkpoint of the current head and print it (keep it elsewhere)')
    .option('--out <file>', 'write the signed note to this file')
    .action(async (o: { out?: string }) => {
      const { openExistingCore, optionsFromEnv } = await core();
      const { dbs, audit: log } = await openExistingCore(optionsFromEnv()).catch(fail);
      try {
        const cp = await log.checkpoint();
        if (o.out) writeFileSync(o.out, cp.note, { flag: 'w' });
        else process.stdout.write(cp.note);
      } finally {
        await dbs.close();
      }
    });

  program
    .command('ropa')
    .description('print the record of processing activities (Art. 30)')
    .option('--format <format>', 'json, html or csv', 'json')
    .option('--lang <lang>', 'language of the HTML record: it or en (default: the configuration\'s first language)')
    .action(async (o: { format: string; lang?: string }) => {
      if (!['json', 'html', 'csv'].includes(o.format)) fail(new Error('--format must be json, html or csv'));
      if (o.lang !== undefined && o.lang !== 'it' && o.lang !== 'en') fail(new Error('--lang must be it or en'));
      const [{ openExistingCore, optionsFromEnv }, { ropaCsv, ropaHtml }, { DEFAULT_CONFIG_PATH, loadPrivacyConfig }, { RopaService }] = await Promise.all([
        core(),
        import('../domain/ropa-render.ts'),
        import('../services/config/config-loader.ts'),
        import('../services/config/ropa.ts'),
      ]);
      const opts = optionsFromEnv();
      const cfg = (() => {
        try {
          return loadPrivacyConfig(opts.configPath ?? DEFAULT_CONFIG_PATH);
        } catch (err) {
          return fail(err);
        }
      })();
      const { dbs, audit: log } = await openExistingCore(opts).catch(fail);
      try {
        const ropa = await new RopaService(cfg, dbs, log).ropa();
        const lang = o.lang === 'it' || o.lang === 'en' ? o.lang : (cfg.config.languages[0] ?? 'en');
        process.stdout.write(o.format === 'html' ? ropaHtml(ropa, lang) : o.format === 'csv' ? ropaCsv(ropa) : `${JSON.stringify(ropa, null, 2)}\n`);
      } finally {
        await dbs.close();
      }
    });
}
