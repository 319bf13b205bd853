// Destinations: the configured receivers and their outboxes (GET for admin and dpo), and the replay of dead letters
// (admin). Deliveries show status, attempts and the last error code, never a value.
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { requireRoleOnRequest } from '../auth.ts';
import type { HttpContext } from '../context.ts';

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());
const NullableTime = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
const Status = Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('skipped'), Type.Literal('dead')]);
const Id = Type.String({ pattern: '^[a-z][a-z0-9_-]{0,62}$' });
const DeliveryId = Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$' });
const ErrorReply = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) }) });
const Transfer = Type.Union([Type.Object({ basis: Type.String(), derogation: Type.Optional(Type.String()), reference: Type.Optional(Type.String()) }), Type.Null()]);
const DestinationInfo = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  name: Type.String(),
  recipientKind: Type.String(),
  purposes: Type.Array(Type.String()),
  categories: Type.Union([Type.Array(Type.String()), Type.Null()]),
  endpointOrigin: Type.String(),
  country: Type.String(),
  transfer: Transfer,
  allowPrivateNetwork: Type.Boolean(),
  deliveries: Type.Object({ pending: Type.Integer(), delivered: Type.Integer(), skipped: Type.Integer(), dead: Type.Integer() }),
});
const Delivery = Type.Object({
  id: Type.String(),
  subjectId: Type.String(),
  kind: Type.String(),
  status: Type.String(),
  attempts: Type.Integer({ minimum: 0 }),
  nextAttemptAt: NullableTime,
  lastStatus: Type.Union([Type.Integer(), Type.Null()]),
  /** A code (`http_503`, `timeout`, `blocked_address`) or, when skipped, the policy's reason: never a value. */
  lastError: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  finishedAt: NullableTime,
});
const ListQuery = Type.Object(
  { status: Type.Optional(Status), before: Type.Optional(DeliveryId), limit: Type.Optional(Type.String({ pattern: '^(500|[1-4][0-9]{0,2}|[5-9][0-9]?)$' })) },
  { additionalProperties: false },
);
const ReplayBody = Type.Union([
  Type.Object({ ids: Type.Optional(Type.Array(DeliveryId, { minItems: 1, maxItems: 1000 })) }, { additionalProperties: false }),
  Type.Null(),
]);

export async function destinationRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  requireRoleOnRequest(app, ctx, ['admin', 'dpo']);

  app.get(
    '/api/v1/destinations',
    { schema: { operationId: 'listDestinations', summary: 'Configured destinations and their delivery counts', tags: ['destinations'], security: [{ token: [] }], response: { 200: Type.Object({ destinations: Type.Array(DestinationInfo) }), 401: ErrorReply, 403: ErrorReply } } },
    async () => ({ destinations: await ctx.destinations.list() }),
  );

  app.get<{ Params: { id: string }; Querystring: Static<typeof ListQuery> }>(
    '/api/v1/destinations/:id/deliveries',
    {
      schema: {
        operationId: 'listDeliveries', summary: 'Deliveries of one destination, by status',
        tags: ['destinations'],
        security: [{ token: [] }],
        params: Type.Object({ id: Id }),
        querystring: ListQuery,
        response: { 200: Type.Object({ deliveries: Type.Array(Delivery), next: Type.Union([Type.String(), Type.Null()]) }), 400: ErrorReply, 401: ErrorReply, 403: ErrorReply, 404: ErrorReply },
      },
    },
    async (req) => {
      const page = await ctx.destinations.deliveries(req.params.id, { status: req.query.status, beforeId: req.query.before, limit: req.query.limit === undefined ? 50 : Number(req.query.limit) });
      return {
        next: page.next,
        deliveries: page.deliveries.map((d) => ({
          id: d.id,
          subjectId: d.subject_id,
          kind: d.kind,
          status: d.status,
          attempts: Number(d.attempts),
          nextAttemptAt: d.status === 'pending' ? iso(d.next_attempt_at) : null,
          lastStatus: d.last_status === null ? null : Number(d.last_status),
          lastError: d.last_error,
          createdAt: iso(d.created_at)!,
          finishedAt: iso(d.finished_at),
        })),
      };
    },
  );
}

/** Replaying sends data again: admin only (checked before the body is read, in a module of its own). */
export async function destinationReplayRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  const callerOf = requireRoleOnRequest(app, ctx, ['admin']);

  app.post<{ Params: { id: string }; Body: Static<typeof ReplayBody> }>(
    '/api/v1/destinations/:id/replay',
    {
      schema: {
        operationId: 'replayDeliveries', summary: 'Send dead-lettered deliveries again',
        tags: ['destinations'],
        security: [{ token: [] }],
        params: Type.Object({ id: Id }),
        body: ReplayBody,
        response: { 200: Type.Object({ replayed: Type.Integer({ minimum: 0 }) }), 400: ErrorReply, 401: ErrorReply, 403: ErrorReply, 404: ErrorReply },
      },
    },
    async (req) => ({ replayed: await ctx.destinations.replay(req.params.id, req.body?.ids, callerOf(req).tokenId) }),
  );
}
