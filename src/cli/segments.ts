// The `fiducia segments …` commands: a full recompute of memberships and computed traits, with a progress bar.
import type { Command } from 'commander';
import type { CompiledConfig } from '../domain/privacy-config.ts';

export function registerSegmentCommands(program: Command, fail: (err: unknown) => never): void {
  const segments = program.command('segments').description('segments and computed traits');
  segments
    .command('recompute')
    .description('rebuild aggregates and memberships from stored events, for every subject (e.g. after a configuration change)')
    .option('--segment <id>', 'one segment or computed trait only')
    .action(async (o: { segment?: string }) => {
      // Imported here: registering the command must not load the application (see main.ts).
      const [{ progressReporter }, { openExistingCore, optionsFromEnv }, { DEFAULT_CONFIG_PATH, loadPrivacyConfig }, { SegmentService }] = await Promise.all([
        import('./progress.ts'),
        import('../core.ts'),
        import('../services/config/config-loader.ts'),
        import('../services/segments/segments.ts'),
      ]);
      const opts = optionsFromEnv();
      let cfg: CompiledConfig;
      try {
        cfg = loadPrivacyConfig(opts.configPath ?? DEFAULT_CONFIG_PATH);
      } catch (err) {
        fail(err);
      }
      const { dbs, ring, audit } = await openExistingCore(opts).catch(fail);
      const progress = progressReporter('segments recompute', 'subjects');
      try {
        const service = new SegmentService(dbs.store, { cfg, ring });
        await service.init();
        const result = await service.recompute({ segment: o.segment, onProgress: (done, total) => progress.update(done, total) });
        progress.stop();
        await audit.append(dbs.store, [
          { actor: 'system', action: 'segments.recompute', outcome: 'ok', counts: { subjects: result.subjects, definitions: result.definitions.length }, details: { segment: o.segment ?? null } },
        ]);
        process.stdout.write(`recomputed ${result.definitions.length} definitions over ${result.subjects} subjects\n`);
      } catch (err) {
        progress.stop(false);
        fail(err);
      } finally {
        await dbs.close();
      }
    });
}
