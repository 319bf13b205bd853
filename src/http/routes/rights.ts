// Rights requests for staff (dpo/admin): create, list, read, export packages, extend, reject, process, lift a restriction, legal holds.
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseIdentityRef, type IdentityRef } from '../../domain/identity.ts';
import { REJECTION_REASONS, RIGHTS_STATUSES, RIGHTS_TYPES } from '../../domain/rights.ts';
import type { ExportFormat, RequestView } from '../../services/rights/rights.ts';
import { authenticate, requireRole, type Caller } from '../auth.ts';
import type { HttpContext } from '../context.ts';
import { documentCsp } from '../security-headers.ts';
import { FiduciaError } from '../errors.ts';

const literals = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)));
const Lang = literals(['it', 'en'] as const);
const Id = Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' }) });
const IdentityParam = Type.Object({ identity: Type.String({ minLength: 3, maxLength: 600 }) });
const Traits = Type.Record(Type.String({ minLength: 1, maxLength: 100 }), Type.Unknown(), { maxProperties: 50 });
const Purposes = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 20 });

const CreateBody = Type.Object(
  {
    type: literals(RIGHTS_TYPES),
    /** `userId:…`, `anonymousId:…`, `email:…` or `phone:…`. */
    identity: Type.String({ minLength: 3, maxLength: 600 }),
    language: Type.Optional(Lang),
    details: Type.Optional(Type.String({ maxLength: 4000 })),
    /** Objection: the purposes objected to (default: the direct-marketing ones). */
    purposes: Type.Optional(Purposes),
    /** Rectification: trait name → corrected value (null removes it). */
    traits: Type.Optional(Traits),
    /** Erasure: also drop later events carrying the same identifiers (blind indexes only are kept). */
    suppress: Type.Optional(Type.Boolean()),
    /** When the request reached the controller, if earlier than now (the deadline runs from receipt). */
    receivedAt: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);
type CreateBody = Static<typeof CreateBody>;

const ListQuery = Type.Object(
  {
    status: Type.Optional(literals(RIGHTS_STATUSES)),
    type: Type.Optional(literals(RIGHTS_TYPES)),
    overdue: Type.Optional(literals(['true', 'false'] as const)),
    limit: Type.Optional(Type.String({ pattern: '^(500|[1-4][0-9]{2}|[1-9][0-9]?)$' })),
    before: Type.Optional(Type.String({ pattern: '^[0-9a-f-]{36}$' })),
  },
  { additionalProperties: false },
);
type ListQuery = Static<typeof ListQuery>;
const ExportQuery = Type.Object({ format: Type.Optional(literals(['json', 'html', 'csv'] as const)), lang: Type.Optional(Lang) }, { additionalProperties: false });
type ExportQuery = Static<typeof ExportQuery>;
const ExtendBody = Type.Object({ months: Type.Integer({ minimum: 1, maximum: 2 }), reason: Type.String({ minLength: 1, maxLength: 2000 }) }, { additionalProperties: false });
const RejectBody = Type.Object({ reason: literals(REJECTION_REASONS), note: Type.Optional(Type.String({ maxLength: 2000 })) }, { additionalProperties: false });
const ProcessBody = Type.Object({ traits: Type.Optional(Traits), purposes: Type.Optional(Purposes) }, { additionalProperties: false });
const LiftBody = Type.Object({ reason: Type.String({ minLength: 1, maxLength: 2000 }) }, { additionalProperties: false });
const HoldBody = Type.Object({ reason: Type.String({ minLength: 1, maxLength: 2000 }) }, { additionalProperties: false });

const Accepted = Type.Object({ id: Type.String(), status: Type.String(), dueAt: Type.String() });
const ErrorReply = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) }) });
const errors = { 400: ErrorReply, 401: ErrorReply, 403: ErrorReply, 404: ErrorReply, 409: ErrorReply };

function identityOf(text: string): IdentityRef {
  const ref = parseIdentityRef(text);
  if (!ref) throw new FiduciaError('FIDUCIA_VALIDATION', 'identity must be userId:…, anonymousId:…, email:… or phone:… with a valid value');
  return ref;
}

