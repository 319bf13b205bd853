// Time windows make memberships decay without new events; windows are whole UTC days, so after each midnight one
// process (a compare-and-set on the refreshed day, beside the job's lease) re-evaluates every subject.
import type { Logger } from 'pino';
import type { JobDefinition } from '../services/jobs/scheduler.ts';
import type { SegmentService } from '../services/segments/segments.ts';

/** Checks every `intervalMs`; the refresh itself runs at most once a day across all processes. */
export function segmentRefreshJob(segments: SegmentService, intervalMs: number, logger: Logger): JobDefinition {
  return {
    name: 'segment-refresh',
    description: "re-evaluates segment memberships once a day, when time windows move on",
    intervalMs,
    async run(ctx) {
      const refreshed = await segments.refreshIfDue((done, total) => ctx.progress(done, total));
      if (refreshed) logger.info('segment memberships refreshed for the new day');
      return { refreshed: refreshed ? 1 : 0 };
    },
  };
}
