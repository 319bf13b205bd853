// The console's overview (docs/console.md, "Overview"): aggregate figures only — messages per day by outcome, drops by
// reason, people known, consent rates per purpose, rights requests open and overdue. No person's data is in the answer,
// so a read is not a disclosure (no audit entry); admin, dpo and analyst may read it, service tokens may not.
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { requireRoleOnRequest } from '../auth.ts';
import type { HttpContext } from '../context.ts';

export const MAX_OVERVIEW_DAYS = 90;

const Query = Type.Object(
  {
    /** UTC days ending today, 1–90 (default 30); a string because query values are not coerced. */
    days: Type.Optional(Type.String({ pattern: '^([1-9]|[1-8][0-9]|90)$', description: 'UTC days ending today, 1–90 (default 30)' })),
  },
  { additionalProperties: false },
);
const Count = Type.Integer({ minimum: 0 });
const ByOutcome = {
  stored: Count,
  duplicate: Type.Integer({ minimum: 0, description: 'a messageId already collected for the source: nothing new stored' }),
  dropped: Type.Integer({ minimum: 0, description: 'whole messages not stored (see drops.messages for why)' }),
};
const Reason = Type.Object({ reason: Type.String({ description: 'a reason code (docs/debugger.md)' }), count: Count });
const Localized = Type.Object({ it: Type.String(), en: Type.String() });
const Overview = Type.Object({
  days: Type.Integer(),
  from: Type.String({ description: 'first UTC day of the range, YYYY-MM-DD' }),
  to: Type.String({ description: 'last UTC day of the range (today), YYYY-MM-DD' }),
  generatedAt: Type.String({ description: 'ISO 8601' }),
  daily: Type.Array(Type.Object({ day: Type.String(), ...ByOutcome, droppedFields: Type.Integer({ minimum: 0, description: 'fields not stored that day' }) }), {
    description: 'every UTC day of the range, oldest first, zeros included: messages received by outcome',
  }),
  types: Type.Array(Type.Object({ type: Type.String(), ...ByOutcome }), { description: 'totals over the range per message type' }),
  drops: Type.Object(
    {
      fields: Type.Array(Reason, { description: 'fields not stored, per reason, most frequent first' }),
      messages: Type.Array(Reason, { description: 'whole messages dropped, per reason, most frequent first' }),
      daily: Type.Array(Type.Object({ day: Type.String(), reason: Type.String(), count: Count }), { description: 'fields dropped per day and reason (days and reasons without drops left out), oldest first' }),
    },
    { description: 'fields and messages not stored: totals over the range, and fields per day' },
  ),
  subjects: Type.Object({ total: Type.Integer({ minimum: 0, description: 'profiles now: neither merged into another nor erased' }) }),
  consent: Type.Array(
    Type.Object({
      purpose: Type.String(),
      name: Localized,
      decided: Type.Integer({ minimum: 0, description: 'people whose decision for the purpose is in force' }),
      granted: Type.Integer({ minimum: 0 }),
      rate: Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()], { description: 'granted / decided; null when nobody decided' }),
    }),
    { description: 'purposes whose legal basis is consent, as now' },
  ),
  rights: Type.Object({
    open: Type.Integer({ minimum: 0, description: 'confirmed requests not yet completed or rejected' }),
    overdue: Type.Integer({ minimum: 0, description: 'of those, the ones past their due date' }),
    awaitingConfirmation: Type.Integer({ minimum: 0, description: 'self-service requests whose sender has not confirmed yet' }),
  }),
});
const ErrorReply = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) }) });

export async function overviewRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  // Token and role first, before validation: a caller without them learns nothing of the schema.
  requireRoleOnRequest(app, ctx, ['admin', 'dpo', 'analyst']);

  app.get(
    '/api/v1/overview',
    {
      schema: {
        operationId: 'getOverview',
        summary: 'Aggregate figures for the console: messages per day, drops by reason, profiles, consent rates, open rights requests',
        tags: ['overview'],
        security: [{ token: [] }],
        querystring: Query,
        response: { 200: Overview, 400: ErrorReply, 401: ErrorReply, 403: ErrorReply },
      },
    },
    async (req) => {
      const q = req.query as Static<typeof Query>;
      const o = await ctx.overview.overview(q.days === undefined ? 30 : Number(q.days));
      return { ...o, generatedAt: new Date(o.generatedAt).toISOString() };
    },
  );
}
