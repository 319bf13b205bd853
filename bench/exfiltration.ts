// What exfiltration detection adds to a read: `DisclosureMonitor.disclosed` (keyed hash, then two in-memory set
// insertions per window), against the keyed hash alone as the baseline, measured in the same run.
import { randomBytes, randomUUID } from 'node:crypto';
import { BlindIndexer } from '../src/crypto/blind-index.ts';
import { DEFAULT_DETECTION } from '../src/domain/privacy-config-detection.ts';
import { DisclosureMonitor } from '../src/services/exfiltration/disclosure-monitor.ts';

const READS = 150_000;

export async function run(log: (line: string) => void): Promise<void> {
  const index = new BlindIndexer(randomBytes(32));
  const keyOf = (subjectId: string): number => index.index('exfiltration-window', subjectId).readUIntBE(0, 6);
  // Thresholds out of reach: the loop measures the read path, never a merge (no database is opened).
  const settings = { ...DEFAULT_DETECTION, windows: DEFAULT_DETECTION.windows.map((w) => ({ ...w, subjects: 10_000_000 })) };
  const monitor = new DisclosureMonitor({ db: undefined as never, settings, keyOf, onCrossing: async () => undefined, onError: () => undefined });
  const ids = Array.from({ length: READS }, () => randomUUID());
  const principal = randomUUID();
  const time = (fn: (id: string) => unknown): number => {
    const t0 = process.hrtime.bigint();
    for (const id of ids) fn(id);
    return Number(process.hrtime.bigint() - t0) / READS / 1000;
  };
  time(keyOf); // warm-up
  const baseline = time(keyOf);
  const detector = time((id) => monitor.disclosed(principal, [id]));
  const repeat = time(() => monitor.disclosed(principal, [ids[0]!]));
  log(`keyed hash alone (baseline)          ${baseline.toFixed(2)} µs per read`);
  log(`disclosed(), ${READS} distinct subjects  ${detector.toFixed(2)} µs per read  (${(detector / baseline).toFixed(2)}× the baseline)`);
  log(`disclosed(), one subject again       ${repeat.toFixed(2)} µs per read  (${(repeat / baseline).toFixed(2)}× the baseline)`);
}
