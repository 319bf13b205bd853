// Signs and stores a checkpoint of the audit log every few seconds when it has grown, so a rewrite is caught later.
import type { Logger } from 'pino';
import type { AuditLog } from '../services/audit-log.ts';

export interface CheckpointJob {
  /** Signs one checkpoint now if the log grew since the last one. */
  tick(): Promise<void>;
  /** Stops the timer; `final` signs a last checkpoint of the head (a rewrite while stopped is caught at the next verify). */
  stop(final?: boolean): Promise<void>;
}

/** `intervalMs` ≤ 0 disables the timer (ticks can still be run by hand). */
export function startCheckpointJob(audit: AuditLog, intervalMs: number, logger: Logger): CheckpointJob {
  let running: Promise<void> | null = null;
  let stopped = false;
  const tick = async (): Promise<void> => {
    if (stopped) return;
    // checkpoint() stores a new one only when the head moved.
    running ??= audit
      .checkpoint()
      .then(() => undefined)
      .catch((err: unknown) => logger.error({ err: err instanceof Error ? err.message : String(err) }, 'audit checkpoint failed'))
      .finally(() => {
        running = null;
      });
    return running;
  };
  const timer = intervalMs > 0 ? setInterval(() => void tick(), intervalMs) : null;
  timer?.unref();
  return {
    tick,
    async stop(final = false) {
      if (timer) clearInterval(timer);
      await running;
      if (final && !stopped) await tick();
      stopped = true;
    },
  };
}
