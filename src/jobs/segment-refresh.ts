// Time windows make memberships decay without new events; windows are whole UTC days, so after each midnight one
// process (a compare-and-set lease in the database) re-evaluates every subject from its stored aggregates.
import type { Logger } from 'pino';
import type { SegmentService } from '../services/segments/segments.ts';
import { periodic } from './periodic.ts';

export interface SegmentRefreshJob {
  /** Runs the refresh now if today's has not run anywhere yet. */
  tick(): Promise<void>;
  stop(): Promise<void>;
}

/** Checks every `intervalMs` (≤ 0: no timer); the refresh itself runs at most once a day across all processes. */
export function startSegmentRefreshJob(segments: SegmentService, intervalMs: number, logger: Logger): SegmentRefreshJob {
  const job = periodic(
    async () => {
      if (await segments.refreshIfDue()) logger.info('segment memberships refreshed for the new day');
    },
    intervalMs,
    (err) => logger.error({ err: err instanceof Error ? err.message : String(err) }, 'segment refresh failed'),
  );
  return { tick: async () => void (await job.tick()), stop: () => job.stop() };
}
