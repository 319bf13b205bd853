// The `fiducia jobs …` commands: list the background jobs with their last runs, or run one now with a progress bar.
import type { Command } from 'commander';
import type { JobRunResult, JobScheduler, JobView } from '../services/jobs/scheduler.ts';

/** The services the jobs drive, built like the server builds them, without the HTTP app and without the timer. */
async function openRunner(fail: (err: unknown) => never): Promise<{ scheduler: JobScheduler; close(): Promise<void> }> {
  // Imported here: registering the command must not load the application (see main.ts).
  const [{ pino }, { defaultPublicUrl, openExistingCore, optionsFromEnv }, { DEFAULT_CONFIG_PATH, loadPrivacyConfig }, { SegmentService }, rights, { JobScheduler }, { backgroundJobs }, { RetentionSweep }] =
    await Promise.all([
      import('pino'),
      import('../core.ts'),
      import('../services/config/config-loader.ts'),
      import('../services/segments/segments.ts'),
      import('../services/rights/rights-services.ts'),
      import('../services/jobs/scheduler.ts'),
      import('../jobs/background-jobs.ts'),
      import('../services/retention/retention-sweep.ts'),
    ]);
  const opts = optionsFromEnv();
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2));
  let cfg;
  try {
    cfg = loadPrivacyConfig(opts.configPath ?? DEFAULT_CONFIG_PATH);
  } catch (err) {
    fail(err);
  }
  const { dbs, ring, audit } = await openExistingCore(opts).catch(fail);
  const segments = new SegmentService(dbs.store, { cfg, ring, logger });
  try {
    await segments.init();
  } catch (err) {
    await dbs.close();
    fail(err);
  }
  const sweepRights = rights.buildRightsServices({ db: dbs.store, ring, cfg, audit, segments, logger, mailer: opts.mailer, smtpUrl: opts.smtpUrl, mailFrom: opts.mailFrom, dataDir: opts.dataDir, publicUrl: opts.publicUrl ?? defaultPublicUrl() }).sweep;
  // The server's read cache is another process's: its entries expire on their own (docs/retention.md).
  const retention = new RetentionSweep({ db: dbs.store, ring, cfg, audit, segments, logger });
  // Intervals 0: nothing is scheduled here, the one job named runs once.
  const scheduler = new JobScheduler(dbs.store, { logger, leaseMs: opts.jobLeaseMs });
  scheduler.register(
    ...backgroundJobs({ audit, segments, sweepRights, sweepRetention: (o) => retention.run(o), logger }, { auditCheckpointMs: 0, segmentRefreshMs: 0, rightsSweepMs: 0, retentionSweepMs: 0 }),
  );
  return {
    scheduler,
    async close() {
      await scheduler.close();
      await segments.close();
      await dbs.close();
    },
  };
}

const when = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z'));
const countsText = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

function listLine(j: JobView): string {
  const last = j.lastRun ? `${j.lastRun.outcome} at ${when(j.lastRun.finishedAt)} in ${j.lastRun.durationMs} ms${j.lastRun.error ? ` (${j.lastRun.error})` : ''}` : 'never run';
  return `${j.name.padEnd(18)} ${j.leased ? 'running  ' : '         '} last: ${last}; next: ${when(j.nextRunAt)}\n  ${j.description}`;
}

function summary(r: JobRunResult): string {
  const counts = countsText(r.counts);
  return `${r.name}: ${r.outcome} in ${r.durationMs} ms${counts ? ` (${counts})` : ''}`;
}

export function registerJobCommands(program: Command, fail: (err: unknown) => never): void {
  const jobs = program.command('jobs').description('background jobs (docs/jobs.md)');
  jobs
    .command('list')
    .description('each background job with its last run (start, duration, outcome) and when it is next due')
    .action(async () => {
      const runner = await openRunner(fail);
      try {
        for (const j of await runner.scheduler.list()) process.stdout.write(`${listLine(j)}\n`);
      } catch (err) {
        fail(err);
      } finally {
        await runner.close();
      }
    });
  jobs
    .command('run')
    .description('run one background job now, once (taking its lease like the server does), and print its counts')
    .argument('<name>', 'the job (see `fiducia jobs list`)')
    .action(async (name: string) => {
      const [{ progressReporter }, { JOB_NAMES }, { didYouMean }] = await Promise.all([import('./progress.ts'), import('../jobs/background-jobs.ts'), import('../domain/edit-distance.ts')]);
      // Refused before any storage is opened: a typo must not create a data directory.
      if (!(JOB_NAMES as readonly string[]).includes(name)) fail(new Error(`no job "${name}"${didYouMean(name, JOB_NAMES)}; jobs: ${JOB_NAMES.join(', ')}`));
      const runner = await openRunner(fail);
      const progress = progressReporter(`jobs run ${name}`, 'items');
      let result: JobRunResult;
      try {
        process.stderr.write(`running ${name}…\n`);
        result = await runner.scheduler.runOnce(name, (done, total) => progress.update(done, total));
        progress.stop(result.outcome === 'ok');
      } catch (err) {
        progress.stop(false);
        fail(err);
      } finally {
        await runner.close();
      }
      if (result.outcome === 'busy') fail(new Error(`${name} is running in another process (it holds the job's lease); try again when it has finished`));
      if (result.outcome === 'failed') fail(new Error(`${name} failed (${result.error ?? 'error'}); see the log above`));
      process.stdout.write(`${summary(result)}\n`);
    });
}