export async function rightsRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  const callers = new WeakMap<FastifyRequest, Caller>();
  app.addHook('onRequest', async (req) => {
    const caller = await authenticate(req, ctx);
    await requireRole(req, ctx, caller, ['admin', 'dpo']);
    callers.set(req, caller);
  });
  const actor = (req: FastifyRequest) => callers.get(req)!.tokenId;
  requestRoutes(app, ctx, actor);
  legalHoldRoutes(app, ctx, actor);
}

const tags = ['rights'];
const security = [{ token: [] }];

/** The checks of a staff request that its schema cannot express: known purposes, and fields only where the type uses them. */
function checkCreateBody(ctx: HttpContext, body: CreateBody): void {
  for (const p of body.purposes ?? []) if (!ctx.cfg.purpose(p)) throw new FiduciaError('FIDUCIA_UNKNOWN_PURPOSE', `unknown purpose "${p}"`);
  if (body.purposes && body.type !== 'objection') throw new FiduciaError('FIDUCIA_VALIDATION', 'purposes apply to objection requests only');
  if (body.traits && body.type !== 'rectification') throw new FiduciaError('FIDUCIA_VALIDATION', 'traits apply to rectification requests only');
  if (body.type === 'rectification' && Object.keys(body.traits ?? {}).length === 0) throw new FiduciaError('FIDUCIA_VALIDATION', 'a rectification needs traits: {name: corrected value}');
  if (body.suppress !== undefined && body.type !== 'erasure') throw new FiduciaError('FIDUCIA_VALIDATION', 'suppress applies to erasure requests only');
}

