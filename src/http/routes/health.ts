// Liveness and Prometheus metrics.
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { HttpContext } from '../context.ts';
import { FiduciaError } from '../errors.ts';

export async function healthRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  app.get(
    '/healthz',
    { schema: { operationId: 'getHealth', summary: 'Liveness: the process answers and its database is reachable', security: [], tags: ['operations'], response: { 200: Type.Object({ status: Type.Literal('ok') }) } } },
    async () => {
      try {
        await ctx.ping();
      } catch {
        throw new FiduciaError('FIDUCIA_UNAVAILABLE', 'storage does not answer');
      }
      return { status: 'ok' as const };
    },
  );
  app.get('/metrics', { schema: { tags: ['operations'], hide: true } }, async (_req, reply) => {
    reply.header('content-type', ctx.metrics.registry.contentType);
    return ctx.metrics.registry.metrics();
  });
}
