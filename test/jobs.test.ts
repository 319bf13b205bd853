// The job scheduler: runs recorded in the database and shown on /api/v1/jobs and /metrics, leases that keep two
// processes from running one job at once (and expire when their owner dies), and `fiducia jobs run` from the CLI.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { createFiducia, type Fiducia, type FiduciaOptions } from '../src/app.ts';
import { JOB_NAMES } from '../src/jobs/background-jobs.ts';
import { JobScheduler, type JobDefinition } from '../src/services/jobs/scheduler.ts';
import { JobRepo } from '../src/store/job-repo.ts';
import { ADMIN_TOKEN, eachDialect, startFiducia, cliEnv } from './helpers/harness.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const execFileP = promisify(execFile);
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const NO_TIMERS = { auditCheckpointSeconds: 0, segmentRefreshMs: 0, rightsSweepMs: 0 } as const;

async function cli(o: FiduciaOptions, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, env: cliEnv(o), timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** A job that records when each run enters and leaves, and yields a few times in between (so runs could overlap). */
function probe(intervalMs: number, log: { owner: string; enter: number; exit: number }[], owner: string): JobDefinition {
  return {
    name: 'probe',
    description: 'test job',
    intervalMs,
    async run(ctx) {
      const entry = { owner, enter: performance.now(), exit: Infinity };
      log.push(entry);
      for (let i = 0; i < 3; i++) {
        ctx.progress(i, 3);
        await sleep(1 + Math.floor(Math.random() * 4));
      }
      entry.exit = performance.now();
      return { steps: 3 };
    },
  };
}

function assertNoOverlap(log: { owner: string; enter: number; exit: number }[]): void {
  const sorted = [...log].sort((a, b) => a.enter - b.enter);
  for (let i = 1; i < sorted.length; i++) {
    assert.ok(sorted[i]!.enter >= sorted[i - 1]!.exit, `run ${i} (${sorted[i]!.owner}) entered before run ${i - 1} (${sorted[i - 1]!.owner}) left`);
  }
}

await eachDialect('jobs', (dialect) => {
  let f: Awaited<ReturnType<typeof startFiducia>>;
  before(async () => {
    f = await startFiducia(dialect, NO_TIMERS);
  });
  after(async () => {
    await f.stop();
  });

  it('registers the background jobs', () => {
    assert.deepEqual([...f.jobs.names()].sort(), [...JOB_NAMES].sort());
  });

  it('records a run (times, duration, counts) and shows it on GET /api/v1/jobs and /metrics', async () => {
    const r = await f.jobs.runOnce('rights-sweep');
    assert.equal(r.outcome, 'ok', `outcome ${r.outcome} ${r.error}`);
    assert.equal(r.counts.orphanKeysDeleted, 0);
    const res = await f.app.inject({ method: 'GET', url: '/api/v1/jobs', headers: bearer(ADMIN_TOKEN) });
    assert.equal(res.statusCode, 200, res.body);
    const jobs = (res.json() as { jobs: { name: string; leased: boolean; intervalMs: number; lastRun: { outcome: string; counts: Record<string, number>; durationMs: number; startedAt: string } | null }[] }).jobs;
    assert.deepEqual(jobs.map((j) => j.name).sort(), [...JOB_NAMES].sort());
    const sweep = jobs.find((j) => j.name === 'rights-sweep')!;
    assert.equal(sweep.lastRun?.outcome, 'ok');
    assert.deepEqual(sweep.lastRun?.counts, r.counts);
    assert.equal(sweep.lastRun?.durationMs, r.durationMs);
    assert.equal(sweep.lastRun?.startedAt, new Date(r.startedAt).toISOString());
    assert.equal(sweep.leased, false, 'the lease is released after the run');
    assert.equal(jobs.find((j) => j.name === 'segment-refresh')?.lastRun, null);
    const metrics = (await f.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /fiducia_job_runs_total\{job="rights-sweep",outcome="ok"\} 1/);
    assert.match(metrics, /fiducia_job_last_run_timestamp_seconds\{job="rights-sweep"\} \d/);
    assert.match(metrics, /fiducia_job_last_duration_seconds\{job="rights-sweep"\} \d/);
    assert.match(metrics, /fiducia_job_last_count\{job="rights-sweep",count="packagesExpired"\} 0/);
  });

  it('GET /api/v1/jobs is for admins only', async () => {
    const created = await f.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: bearer(ADMIN_TOKEN), payload: { name: 'dpo-jobs', role: 'dpo' } });
    assert.equal(created.statusCode, 201, created.body);
    const dpo = (created.json() as { token: string }).token;
    const refused = await f.app.inject({ method: 'GET', url: '/api/v1/jobs', headers: bearer(dpo) });
    assert.equal(refused.statusCode, 403);
    assert.equal((refused.json() as { error: { code: string } }).error.code, 'FIDUCIA_FORBIDDEN');
    assert.equal((await f.app.inject({ method: 'GET', url: '/api/v1/jobs' })).statusCode, 401);
    const openapi = (await f.app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, unknown> };
    assert.ok(openapi.paths['/api/v1/jobs'], 'the route is in the OpenAPI document');
  });

  it('refuses an unknown job with a suggestion', async () => {
    await assert.rejects(f.jobs.runOnce('rights-swep'), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'FIDUCIA_NOT_FOUND');
      assert.match(err.message, /did you mean "rights-sweep"/);
      return true;
    });
  });

  it('a failing job is recorded with its error code, not its message', async () => {
    let t = 1_000_000;
    const s = new JobScheduler(f.dbs.store, { now: () => t, owner: 'failing' });
    s.register({
      name: 'explodes',
      description: 'fails',
      intervalMs: 1000,
      run: async () => {
        throw Object.assign(new Error('mail to someone@example.com refused'), { code: 'EMAILREFUSED' });
      },
    });
    await s.start();
    t += 1000;
    const [r] = await s.tick();
    assert.equal(r?.outcome, 'failed');
    const [view] = (await s.list()).filter((j) => j.name === 'explodes');
    assert.equal(view?.lastRun?.error, 'EMAILREFUSED');
    assert.doesNotMatch(JSON.stringify(view), /example\.com/);
    await s.close();
  });

  it("a dead process's lease expires, and then another process takes the job", async () => {
    let t = 2_000_000;
    const log: { owner: string; enter: number; exit: number }[] = [];
    const s = new JobScheduler(f.dbs.store, { now: () => t, owner: 'alive', leaseMs: 30_000 });
    s.register({ ...probe(1000, log, 'alive'), name: 'lease-probe' });
    await s.start();
    // A process took the job, then died: its lease stays in the row.
    await new JobRepo(f.dbs.store).forceLease('lease-probe', 'dead', t + 30_000);
    t += 1000;
    assert.deepEqual(await s.tick(), [], 'a live lease is respected even when the job is due');
    assert.equal((await s.runOnce('lease-probe')).outcome, 'busy');
    assert.equal((await s.list()).find((j) => j.name === 'lease-probe')?.leased, true);
    t += 30_000;
    const [r] = await s.tick();
    assert.equal(r?.outcome, 'ok', 'the expired lease is taken over');
    assert.equal(log.length, 1);
    assert.equal((await s.list()).find((j) => j.name === 'lease-probe')?.leased, false);
    await s.close();
  });

  if (dialect === 'postgres') {
    describe('two processes on one database', () => {
      let g: Fiducia;
      before(async () => {
        g = await createFiducia({ ...f.store.options, ...NO_TIMERS });
      });
      after(async () => {
        await g.close();
      });

      it('never run the same job at once, and run a due job exactly once per due time', async () => {
        let t = 5_000_000;
        const clock = () => t;
        const log: { owner: string; enter: number; exit: number }[] = [];
        const a = new JobScheduler(f.dbs.store, { now: clock, owner: 'a' }).register(probe(1000, log, 'a'));
        const b = new JobScheduler(g.dbs.store, { now: clock, owner: 'b' }).register(probe(1000, log, 'b'));
        await a.start();
        await b.start();
        const rounds = 30;
        for (let round = 1; round <= rounds; round++) {
          t += 1000;
          // Both processes tick several times while the run is in progress.
          const ticks = [a.tick(), b.tick(), sleep(2).then(() => b.tick()), sleep(3).then(() => a.tick())];
          await Promise.all(ticks);
          assert.equal(log.length, round, `round ${round}: one run per due time`);
        }
        // Runs by hand from both at once: one runs, the other finds the lease held.
        for (let i = 0; i < 10; i++) {
          const outcomes = (await Promise.all([a.runOnce('probe'), b.runOnce('probe')])).map((r) => r.outcome).sort();
          assert.ok(outcomes.includes('ok'), `one of the two ran: ${outcomes.join()}`);
        }
        assertNoOverlap(log);
        assert.ok(new Set(log.map((e) => e.owner)).size === 2, `both processes ran the job at some point: ${log.map((e) => e.owner).join('')}`);
        await a.close();
        await b.close();
      });
    });
  }

  it('`fiducia jobs run <name>` prints a summary; an unknown name fails with a suggestion', async () => {
    const opts = f.store.options;
    const ok = await cli(opts, 'jobs', 'run', 'audit-checkpoint');
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^audit-checkpoint: ok in \d+ ms \(treeSize \d+\)\n$/);
    const listed = await cli(opts, 'jobs', 'list');
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /audit-checkpoint\s+last: ok at /);
    const views = await f.jobs.list();
    assert.equal(views.find((j) => j.name === 'audit-checkpoint')?.lastRun?.outcome, 'ok', 'the CLI run is recorded in the shared table');
    const bad = await cli(opts, 'jobs', 'run', 'audit-checkpiont');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /no job "audit-checkpiont" \(did you mean "audit-checkpoint"\?\)/);
  });
});
