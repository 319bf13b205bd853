// Background jobs: what runs, how often, and how each one's last run went (times, duration, counts). Admin only.
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { requireRoleOnRequest } from '../auth.ts';
import type { HttpContext } from '../context.ts';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const NullableTime = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
const JobInfo = Type.Object({
  name: Type.String(),
  description: Type.String(),
  /** This process's interval; 0: not scheduled here (the job runs by hand, or in a process that schedules it). */
  intervalMs: Type.Integer({ minimum: 0 }),
  nextRunAt: NullableTime,
  /** Whether a process holds the job's lease now, i.e. it is running somewhere. */
  leased: Type.Boolean(),
  lastRun: Type.Union([
    Type.Object({
      startedAt: Type.String({ format: 'date-time' }),
      finishedAt: Type.String({ format: 'date-time' }),
      durationMs: Type.Integer({ minimum: 0 }),
      outcome: Type.String(),
      counts: Type.Record(Type.String(), Type.Number()),
      /** An error code or class name, never a message. */
      error: Type.Union([Type.String(), Type.Null()]),
    }),
    Type.Null(),
  ]),
});
const ErrorReply = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) }) });

export async function jobRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  requireRoleOnRequest(app, ctx, ['admin']);

  app.get(
    '/api/v1/jobs',
    { schema: { operationId: 'listJobs', summary: 'Scheduled jobs and their last runs', tags: ['jobs'], security: [{ token: [] }], response: { 200: Type.Object({ jobs: Type.Array(JobInfo) }), 401: ErrorReply, 403: ErrorReply } } },
    async () => {
      const jobs = await ctx.jobs.list();
      return {
        jobs: jobs.map((j) => ({
          ...j,
          nextRunAt: iso(j.nextRunAt),
          lastRun: j.lastRun && { ...j.lastRun, startedAt: iso(j.lastRun.startedAt), finishedAt: iso(j.lastRun.finishedAt) },
        })),
      };
    },
  );
}
