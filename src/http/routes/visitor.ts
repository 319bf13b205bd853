// A visitor's own profile (docs/personalization.md): mint a short-lived credential with the browser's secret, read with it.
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { IDENTITY_MAX_LENGTH, normalizeIdentity, type IdentityRef } from '../../domain/identity.ts';
import { VISITOR_CREDENTIAL_MAX_LENGTH, VISITOR_SECRET_PATTERN } from '../../services/profiles/visitor-credentials.ts';
import type { HttpContext } from '../context.ts';
import { FiduciaError } from '../errors.ts';
import { requireSource, userIdAssertion } from '../write-key.ts';

const MintBody = Type.Object(
  {
    anonymousId: Type.Optional(Type.String({ minLength: 1, maxLength: IDENTITY_MAX_LENGTH.anonymousId })),
    userId: Type.Optional(Type.String({ minLength: 1, maxLength: IDENTITY_MAX_LENGTH.userId })),
    userHash: Type.Optional(Type.String({ maxLength: 128 })),
    /** 32 random bytes as base64url, generated and kept by the visitor's browser. */
    secret: Type.String({ minLength: 43, maxLength: 43, pattern: VISITOR_SECRET_PATTERN }),
    writeKey: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: false },
);
type MintBody = Static<typeof MintBody>;
const Minted = Type.Object({ credential: Type.String(), expiresAt: Type.String(), purposes: Type.Array(Type.String()) });
const ReadQuery = Type.Object({ purpose: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
const ErrorReply = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) }) });
const errors = { 400: ErrorReply, 401: ErrorReply, 403: ErrorReply, 404: ErrorReply };

/** `Authorization: Bearer fv1.…`, bounded before anything looks at it. */
function credentialOf(req: FastifyRequest): string {
  const h = req.headers.authorization;
  if (typeof h !== 'string' || h.length > VISITOR_CREDENTIAL_MAX_LENGTH + 7 || !h.startsWith('Bearer ')) {
    throw new FiduciaError('FIDUCIA_UNAUTHORIZED', 'send the visitor credential as Authorization: Bearer');
  }
  return h.slice(7);
}

/** The identity to mint for: a userId only when trusted (server source, or browser with its userHash), else the anonymousId. */
function identityOf(source: Parameters<typeof userIdAssertion>[0], b: MintBody): { ref: IdentityRef; verified: boolean } {
  if (b.userId !== undefined) {
    const userId = normalizeIdentity('userId', b.userId);
    if (userId === null) throw new FiduciaError('FIDUCIA_VALIDATION', 'invalid userId', { path: 'body.userId' });
    if (userIdAssertion(source, userId, b.userHash) === null) throw new FiduciaError('FIDUCIA_IDENTITY_NOT_VERIFIED', 'a browser names a userId only with its userHash', { path: 'body.userHash' });
    return { ref: { kind: 'userId', value: userId }, verified: true };
  }
  const anonymousId = b.anonymousId === undefined ? null : normalizeIdentity('anonymousId', b.anonymousId);
  if (anonymousId === null) throw new FiduciaError('FIDUCIA_MISSING_IDENTITY', 'send the anonymousId (or a verified userId)', { path: 'body.anonymousId' });
  return { ref: { kind: 'anonymousId', value: anonymousId }, verified: false };
}

export async function visitorRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  const tags = ['visitor'];

  app.post(
    '/v1/me/credential',
    {
      bodyLimit: 4 * 1024,
      preValidation: async (req) => void (await requireSource(req, ctx.access, ctx.metrics)),
      schema: { operationId: 'mintVisitorCredential', summary: "A visitor's short-lived credential for its own profile, against the secret its browser holds", tags, security: [{ writeKey: [] }], body: MintBody, response: { 200: Minted, ...errors } },
    },
    async (req) => {
      const source = await requireSource(req, ctx.access, ctx.metrics);
      const b = req.body as MintBody;
      const { ref, verified } = identityOf(source, b);
      return ctx.visitors.mint(ref, verified, b.secret, source.id);
    },
  );

  app.get(
    '/v1/me/profile',
    {
      // The credential is checked before the query: without one, nothing is learned.
      preValidation: async (req) => void credentialOf(req),
      schema: { operationId: 'readOwnProfile', summary: "The visitor's own profile for a purpose, with a visitor credential", tags, security: [{ visitorCredential: [] }], querystring: ReadQuery, response: { 200: Type.Unknown(), ...errors } },
    },
    async (req, reply) => {
      const { purpose } = req.query as Static<typeof ReadQuery>;
      // Purposes are checked after the credential (in the service): a stranger learns nothing of the configuration.
      const view = await ctx.visitors.read(credentialOf(req), purpose);
      return reply.header('cache-control', 'no-store').send(view);
    },
  );
}
