// Runs the rights-request sweep every few minutes: package expiry, unconfirmed requests, interrupted erasures.
import type { Logger } from 'pino';
import type { SweepReport } from '../services/rights-sweep.ts';

export interface RightsSweepJob {
  tick(): Promise<SweepReport | null>;
  stop(): Promise<void>;
}

/** `intervalMs` ≤ 0 disables the timer (ticks can still be run by hand). Several instances may sweep: each step is idempotent. */
export function startRightsSweepJob(sweep: () => Promise<SweepReport>, intervalMs: number, logger: Logger): RightsSweepJob {
  let running: Promise<SweepReport | null> | null = null;
  let stopped = false;
  const tick = (): Promise<SweepReport | null> => {
    if (stopped) return Promise.resolve(null);
    running ??= sweep()
      .catch((err: unknown) => {
        // The name or code only: messages of mail and database errors can quote addresses.
        logger.error({ err: (err as { code?: string } | null)?.code ?? (err instanceof Error ? err.name : 'error') }, 'rights sweep failed');
        return null;
      })
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
