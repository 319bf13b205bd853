// Signs and stores a checkpoint of the audit log every few seconds when it has grown, so a rewrite is caught later.
import type { Logger } from 'pino';
import type { AuditLog } from '../services/audit/audit-log.ts';
import type { JobDefinition } from '../services/jobs/scheduler.ts';
import { periodic } from './periodic.ts';

/** The scheduler's job: one checkpoint of the head, stored only if the log grew since the last one. */
export function auditCheckpointJob(audit: AuditLog, intervalMs: number): JobDefinition {
  return {
    name: 'audit-checkpoint',
    description: 'signs a checkpoint of the audit log when it has grown',
    intervalMs,
    async run() {
      const cp = await audit.checkpoint();
      return { treeSize: cp.treeSize };
    },
  };
}

export interface CheckpointJob {
  /** Signs one checkpoint now if the log grew since the last one. */
  tick(): Promise<void>;
  /** Stops the timer; `final` signs a last checkpoint of the head (a rewrite while stopped is caught at the next verify). */
  stop(final?: boolean): Promise<void>;
}

/**
 * A timer of its own, outside the scheduler (for a process that runs no scheduler; the server uses the job above).
 * `intervalMs` ≤ 0 disables the timer (ticks can still be run by hand).
 */
export function startCheckpointJob(audit: AuditLog, intervalMs: number, logger: Logger): CheckpointJob {
  // checkpoint() stores a new one only when the head moved.
  const job = periodic(
    async () => void (await audit.checkpoint()),
    intervalMs,
    (err) => logger.error({ err: err instanceof Error ? err.message : String(err) }, 'audit checkpoint failed'),
  );
  return { tick: async () => void (await job.tick()), stop: (final = false) => job.stop(final) };
}
