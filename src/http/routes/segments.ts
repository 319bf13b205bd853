// Segments and computed traits: definitions (admin creates, everyone reads), and purpose-bound member listings and counts.
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { DefinitionView } from '../../services/segments/segments.ts';
import { authenticate, requirePurpose, requireRole, type Caller } from '../auth.ts';
import type { HttpContext } from '../context.ts';
import { FiduciaError } from '../errors.ts';

const Localized = Type.Object({ it: Type.String(), en: Type.String() });
const CreateBody = Type.Object(
  {
    key: Type.String({ minLength: 1, maxLength: 64 }),
    name: Type.Optional(Localized),
    description: Type.Optional(Localized),
    purpose: Type.String({ minLength: 1, maxLength: 64 }),
    condition: Type.Optional(Type.Unknown({ description: 'a segment: {trait, op, value} | {event, withinDays?, where?, count | sum} | {and} | {or} | {not} (docs/segments.md)' })),
    compute: Type.Optional(Type.Unknown({ description: 'a computed trait: {aggregate: count|sum|last|mostFrequent, event, property?, withinDays?, where?}' })),
  },
  { additionalProperties: false },
);
const Definition = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  purpose: Type.String(),
  name: Localized,
  description: Type.Optional(Localized),
  origin: Type.String(),
  status: Type.String(),
  definition: Type.Unknown(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const PurposeQuery = Type.Object({ purpose: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
const MembersQuery = Type.Object(
  {
    purpose: Type.String({ minLength: 1, maxLength: 64 }),
    /** The last subject id of the previous page. */
    cursor: Type.Optional(Type.String({ pattern: '^[0-9a-f-]{36}$' })),
    /** 1–1000 (default 100); a string because query values are not coerced. */
    limit: Type.Optional(Type.String({ pattern: '^(1000|[1-9][0-9]{0,2})$' })),
  },
  { additionalProperties: false },
);
const Count = Type.Object({
  id: Type.String(),
  purpose: Type.String(),
  /** null for an analyst when fewer than `belowMinimum` members have an identity a public key cannot create (docs/segments.md). */
  count: Type.Union([Type.Integer(), Type.Null()]),
  aggregateOnly: Type.Optional(Type.Boolean()),
  belowMinimum: Type.Optional(Type.Integer()),
});
const Members = Type.Object({
  id: Type.String(),
  purpose: Type.String(),
  /** Analysts get the count only (`aggregateOnly`), never subject ids; null below `belowMinimum`. */
  count: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  aggregateOnly: Type.Optional(Type.Boolean()),
  belowMinimum: Type.Optional(Type.Integer()),
  members: Type.Optional(Type.Array(Type.Object({ subjectId: Type.String(), since: Type.String() }))),
  nextCursor: Type.Optional(Type.Union([Type.String(), Type.Null()])),
});
const ErrorReply = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) }) });
const errors = { 400: ErrorReply, 401: ErrorReply, 403: ErrorReply, 404: ErrorReply };

/** Smallest vouched member count behind a count shown to an analyst (src/domain/aggregate-disclosure.ts). */
export { ANALYST_MINIMUM_COUNT } from '../../domain/aggregate-disclosure.ts';

export async function segmentRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  // Authentication runs before validation: no token is a 401 whatever the request.
  const callers = new WeakMap<FastifyRequest, Caller>();
  app.addHook('onRequest', async (req) => {
    callers.set(req, await authenticate(req, ctx));
  });
  const callerOf = (req: FastifyRequest): Caller => callers.get(req)!;
  definitionRoutes(app, ctx, callerOf);
  memberRoutes(app, ctx, callerOf);
}

type CallerOf = (req: FastifyRequest) => Caller;

const visible = (caller: Caller, d: DefinitionView) => caller.role !== 'service' || caller.purposes.includes(d.purpose);

