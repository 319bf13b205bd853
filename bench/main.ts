// `npm run bench`: every benchmark suite in turn, each printing its figures beside a baseline measured in the same run.
// `npm run bench -- --suite ingest,reads` runs some; the ingestion suite's own flags follow (see bench/run.ts --help).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SUITES = ['ingest', 'reads', 'audit', 'rights', 'segments', 'retention', 'deliveries', 'exfiltration', 'debugger'] as const;
type Suite = (typeof SUITES)[number];

const argv = process.argv.slice(2);
const at = argv.indexOf('--suite');
const chosen = (at >= 0 ? (argv.splice(at, 2)[1] ?? '') : SUITES.join(',')).split(',').filter(Boolean);
const unknown = chosen.filter((s) => !(SUITES as readonly string[]).includes(s));
if (unknown.length > 0) {
  process.stderr.write(`unknown suite(s): ${unknown.join(', ')}; choose from ${SUITES.join(', ')}\n`);
  process.exit(1);
}
const log = (line: string): void => void process.stdout.write(`${line}\n`);

let failed = false;
for (const suite of chosen as Suite[]) {
  log(`\n######## ${suite}`);
  if (suite === 'ingest') {
    // Its own process: it has its own watchdog and command-line flags.
    const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./run.ts', import.meta.url)), ...argv], { stdio: 'inherit' });
    failed ||= r.status !== 0;
    continue;
  }
  try {
    const mod = (await import(`./${suite}.ts`)) as { run(log: (line: string) => void): Promise<void> };
    await mod.run(log);
  } catch (err) {
    failed = true;
    process.stderr.write(`bench ${suite} failed: ${(err as Error).stack ?? String(err)}\n`);
  }
}
process.exit(failed ? 1 : 0);
