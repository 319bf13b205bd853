// Time windows make memberships decay without new events; windows are whole UTC days, so after each midnight one
// process (a compare-and-set lease in the database) re-evaluates every subject from its stored aggregates.
import type { Logger } from 'pino';
import type { SegmentService } from '../services/segments.ts';

export interface SegmentRefreshJob {
  /** Runs the refresh now if today's has not run anywhere yet. */
  tick(): Promise<void>;
  stop(): Promise<void>;
}

/** Checks every `intervalMs` (≤ 0: no timer); the refresh itself runs at most once a day across all processes. */
export function startSegmentRefreshJob(segments: SegmentService, intervalMs: number, logger: Logger): SegmentRefreshJob {
  let running: Promise<void> | null = null;
  let stopped = false;
  const tick = (): Promise<void> => {
    if (stopped) return Promise.resolve();
    running ??= segments
      .refreshIfDue()
      .then((ran) => {
        if (ran) logger.info('segment memberships refreshed for the new day');
      })
      .catch((err: unknown) => logger.error({ err: err instanceof Error ? err.message : String(err) }, 'segment refresh failed'))
      .finally(() => {
        running = null;
      });
    return running;
  };
  const timer = intervalMs > 0 ? setInterval(() => void tick(), intervalMs) : null;
  timer?.unref();
  return {
    tick,
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      await running;
    },
  };
}
