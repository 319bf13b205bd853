// The rights-request sweep every few minutes: package expiry, unconfirmed requests, interrupted erasures, orphan keys.
import type { JobDefinition } from '../services/jobs/scheduler.ts';
import type { SweepReport } from '../services/rights/rights-sweep.ts';

/** Each step of the sweep is idempotent; the scheduler's lease keeps two processes from sweeping at once anyway. */
export function rightsSweepJob(sweep: () => Promise<SweepReport>, intervalMs: number): JobDefinition {
  return {
    name: 'rights-sweep',
    description: 'expires access packages and unconfirmed requests, finishes interrupted erasures, deletes orphan keys',
    intervalMs,
    async run() {
      const { keystorePurged, ...counts } = await sweep();
      return { ...counts, keystorePurged: keystorePurged ? 1 : 0 };
    },
  };
}
