// Sources and their write keys: create (secrets shown once), list, rotate, revoke. Admin only; every change is audited.
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { requireRoleOnRequest } from '../auth.ts';
import type { HttpContext } from '../context.ts';
import { FiduciaError } from '../errors.ts';

const Kind = Type.Union([Type.Literal('browser'), Type.Literal('server')]);
const CreateBody = Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }), kind: Kind }, { additionalProperties: false });
type CreateBody = Static<typeof CreateBody>;
const RotateBody = Type.Object(
  {
    /** A browser source keeps its verification secret (pages already carry hashes made with it); default: a new one too. */
    keepVerificationSecret: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
const Created = Type.Object({
  id: Type.String(),
  kind: Kind,
  writeKey: Type.String(),
  /** Browser sources only: the key a shop's server computes `userHash` with. Shown once. */
  verificationSecret: Type.Optional(Type.String()),
});
const SourceInfo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  kind: Kind,
  /** A browser source's key (public by nature); null for server sources, whose keys are stored only as hashes. */
  writeKey: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
});
// Printable ASCII only: a NUL byte reached PostgreSQL, which refuses it in text (a 500 instead of a 404).
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[\\x21-\\x7e]+$' }) });
const ErrorReply = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) }) });
const errors = { 400: ErrorReply, 401: ErrorReply, 403: ErrorReply };
const meta = { tags: ['sources'], security: [{ token: [] }] };

export async function sourceRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  // Authentication runs before validation, so a request without a token is a 401 whatever its body.
  const callerOf = requireRoleOnRequest(app, ctx, ['admin']);
  const actorOf = (req: FastifyRequest): string => callerOf(req).tokenId;

  app.post('/api/v1/sources', { schema: { operationId: 'createSource', summary: 'Create a source and its write key', ...meta, body: CreateBody, response: { 201: Created, ...errors } } }, async (req, reply) => {
    const body = req.body as CreateBody;
    return reply.status(201).send(await ctx.access.createSource({ name: body.name, kind: body.kind, actor: actorOf(req) }));
  });

  app.get('/api/v1/sources', { schema: { operationId: 'listSources', summary: 'List sources, without their keys', ...meta, response: { 200: Type.Object({ sources: Type.Array(SourceInfo) }), ...errors } } }, async () => ({
    sources: (await ctx.access.listSources()).map((s) => ({
      ...s,
      createdAt: new Date(s.createdAt).toISOString(),
      revokedAt: s.revokedAt === null ? null : new Date(s.revokedAt).toISOString(),
    })),
  }));

  app.post(
    '/api/v1/sources/:id/rotate',
    { schema: { operationId: 'rotateSourceKey', summary: 'Issue a new write key for a source', ...meta, params: IdParams, body: Type.Optional(RotateBody), response: { 200: Created, ...errors, 404: ErrorReply } } },
    async (req) => {
      const { id } = req.params as Static<typeof IdParams>;
      const body = (req.body ?? {}) as Static<typeof RotateBody>;
      const rotated = await ctx.access.rotateSource(id, actorOf(req), body.keepVerificationSecret === true);
      if (!rotated) throw new FiduciaError('FIDUCIA_NOT_FOUND', 'no such active source');
      return rotated;
    },
  );

  app.delete('/api/v1/sources/:id', { schema: { operationId: 'deleteSource', summary: 'Revoke a source and its write keys', ...meta, params: IdParams, response: { ...errors, 404: ErrorReply } } }, async (req, reply) => {
    const { id } = req.params as Static<typeof IdParams>;
    if ((await ctx.access.revokeSource(id, actorOf(req))) === 'not_found') throw new FiduciaError('FIDUCIA_NOT_FOUND', 'no such source');
    // Revoking twice is not an error: the source is revoked either way.
    return reply.status(204).send();
  });
}
