// The retention sweep (docs/retention.md): every 15 minutes by default, so a withdrawal's data is gone within one interval.
import type { JobDefinition } from '../services/jobs/scheduler.ts';
import type { RetentionReport, SweepOptions } from '../services/retention/retention-sweep.ts';

export function retentionJob(sweep: (opts: SweepOptions) => Promise<RetentionReport>, intervalMs: number): JobDefinition {
  return {
    name: 'retention',
    description: 'deletes events and traits whose purposes have all expired or lost their basis; erases subjects left with nothing',
    intervalMs,
    async run(ctx) {
      return { ...(await sweep({ signal: ctx.signal, progress: (done) => ctx.progress(done) })) };
    },
  };
}