/** Rights requests: create, list, read, export the package, extend, reject, process, lift a restriction. */
function requestRoutes(app: FastifyInstance, ctx: HttpContext, actor: (req: FastifyRequest) => string): void {
  const view = async (fn: () => Promise<{ id: string }>): Promise<RequestView> => ctx.rights.get((await fn()).id);

  app.post('/api/v1/rights-requests', { bodyLimit: 64 * 1024, schema: { operationId: 'createRightsRequest', summary: 'Open a rights request on behalf of a data subject', tags, security, body: CreateBody, response: { 202: Accepted, ...errors } } }, async (req, reply) => {
    const body = req.body as CreateBody;
    const identity = identityOf(body.identity);
    checkCreateBody(ctx, body);
    const receivedAt = body.receivedAt === undefined ? undefined : Date.parse(body.receivedAt);
    const row = await ctx.rights
      .createStaff(
        { type: body.type, identity, language: body.language ?? (ctx.cfg.config.languages[0] ?? 'en'), details: body.details, purposes: body.purposes, traits: body.traits, suppress: body.suppress, receivedAt },
        actor(req),
      );
    return reply.status(202).send({ id: row.id, status: row.status, dueAt: new Date(Number(row.due_at)).toISOString() });
  });

  app.get('/api/v1/rights-requests', { schema: { operationId: 'listRightsRequests', summary: 'List rights requests with their due dates', tags, security, querystring: ListQuery } }, async (req) => {
    const q = req.query as ListQuery;
    const limit = Number(q.limit ?? 100);
    const requests = await ctx.rights.list({ status: q.status, type: q.type, overdue: q.overdue === 'true', limit, before: q.before });
    return { requests, next: requests.length === limit ? (requests[requests.length - 1]?.id ?? null) : null };
  });

  app.get('/api/v1/rights-requests/:id', { schema: { operationId: 'getRightsRequest', summary: 'One rights request and its history', tags, security, params: Id } }, async (req) => {
    const { id } = req.params as Static<typeof Id>;
    return ctx.rights.get(id);
  });

  app.get('/api/v1/rights-requests/:id/export', { schema: { operationId: 'exportRightsRequest', summary: 'The access or portability package of a request', tags, security, params: Id, querystring: ExportQuery } }, async (req, reply: FastifyReply) => {
    const { id } = req.params as Static<typeof Id>;
    const q = req.query as ExportQuery;
    const out = await ctx.rights.exportPackage(id, (q.format ?? 'json') as ExportFormat, q.lang, actor(req));
    // The HTML package may use only its own stylesheet; JSON and CSV keep the default CSP (security-headers.ts).
    if (out.contentType.startsWith('text/html')) void reply.header('content-security-policy', documentCsp(out.body));
    return reply
      .header('content-type', out.contentType)
      .header('cache-control', 'no-store')
      .header('content-disposition', `${q.format === 'csv' ? 'attachment' : 'inline'}; filename="${out.filename}"`)
      .send(out.body);
  });

  app.post('/api/v1/rights-requests/:id/extend', { schema: { operationId: 'extendRightsRequest', summary: 'Extend a request\'s deadline (Art. 12(3)), with the reason', tags, security, params: Id, body: ExtendBody } }, async (req) => {
    const { id } = req.params as Static<typeof Id>;
    const b = req.body as Static<typeof ExtendBody>;
    return view(() => ctx.rights.extend(id, b.months, b.reason, actor(req)));
  });

  app.post('/api/v1/rights-requests/:id/reject', { schema: { operationId: 'rejectRightsRequest', summary: 'Reject a request, with the reason', tags, security, params: Id, body: RejectBody } }, async (req) => {
    const { id } = req.params as Static<typeof Id>;
    const b = req.body as Static<typeof RejectBody>;
    return view(() => ctx.rights.reject(id, b.reason, b.note, actor(req)));
  });

  app.post('/api/v1/rights-requests/:id/process', { bodyLimit: 64 * 1024, schema: { operationId: 'processRightsRequest', summary: 'Carry out a request now', tags, security, params: Id, body: ProcessBody } }, async (req) => {
    const { id } = req.params as Static<typeof Id>;
    const b = (req.body ?? {}) as Static<typeof ProcessBody>;
    for (const p of b.purposes ?? []) if (!ctx.cfg.purpose(p)) throw new FiduciaError('FIDUCIA_UNKNOWN_PURPOSE', `unknown purpose "${p}"`);
    return view(async () => {
      const row = await ctx.rights.process(id, actor(req), { traits: b.traits, purposes: b.purposes });
      await ctx.rights.notifyPerson(row);
      return row;
    });
  });

  app.post('/api/v1/rights-requests/:id/lift-restriction', { schema: { operationId: 'liftRestriction', summary: 'Lift a restriction of processing', tags, security, params: Id, body: LiftBody } }, async (req) => {
    const { id } = req.params as Static<typeof Id>;
    const b = req.body as Static<typeof LiftBody>;
    return view(() => ctx.rights.liftRestriction(id, b.reason, actor(req)));
  });
}

/** Legal holds on a person's profile (by identity): set and release. */
function legalHoldRoutes(app: FastifyInstance, ctx: HttpContext, actor: (req: FastifyRequest) => string): void {
  app.put('/api/v1/legal-holds/:identity', { schema: { operationId: 'placeLegalHold', summary: 'Place a legal hold: erasure and retention wait', tags, security, params: IdentityParam, body: HoldBody } }, async (req) => {
    const { identity } = req.params as Static<typeof IdentityParam>;
    const b = req.body as Static<typeof HoldBody>;
    const hold = await ctx.rights.setLegalHold(identityOf(identity), b.reason, actor(req));
    if (!hold) throw new FiduciaError('FIDUCIA_NOT_FOUND', 'no profile has this identity');
    return { subjectId: hold.subjectId, holdId: hold.holdId, since: new Date(hold.since).toISOString() };
  });

  app.delete('/api/v1/legal-holds/:identity', { schema: { operationId: 'releaseLegalHold', summary: 'Release a legal hold', tags, security, params: IdentityParam } }, async (req) => {
    const { identity } = req.params as Static<typeof IdentityParam>;
    const res = await ctx.rights.releaseLegalHold(identityOf(identity), actor(req));
    if (!res) throw new FiduciaError('FIDUCIA_NOT_FOUND', 'no profile has this identity');
    return { subjectId: res.subjectId, released: res.released, resumed: res.resumed.map((r) => ({ id: r.id, status: r.status })) };
  });
}
