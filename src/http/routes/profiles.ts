// Purpose-bound profile reads: GET /api/v1/profiles/:identity?purpose=P and its paged events.
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseIdentityRef, type IdentityRef } from '../../domain/identity.ts';
import type { ProfileCaller } from '../../services/profiles/profiles.ts';
import { authenticate, requirePurpose, requireRole, type Caller } from '../auth.ts';
import type { HttpContext } from '../context.ts';
import { FiduciaError } from '../errors.ts';

const Params = Type.Object({ identity: Type.String({ minLength: 3, maxLength: 600 }) });
const Query = Type.Object({ purpose: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
const EventsQuery = Type.Object(
  {
    purpose: Type.String({ minLength: 1, maxLength: 64 }),
    /** The id of the last event of the previous page. */
    cursor: Type.Optional(Type.String({ pattern: '^[0-9a-f-]{36}$' })),
    /** 1–500 (default 50); a string because query values are not coerced. */
    limit: Type.Optional(Type.String({ pattern: '^(500|[1-4][0-9]{2}|[1-9][0-9]?)$' })),
  },
  { additionalProperties: false },
);
const Withheld = Type.Array(Type.Object({ field: Type.String(), reason: Type.String() }), {
  description: "fields of the purpose's categories it may not see now (consent, objection, restriction, erasure), with the reason",
});
const OutsidePurpose = Type.Integer({
  minimum: 0,
  description: 'how many more fields are held whose category the purpose never covers; counted, never named',
});
const Consent = Type.Object({ status: Type.String(), noticeVersion: Type.String(), method: Type.String(), at: Type.String(), explicit: Type.Boolean() });
const Profile = Type.Object({
  subjectId: Type.String(),
  traits: Type.Record(Type.String(), Type.Unknown()),
  withheld: Withheld,
  withheldOutsidePurpose: OutsidePurpose,
  segments: Type.Array(Type.Unknown()),
  computed: Type.Record(Type.String(), Type.Unknown()),
  consents: Type.Record(Type.String(), Consent, { description: "the person's latest choice about the purpose read, if any; never other purposes'" }),
});
const EventsPage = Type.Object({
  subjectId: Type.String(),
  events: Type.Array(
    Type.Object({
      id: Type.String(),
      messageId: Type.String(),
      type: Type.String(),
      event: Type.Union([Type.String(), Type.Null()]),
      timestamp: Type.String(),
      properties: Type.Record(Type.String(), Type.Unknown()),
      context: Type.Record(Type.String(), Type.Unknown()),
      withheld: Withheld,
      withheldOutsidePurpose: OutsidePurpose,
    }),
  ),
  withheld: Type.Array(Type.Object({ id: Type.String(), reason: Type.String() }), {
    description: "events of the purpose's categories it may not see now, by id only",
  }),
  withheldOutsidePurpose: Type.Integer({ minimum: 0, description: 'events on this page whose category the purpose never covers; counted, not listed (an id carries its time)' }),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
const ErrorReply = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) }) });
const errors = { 400: ErrorReply, 401: ErrorReply, 403: ErrorReply, 404: ErrorReply };

export async function profileRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  // Authentication and the role check run before validation: no token is a 401, an analyst a 403, whatever the query.
  const callers = new WeakMap<FastifyRequest, Caller>();
  app.addHook('onRequest', async (req) => {
    const caller = await authenticate(req, ctx);
    // Analysts see aggregates only, never one person's profile.
    await requireRole(req, ctx, caller, ['admin', 'dpo', 'service']);
    callers.set(req, caller);
  });

  /** The checks every read makes before looking anyone up: known purpose, caller may act for it, well-formed identity. */
  const prepare = async (req: FastifyRequest, purpose: string, identity: string): Promise<{ caller: ProfileCaller; ref: IdentityRef }> => {
    const caller = callers.get(req)!;
    if (!ctx.cfg.purpose(purpose)) throw new FiduciaError('FIDUCIA_UNKNOWN_PURPOSE', `unknown purpose "${purpose}"`);
    await requirePurpose(req, ctx, caller, purpose);
    const ref = parseIdentityRef(identity);
    if (!ref) throw new FiduciaError('FIDUCIA_VALIDATION', 'identity must be userId:…, anonymousId:…, email:… or phone:…');
    return { caller: { tokenId: caller.tokenId, role: caller.role, purposes: caller.purposes }, ref };
  };

  app.get(
    '/api/v1/profiles/:identity',
    { schema: { operationId: 'getProfile', summary: 'Read one profile for a purpose: only what that purpose may see', tags: ['profiles'], security: [{ token: [] }], params: Params, querystring: Query, response: { 200: Profile, ...errors } } },
    async (req) => {
      const { identity } = req.params as Static<typeof Params>;
      const { purpose } = req.query as Static<typeof Query>;
      const { caller, ref } = await prepare(req, purpose, identity);
      return ctx.profiles.read(ref, purpose, caller);
    },
  );

  app.get(
    '/api/v1/profiles/:identity/events',
    { schema: { operationId: 'listProfileEvents', summary: 'Read one profile\'s events for a purpose', tags: ['profiles'], security: [{ token: [] }], params: Params, querystring: EventsQuery, response: { 200: EventsPage, ...errors } } },
    async (req) => {
      const { identity } = req.params as Static<typeof Params>;
      const q = req.query as Static<typeof EventsQuery>;
      const { caller, ref } = await prepare(req, q.purpose, identity);
      return ctx.profiles.events(ref, q.purpose, caller, { cursor: q.cursor ?? null, limit: q.limit === undefined ? 50 : Number(q.limit) });
    },
  );
}
