// Every background job of a Fiducia process, built from the services they drive: the server schedules them, the CLI
// runs one by hand.
import type { Logger } from 'pino';
import type { AuditLog } from '../services/audit/audit-log.ts';
import type { JobDefinition } from '../services/jobs/scheduler.ts';
import type { RetentionReport, SweepOptions } from '../services/retention/retention-sweep.ts';
import type { SweepReport } from '../services/rights/rights-sweep.ts';
import type { SegmentService } from '../services/segments/segments.ts';
import { auditCheckpointJob } from './audit-checkpoint.ts';
import { retentionJob } from './retention.ts';
import { rightsSweepJob } from './rights-sweep.ts';
import { segmentRefreshJob } from './segment-refresh.ts';

export interface BackgroundDeps {
  audit: AuditLog;
  segments: SegmentService;
  sweepRights(): Promise<SweepReport>;
  sweepRetention(opts: SweepOptions): Promise<RetentionReport>;
  logger: Logger;
}

/** Milliseconds between runs of each job; ≤ 0: not scheduled (runs by hand only). */
export interface BackgroundIntervals {
  auditCheckpointMs: number;
  segmentRefreshMs: number;
  rightsSweepMs: number;
  retentionSweepMs: number;
}

/** The jobs' names, known without building them (the CLI refuses an unknown name before opening any storage). */
export const JOB_NAMES = ['audit-checkpoint', 'retention', 'rights-sweep', 'segment-refresh'] as const;

export const DEFAULT_INTERVALS: BackgroundIntervals = { auditCheckpointMs: 60_000, segmentRefreshMs: 3_600_000, rightsSweepMs: 300_000, retentionSweepMs: 900_000 };

export function backgroundJobs(deps: BackgroundDeps, intervals: BackgroundIntervals = DEFAULT_INTERVALS): JobDefinition[] {
  return [
    auditCheckpointJob(deps.audit, intervals.auditCheckpointMs),
    retentionJob((opts) => deps.sweepRetention(opts), intervals.retentionSweepMs),
    rightsSweepJob(() => deps.sweepRights(), intervals.rightsSweepMs),
    segmentRefreshJob(deps.segments, intervals.segmentRefreshMs, deps.logger),
  ];
}