function find(ctx: HttpContext, id: string): DefinitionView {
  const d = ctx.segments.definition(id);
  if (!d) throw new FiduciaError('FIDUCIA_NOT_FOUND', `no segment or computed trait "${id}"`);
  return d;
}

/** The definitions: admins create and delete them, everyone lists and reads those of purposes they may see. */
function definitionRoutes(app: FastifyInstance, ctx: HttpContext, callerOf: CallerOf): void {
  app.post(
    '/api/v1/segments',
    {
      bodyLimit: 64 * 1024,
      // The role is checked before the body's schema: a non-admin caller gets 403 whatever it sends.
      preValidation: async (req) => requireRole(req, ctx, callerOf(req), ['admin']),
      schema: { operationId: 'createSegment', summary: 'Define a segment', tags: ['segments'], security: [{ token: [] }], body: CreateBody, response: { 201: Definition, ...errors, 409: ErrorReply } },
    },
    async (req, reply) => {
      const caller = callerOf(req);
      await requireRole(req, ctx, caller, ['admin']);
      const created = await ctx.segments.create(req.body);
      await ctx.audit.record([
        { actor: caller.tokenId, action: 'segment.create', purpose: created.purpose, outcome: 'ok', details: { segment: created.id, kind: created.kind } },
      ]);
      return reply.status(201).send(created);
    },
  );

  app.get('/api/v1/segments', { schema: { operationId: 'listSegments', summary: 'List segment definitions', tags: ['segments'], security: [{ token: [] }], response: { 200: Type.Object({ segments: Type.Array(Definition) }), 401: ErrorReply } } }, async (req) => {
    const caller = callerOf(req);
    return { segments: ctx.segments.definitions().filter((d) => visible(caller, d)) };
  });

  app.get('/api/v1/segments/:id', { schema: { operationId: 'getSegment', summary: 'One segment definition', tags: ['segments'], security: [{ token: [] }], params: IdParams, response: { 200: Definition, ...errors } } }, async (req) => {
    const caller = callerOf(req);
    const d = find(ctx, (req.params as Static<typeof IdParams>).id);
    if (!visible(caller, d)) await requirePurpose(req, ctx, caller, d.purpose);
    return d;
  });

  app.delete('/api/v1/segments/:id', { schema: { operationId: 'deleteSegment', summary: 'Delete a segment', tags: ['segments'], security: [{ token: [] }], params: IdParams, response: { ...errors, 409: ErrorReply } } }, async (req, reply) => {
    const caller = callerOf(req);
    await requireRole(req, ctx, caller, ['admin']);
    const { id } = req.params as Static<typeof IdParams>;
    await ctx.segments.remove(id);
    await ctx.audit.record([{ actor: caller.tokenId, action: 'segment.delete', outcome: 'ok', details: { segment: id } }]);
    return reply.status(204).send();
  });
}

