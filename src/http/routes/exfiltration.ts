// Exfiltration response: an admin reinstates a suspended token (console users: src/http/routes/console-auth.ts); an
// admin or DPO lists the subjects a token or a console user read, from the audit log (pseudonymous subject ids only).
// Both audited.
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authenticate, requireRole, type Caller } from '../auth.ts';
import type { HttpContext } from '../context.ts';
import { FiduciaError } from '../errors.ts';
import { principalOf } from '../../services/console/console-users.ts';
import type { SubjectsReadPage } from '../../services/exfiltration/subjects-read.ts';

// Printable ASCII only (see tokens.ts): a NUL byte would reach PostgreSQL.
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[\\x21-\\x7e]+$' }) });
const SubjectsQuery = Type.Object(
  {
    /** ISO 8601 time; default: 7 days ago. */
    since: Type.Optional(Type.String({ minLength: 10, maxLength: 40 })),
    /** `next` of the previous page (an audit index). */
    cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
    /** Audit entries per page, 1–1000 (default 500); a string because query values are not coerced. */
    limit: Type.Optional(Type.String({ pattern: '^(1000|[1-9][0-9]{0,2})$' })),
  },
  { additionalProperties: false },
);
const Reinstated = Type.Object({ id: Type.String(), status: Type.Literal('active') });
const SubjectsPage = Type.Object({
  principal: Type.String(),
  since: Type.String(),
  subjects: Type.Array(
    Type.Object({ subjectId: Type.String(), reads: Type.Record(Type.String(), Type.Integer()), firstAt: Type.String(), lastAt: Type.String() }),
    { description: 'pseudonymous subject ids disclosed to the token, distinct within the page; never a personal field' },
  ),
  segmentPages: Type.Array(
    Type.Object({
      segment: Type.String(),
      purpose: Type.Union([Type.String(), Type.Null()]),
      after: Type.Union([Type.String(), Type.Null()]),
      through: Type.Union([Type.String(), Type.Null()]),
      members: Type.Integer(),
      at: Type.String(),
    }),
    { description: 'segment member pages listed: members with ids after `after` up to `through`, in id order' },
  ),
  entries: Type.Integer({ description: 'audit entries this page covered' }),
  next: Type.Union([Type.String(), Type.Null()]),
});
const ErrorReply = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) }) });
const errors = { 400: ErrorReply, 401: ErrorReply, 403: ErrorReply, 404: ErrorReply };
const WEEK_MS = 7 * 86_400_000;

export async function exfiltrationRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  // Token and role first, before validation: a caller without them learns nothing of the schema.
  const callers = new WeakMap<FastifyRequest, Caller>();
  app.addHook('onRequest', async (req) => {
    const caller = await authenticate(req, ctx);
    await requireRole(req, ctx, caller, ['admin', 'dpo']);
    callers.set(req, caller);
  });

  app.post(
    '/api/v1/tokens/:id/reinstate',
    { schema: { operationId: 'reinstateToken', summary: 'Reinstate a token suspended by exfiltration detection', tags: ['tokens'], security: [{ token: [] }], params: IdParams, response: { 200: Reinstated, ...errors, 409: ErrorReply } } },
    async (req) => {
      const caller = callers.get(req)!;
      await requireRole(req, ctx, caller, ['admin']);
      const { id } = req.params as Static<typeof IdParams>;
      const r = await ctx.access.reinstateToken(id, caller.tokenId);
      if (r === 'not_found') throw new FiduciaError('FIDUCIA_NOT_FOUND', 'no such token');
      if (r === 'not_suspended') throw new FiduciaError('FIDUCIA_REQUEST_STATE', 'this token is not suspended', { reason: 'not_suspended' });
      return { id, status: 'active' as const };
    },
  );

  app.get(
    '/api/v1/tokens/:id/subjects-read',
    { schema: { operationId: 'listSubjectsReadByToken', summary: 'The subjects a token read, from the audit log (pseudonymous ids)', tags: ['tokens'], security: [{ token: [] }], params: IdParams, querystring: SubjectsQuery, response: { 200: SubjectsPage, ...errors } } },
    async (req) => {
      const { id } = req.params as Static<typeof IdParams>;
      const since = sinceOf(req.query as Static<typeof SubjectsQuery>);
      if (!(await ctx.access.tokenById(id))) throw new FiduciaError('FIDUCIA_NOT_FOUND', 'no such token');
      return listed(ctx, callers.get(req)!, id, since, req.query as Static<typeof SubjectsQuery>, { tokenId: id });
    },
  );

  app.get(
    '/api/v1/console/users/:id/subjects-read',
    { schema: { operationId: 'listSubjectsReadByConsoleUser', summary: 'The subjects a console user read, from the audit log (pseudonymous ids)', tags: ['console'], security: [{ token: [] }], params: IdParams, querystring: SubjectsQuery, response: { 200: SubjectsPage, ...errors } } },
    async (req) => {
      const { id } = req.params as Static<typeof IdParams>;
      const since = sinceOf(req.query as Static<typeof SubjectsQuery>);
      if (!(await ctx.console?.userById(id))) throw new FiduciaError('FIDUCIA_NOT_FOUND', 'no such console user');
      return listed(ctx, callers.get(req)!, principalOf(id), since, req.query as Static<typeof SubjectsQuery>, { userId: id });
    },
  );
}

function sinceOf(q: Static<typeof SubjectsQuery>): number {
  const since = q.since === undefined ? Date.now() - WEEK_MS : Date.parse(q.since);
  if (!Number.isFinite(since)) throw new FiduciaError('FIDUCIA_VALIDATION', 'since must be an ISO 8601 time');
  return since;
}

/** One page of what `principal` read; who looked at whose reads is on record too, without repeating the ids. */
async function listed(ctx: HttpContext, caller: Caller, principal: string, since: number, q: Static<typeof SubjectsQuery>, whose: Record<string, string>): Promise<SubjectsReadPage> {
  const page = await ctx.exfiltration.subjectsRead(principal, since, q.cursor === undefined ? null : Number(q.cursor), q.limit === undefined ? 500 : Number(q.limit));
  await ctx.audit.record([
    { actor: caller.tokenId, action: 'exfiltration.subjects_read', outcome: 'ok', counts: { subjects: page.subjects.length, entries: page.entries }, details: { ...whose, since: page.since, cursor: q.cursor ?? null } },
  ]);
  return page;
}
