// Small helpers shared by the benchmark suites.
import { readFileSync } from 'node:fs';
import pg from 'pg';

/** Whether a PostgreSQL server answers at `url` (a suite skips its PostgreSQL half when it does not). */
export async function pgReachable(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * CPU time all processes of this machine have spent so far, in µs: user, nice, system, irq and softirq of /proc/stat's
 * first line (clock ticks of 1/100 s, Linux's USER_HZ); idle, iowait and time stolen by the hypervisor are not ours.
 * NaN where there is no /proc/stat.
 */
export function machineBusyMicros(): number {
  try {
    const ticks = readFileSync('/proc/stat', 'utf8').slice(0, 200).split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = ticks;
    return (user + nice + system + irq + softirq) * 10_000;
  } catch {
    return NaN;
  }
}

/** What `injectBatches` needs of a Fiducia: its HTTP app, driven in-process. */
interface Injects {
  app: {
    inject(req: { method: 'POST'; url: string; headers: Record<string, string>; payload: unknown }): PromiseLike<{ statusCode: number; body: string; headers: Record<string, unknown> }>;
  };
}

/**
 * Posts batches to `/v1/batch` in-process, four at a time. A batch refused by backpressure (429) is sent again after its
 * Retry-After, as the SDKs do; any other refusal stops the run.
 */
export async function injectBatches(f: Injects, batches: readonly (readonly unknown[])[], headers: Record<string, string>, lanes = 4): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < batches.length) {
      const batch = batches[next++];
      for (;;) {
        const r = await f.app.inject({ method: 'POST', url: '/v1/batch', headers, payload: { batch } });
        if (r.statusCode === 200) break;
        if (r.statusCode !== 429) throw new Error(`batch refused: ${r.statusCode} ${r.body}`);
        await new Promise((resolve) => setTimeout(resolve, Number(r.headers['retry-after'] ?? 1) * 1000));
      }
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
}

/**
 * A suite run as a script (`npx tsx bench/<suite>.ts`): a watchdog gives up after `watchdogMs`, the process exits 0
 * when `work` resolves and 1 (with the stack) when it fails.
 */
export function runScript(name: string, watchdogMs: number, work: () => Promise<void>): void {
  const watchdog = setTimeout(() => {
    process.stderr.write(`${name}: still running after ${Math.round(watchdogMs / 1000)} s, giving up\n`);
    process.exit(2);
  }, watchdogMs);
  watchdog.unref();
  work().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