/** A segment's members and their count, for one purpose the segment serves (analysts: the count only). */
function memberRoutes(app: FastifyInstance, ctx: HttpContext, callerOf: CallerOf): void {
  app.get(
    '/api/v1/segments/:id/count',
    { schema: { operationId: 'countSegment', summary: 'How many people a segment holds, for a purpose (small counts are not shown exactly)', tags: ['segments'], security: [{ token: [] }], params: IdParams, querystring: PurposeQuery, response: { 200: Count, ...errors } } },
    async (req) => {
      const caller = callerOf(req);
      const { purpose } = req.query as Static<typeof PurposeQuery>;
      const d = await purposeBound(ctx, req, caller, (req.params as Static<typeof IdParams>).id, purpose, true);
      return count(ctx, caller, d, purpose);
    },
  );

  app.get(
    '/api/v1/segments/:id/members',
    { schema: { operationId: 'listSegmentMembers', summary: 'A segment\'s members, for a purpose', tags: ['segments'], security: [{ token: [] }], params: IdParams, querystring: MembersQuery, response: { 200: Members, ...errors } } },
    async (req) => {
      const caller = callerOf(req);
      const q = req.query as Static<typeof MembersQuery>;
      const d = await purposeBound(ctx, req, caller, (req.params as Static<typeof IdParams>).id, q.purpose, true);
      // Analysts see aggregates only: the same question answers with a count, never with subject ids.
      if (caller.role === 'analyst') return count(ctx, caller, d, q.purpose);
      const page = await ctx.segments.members(d.id, q.cursor ?? null, q.limit === undefined ? 100 : Number(q.limit));
      // A member listing is a read of personal data (pseudonymous ids): one audit entry per page.
      await ctx.audit.record([
        {
          actor: caller.tokenId,
          action: 'segment.members',
          purpose: q.purpose,
          counts: { returned: page.members.length },
          outcome: 'ok',
          // With the cursor, the range of ids the page held: what the token was shown can be listed back (subjects-read).
          details: { segment: d.id, role: caller.role, cursor: q.cursor ?? null, through: page.members[page.members.length - 1]?.subjectId ?? null },
        },
      ]);
      // Each member's id is a disclosure: the page counts towards the token's exfiltration windows.
      await ctx.exfiltration.disclosed(caller.tokenId, page.members.map((m) => m.subjectId));
      return { id: d.id, purpose: q.purpose, members: page.members, nextCursor: page.nextCursor };
    },
  );
}

/** Purpose known, caller may act for it (analysts: aggregates only), segment exists, serves that purpose and has members. */
async function purposeBound(ctx: HttpContext, req: FastifyRequest, caller: Caller, id: string, purpose: string, aggregate: boolean): Promise<DefinitionView> {
  if (!ctx.cfg.purpose(purpose)) throw new FiduciaError('FIDUCIA_UNKNOWN_PURPOSE', `unknown purpose "${purpose}"`);
  if (!(aggregate && caller.role === 'analyst')) await requirePurpose(req, ctx, caller, purpose);
  const d = find(ctx, id);
  if (d.purpose !== purpose) {
    const route = req.routeOptions.url ?? 'unmatched';
    await ctx.audit.record([
      { actor: caller.tokenId, action: 'authz.denied', purpose, outcome: 'denied', details: { route, role: caller.role, reason: 'segment_purpose_mismatch', segment: id } },
    ]);
    throw new FiduciaError('FIDUCIA_PURPOSE_NOT_ALLOWED', `segment "${id}" serves purpose "${d.purpose}", not "${purpose}"`, { reason: 'segment_purpose_mismatch', purpose: d.purpose });
  }
  if (d.kind !== 'segment') throw new FiduciaError('FIDUCIA_VALIDATION', `"${id}" is a computed trait: it has values on profiles, not members`);
  // The configuration changed under it (e.g. a shorter retention): its memberships are no longer maintained.
  if (d.status === 'invalid') throw new FiduciaError('FIDUCIA_SEGMENT_CONFLICT', `"${id}" is not valid under the current privacy configuration; redefine it`);
  return d;
}

/** The member count as the caller may see it, on record. */
async function count(ctx: HttpContext, caller: Caller, d: DefinitionView, purpose: string) {
  if (caller.role !== 'analyst') {
    const n = await ctx.segments.count(d.id);
    await ctx.audit.record([{ actor: caller.tokenId, action: 'segment.count', purpose, counts: { members: n }, outcome: 'ok', details: { segment: d.id, role: caller.role } }]);
    return { id: d.id, purpose, count: n };
  }
  // A small group points at people, and anyone can add members through a public key: the threshold counts only
  // members a stranger cannot create, and below it an analyst learns only that it is below.
  const a = await ctx.segments.analystCount(d.id);
  await ctx.audit.record([
    { actor: caller.tokenId, action: 'segment.count', purpose, counts: { members: a.members, vouched: a.vouched }, outcome: 'ok', details: { segment: d.id, role: caller.role, shown: a.shown.count !== null } },
  ]);
  return { id: d.id, purpose, ...a.shown };
}
