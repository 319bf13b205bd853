// The public transparency page (/transparency, HTML) and its figures as JSON (/transparency.json): numbers, never a person.
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Lang } from '../../domain/ropa.ts';
import { transparencyHtml } from '../../domain/transparency-html.ts';
import type { HttpContext } from '../context.ts';
import { documentCsp } from '../security-headers.ts';

const LANGS: readonly Lang[] = ['it', 'en'];
const JsonQuery = Type.Object({ lang: Type.Optional(Type.Union([Type.Literal('it'), Type.Literal('en')])) }, { additionalProperties: false });
const ErrorReply = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) }) });
const Count = Type.Union([Type.Object({ about: Type.Integer() }), Type.Object({ fewerThan: Type.Integer() })], {
  description: 'rounded to the nearest multiple of `rounding`, or `fewerThan` the minimum: never an exact small number',
});
const RightsFigures = Type.Object({ received: Count, answered: Count, medianAnswerHours: Type.Union([Type.Integer(), Type.Null()]) });
const Report = Type.Object({
  lang: Type.String(),
  generatedAt: Type.String(),
  controller: Type.String(),
  noticeVersion: Type.String(),
  minimumCount: Type.Integer(),
  rounding: Type.Integer(),
  purposes: Type.Array(
    Type.Object({
      key: Type.String(),
      name: Type.String(),
      description: Type.String(),
      legalBasis: Type.String(),
      consentRequired: Type.Boolean(),
      dataCategories: Type.Array(Type.String()),
      retention: Type.String(),
      recipients: Type.Array(Type.Object({ name: Type.String(), kind: Type.String(), country: Type.String() })),
    }),
  ),
  rights: Type.Object({ byType: Type.Array(Type.Intersect([Type.Object({ type: Type.String() }), RightsFigures])), total: RightsFigures }),
  consents: Type.Array(Type.Object({ purpose: Type.String(), name: Type.String(), decided: Count, grantedPercent: Type.Union([Type.Integer(), Type.Null()]) })),
  breaches: Type.Object({ anyNotified: Type.Boolean(), notified: Count }),
  measures: Type.Object({
    keyVersions: Type.Integer(),
    lastKeyRotation: Type.Union([Type.Number(), Type.Null()]),
    lastVerify: Type.Union([Type.Object({ at: Type.Number(), ok: Type.Boolean() }), Type.Null()]),
    checkpoint: Type.Union([
      Type.Object({
        origin: Type.String(),
        treeSize: Type.Integer(),
        rootHash: Type.String(),
        timestamp: Type.Number(),
        keyId: Type.String(),
        signature: Type.String(),
        note: Type.String({ description: 'C2SP signed note: keep it, and check the log against it later with `fiducia audit verify --checkpoint FILE`' }),
      }),
      Type.Null(),
    ]),
    publicKey: Type.String({ description: 'raw 32-byte Ed25519 public key, base64' }),
    algorithm: Type.Literal('Ed25519'),
  }),
});

/** `?lang=it|en`, else the first of ours in Accept-Language (its first 16 tags), else the configuration's first language. */
function pageLanguage(req: FastifyRequest, languages: readonly string[]): Lang {
  const ours = (l: string): l is Lang => (LANGS as readonly string[]).includes(l) && languages.includes(l);
  const q = (req.query as Record<string, unknown> | undefined)?.['lang'];
  if (typeof q === 'string' && ours(q)) return q;
  const accept = req.headers['accept-language'];
  if (typeof accept === 'string') {
    for (const part of accept.slice(0, 512).split(',', 16)) {
      const tag = part.trim().slice(0, 2).toLowerCase();
      if (ours(tag)) return tag;
    }
  }
  const first = languages[0];
  return first !== undefined && ours(first) ? first : 'it';
}

export async function transparencyRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  // Public and unauthenticated: every figure comes from the service's cache, so no request rate reaches the database.
  app.get('/transparency', { schema: { hide: true } }, async (req, reply) => {
    const html = transparencyHtml(await ctx.transparency.report(pageLanguage(req, ctx.cfg.config.languages)));
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'public, max-age=60')
      .header('vary', 'accept-language')
      .header('content-security-policy', documentCsp(html))
      .serializer((x: unknown) => String(x))
      .send(html);
  });

  app.get(
    '/transparency.json',
    {
      schema: {
        operationId: 'getTransparencyReport',
        summary: 'The public transparency report: purposes, rights requests, consent rates, breaches, audit checkpoint',
        description: 'Every count is rounded (or `fewerThan` the minimum); rates and medians over fewer people than the minimum are null. Figures are at most a minute old.',
        tags: ['transparency'],
        security: [],
        querystring: JsonQuery,
        response: { 200: Report, 400: ErrorReply },
      },
    },
    async (req, reply) => {
      const { lang } = req.query as Static<typeof JsonQuery>;
      void reply.header('cache-control', 'public, max-age=60');
      return ctx.transparency.report(lang ?? 'it');
    },
  );
}
