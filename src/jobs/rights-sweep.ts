// Runs the rights-request sweep every few minutes: package expiry, unconfirmed requests, interrupted erasures.
import type { Logger } from 'pino';
import type { SweepReport } from '../services/rights/rights-sweep.ts';
import { periodic } from './periodic.ts';

export interface RightsSweepJob {
  tick(): Promise<SweepReport | null>;
  stop(): Promise<void>;
}

/** `intervalMs` ≤ 0 disables the timer (ticks can still be run by hand). Several instances may sweep: each step is idempotent. */
export function startRightsSweepJob(sweep: () => Promise<SweepReport>, intervalMs: number, logger: Logger): RightsSweepJob {
  const job = periodic(sweep, intervalMs, (err) => {
    // The name or code only: messages of mail and database errors can quote addresses.
    logger.error({ err: (err as { code?: string } | null)?.code ?? (err instanceof Error ? err.name : 'error') }, 'rights sweep failed');
  });
  return { tick: () => job.tick(), stop: () => job.stop() };
}
