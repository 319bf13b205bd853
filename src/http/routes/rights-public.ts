// Self-service rights requests for the privacy center (write key, CORS): ask, confirm the emailed code, download the package.
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { IDENTITY_MAX_LENGTH } from '../../domain/identity.ts';
import { RIGHTS_TYPES } from '../../domain/rights.ts';
import type { ExportFormat } from '../../services/rights/rights.ts';
import type { HttpContext } from '../context.ts';
import { documentCsp } from '../security-headers.ts';
import { requireSource } from '../write-key.ts';

const literals = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)));
const Lang = literals(['it', 'en'] as const);
const Id = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

const IntakeBody = Type.Object(
  {
    // The identity bound, in the schema: a longer address is refused before any work (rate limit included).
    email: Type.String({ minLength: 3, maxLength: IDENTITY_MAX_LENGTH.email }),
    type: literals(RIGHTS_TYPES),
    language: Lang,
    details: Type.Optional(Type.String({ maxLength: 2000 })),
    writeKey: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
type IntakeBody = Static<typeof IntakeBody>;
const VerifyBody = Type.Object({ code: Type.String({ minLength: 1, maxLength: 32 }), writeKey: Type.Optional(Type.String()) }, { additionalProperties: false });
const DownloadQuery = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 128 }), format: Type.Optional(literals(['json', 'html', 'csv'] as const)), lang: Type.Optional(Lang) },
  { additionalProperties: false },
);
type DownloadQuery = Static<typeof DownloadQuery>;
const Status = Type.Object({ id: Type.String(), status: Type.String() });
const Verified = Type.Object({
  id: Type.String(),
  status: Type.String(),
  // A completed access or portability request: the token of the personal link that was also emailed.
  download: Type.Optional(Type.Object({ token: Type.String(), expiresAt: Type.String() })),
});
const ErrorReply = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) }) });

export async function rightsPublicRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  const tags = ['rights'];
  const security = [{ writeKey: [] }];
  const errors = { 400: ErrorReply, 401: ErrorReply, 429: ErrorReply };

  app.post(
    '/v1/rights-requests',
    {
      bodyLimit: 16 * 1024,
      // The write key is checked before the schema: a caller without one learns nothing.
      preValidation: async (req) => void (await requireSource(req, ctx.access, ctx.metrics)),
      schema: { operationId: 'submitRightsRequest', summary: 'A data subject asks to exercise a right (self-service)', tags, security, body: IntakeBody, response: { 202: Status, ...errors } },
    },
    async (req, reply) => {
      const source = await requireSource(req, ctx.access, ctx.metrics);
      const b = req.body as IntakeBody;
      const out = await ctx.rightsIntake.submit({ email: b.email, type: b.type, language: b.language, details: b.details, ip: req.ip, sourceId: source.id });
      return reply.status(202).send(out);
    },
  );

  app.post(
    '/v1/rights-requests/:id/verify',
    {
      bodyLimit: 4 * 1024,
      preValidation: async (req) => void (await requireSource(req, ctx.access, ctx.metrics)),
      schema: { operationId: 'verifyRightsRequest', summary: 'Confirm a self-service request with the emailed code', tags, security, params: Id, body: VerifyBody, response: { 200: Verified, ...errors } },
    },
    async (req) => {
      const { id } = req.params as Static<typeof Id>;
      const { code } = req.body as Static<typeof VerifyBody>;
      return ctx.rightsIntake.verify(id, code.trim(), req.ip);
    },
  );

  // The personal link from the outcome email; the token in it is the credential, so no write key.
  app.get('/v1/rights-requests/:id/download', { schema: { operationId: 'downloadRightsPackage', summary: 'Download the data of a verified access request (the link is the credential)', security: [], tags, params: Id, querystring: DownloadQuery } }, async (req, reply) => {
    const { id } = req.params as Static<typeof Id>;
    const q = req.query as DownloadQuery;
    // The readable page links to the same package as a file and back to the privacy center (relative: /privacy).
    const page = { downloads: { json: `?token=${encodeURIComponent(q.token)}&format=json` }, privacyCenter: '../../../privacy' };
    const out = await ctx.rightsIntake.download(id, q.token, (q.format ?? 'json') as ExportFormat, req.ip, q.lang, page);
    // The HTML package may use only its own stylesheet; JSON and CSV keep the default CSP (security-headers.ts).
    if (out.contentType.startsWith('text/html')) void reply.header('content-security-policy', documentCsp(out.body));
    return reply
      .header('content-type', out.contentType)
      .header('cache-control', 'no-store')
      .header('referrer-policy', 'no-referrer')
      .header('content-disposition', `${q.format === 'csv' ? 'attachment' : 'inline'}; filename="${out.filename}"`)
      .send(out.body);
  });
}
