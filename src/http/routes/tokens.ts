// API tokens: create (shown once, stored hashed), list without secrets, revoke. Admin only; every change is audited.
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Role } from '../../services/access/access.ts';
import { requireRoleOnRequest } from '../auth.ts';
import type { HttpContext } from '../context.ts';
import { FiduciaError } from '../errors.ts';

const RoleSchema = Type.Union([Type.Literal('admin'), Type.Literal('dpo'), Type.Literal('analyst'), Type.Literal('service')]);
const CreateBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    role: RoleSchema,
    /** Required (at least one) for `service` tokens; not allowed for other roles. */
    purposes: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 32, uniqueItems: true })),
  },
  { additionalProperties: false },
);
type CreateBody = Static<typeof CreateBody>;
const Created = Type.Object({ id: Type.String(), token: Type.String() });
const TokenInfo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: Type.String(),
  purposes: Type.Array(Type.String()),
  createdAt: Type.String(),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
  /** Set while exfiltration detection holds the token suspended (docs/exfiltration.md). */
  suspendedAt: Type.Union([Type.String(), Type.Null()]),
  suspendedReason: Type.Union([Type.String(), Type.Null()]),
});
// Printable ASCII only: a NUL byte reached PostgreSQL, which refuses it in text (a 500 instead of a 404).
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[\\x21-\\x7e]+$' }) });
const ErrorReply = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) }) });
const errors = { 400: ErrorReply, 401: ErrorReply, 403: ErrorReply };

export async function tokenRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  // Authentication runs before validation, so a request without a token is a 401 whatever its body.
  const callerOf = requireRoleOnRequest(app, ctx, ['admin']);

  app.post(
    '/api/v1/tokens',
    { schema: { operationId: 'createToken', summary: 'Create an API token (shown once)', tags: ['tokens'], security: [{ token: [] }], body: CreateBody, response: { 201: Created, ...errors } } },
    async (req, reply) => {
      const body = req.body as CreateBody;
      const purposes = body.purposes ?? [];
      if (body.role === 'service') {
        if (purposes.length === 0) throw new FiduciaError('FIDUCIA_VALIDATION', 'a service token needs at least one purpose');
        const unknown = purposes.filter((p) => !ctx.cfg.purpose(p));
        if (unknown.length > 0) throw new FiduciaError('FIDUCIA_UNKNOWN_PURPOSE', `unknown purpose "${unknown[0]}"`, { purposes: unknown });
      } else if (purposes.length > 0) {
        throw new FiduciaError('FIDUCIA_VALIDATION', `only service tokens are bound to purposes; a ${body.role} token acts for its role`);
      }
      const created = await ctx.access.createToken({ name: body.name, role: body.role as Role, purposes, actor: callerOf(req).tokenId });
      return reply.status(201).send(created);
    },
  );

  app.get('/api/v1/tokens', { schema: { operationId: 'listTokens', summary: 'List API tokens, without secrets', tags: ['tokens'], security: [{ token: [] }], response: { 200: Type.Object({ tokens: Type.Array(TokenInfo) }), ...errors } } }, async () => {
    const tokens = await ctx.access.listTokens();
    return {
      tokens: tokens.map((t) => ({
        ...t,
        createdAt: new Date(t.createdAt).toISOString(),
        revokedAt: t.revokedAt === null ? null : new Date(t.revokedAt).toISOString(),
        suspendedAt: t.suspendedAt === null ? null : new Date(t.suspendedAt).toISOString(),
      })),
    };
  });

  app.delete(
    '/api/v1/tokens/:id',
    { schema: { operationId: 'revokeToken', summary: 'Revoke an API token', tags: ['tokens'], security: [{ token: [] }], params: IdParams, response: { ...errors, 404: ErrorReply, 409: ErrorReply } } },
    async (req, reply) => {
      const { id } = req.params as Static<typeof IdParams>;
      const r = await ctx.access.revokeToken(id, callerOf(req).tokenId);
      if (r.outcome === 'not_found') throw new FiduciaError('FIDUCIA_NOT_FOUND', 'no such token');
      if (r.outcome === 'last_admin') throw new FiduciaError('FIDUCIA_LAST_ADMIN_TOKEN', 'this is the last active admin token: create another admin token first');
      // Revoking twice is not an error: the token is revoked either way.
      return reply.status(204).send();
    },
  );
}
