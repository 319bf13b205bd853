// Consent collection: POST /v1/consent (write key) and the public configuration the widget renders.
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { consentProof } from '../../domain/consent-proof.ts';
import { normalizeIdentity } from '../../domain/identity.ts';
import { ConsentInputError } from '../../services/consent.ts';
import type { HttpContext } from '../context.ts';
import { FiduciaError } from '../errors.ts';
import { requireSource } from '../write-key.ts';

const ConsentBody = Type.Object(
  {
    userId: Type.Optional(Type.String({ maxLength: 512 })),
    anonymousId: Type.Optional(Type.String({ maxLength: 512 })),
    purposes: Type.Record(Type.String(), Type.Boolean()),
    noticeVersion: Type.String({ minLength: 1, maxLength: 100 }),
    method: Type.Optional(Type.Union([Type.Literal('banner'), Type.Literal('preference_center'), Type.Literal('api')])),
    writeKey: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
type ConsentBody = Static<typeof ConsentBody>;

const ConsentReply = Type.Object({
  receiptId: Type.String(),
  noticeVersion: Type.String(),
  consents: Type.Record(Type.String(), Type.Union([Type.Literal('granted'), Type.Literal('denied'), Type.Literal('withdrawn')])),
});

const Localized = Type.Object({ it: Type.String(), en: Type.String() });
const ConsentConfig = Type.Object({
  noticeVersion: Type.String(),
  languages: Type.Array(Type.String()),
  purposes: Type.Array(
    Type.Object({
      key: Type.String(),
      name: Localized,
      description: Localized,
      legalBasis: Type.String(),
      consentRequired: Type.Boolean(),
      saleOrShare: Type.Boolean(),
    }),
  ),
});

export async function consentRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  app.get('/v1/consent/config', { schema: { tags: ['consent'], response: { 200: ConsentConfig } } }, async () => {
    const c = ctx.cfg.config;
    return {
      noticeVersion: c.notice.current,
      languages: c.languages,
      purposes: c.purposes.map((p) => ({
        key: p.key,
        name: p.name,
        description: p.description,
        legalBasis: p.legalBasis,
        consentRequired: p.legalBasis === 'consent',
        saleOrShare: p.saleOrShare,
      })),
    };
  });

  app.post(
    '/v1/consent',
    { bodyLimit: 16 * 1024, schema: { tags: ['consent'], body: ConsentBody, response: { 200: ConsentReply } } },
    async (req) => {
      const source = await requireSource(req, ctx.access);
      const body = req.body as ConsentBody;
      const userId = body.userId === undefined ? null : normalizeIdentity('userId', body.userId);
      const anonymousId = body.anonymousId === undefined ? null : normalizeIdentity('anonymousId', body.anonymousId);
      const ua = req.headers['user-agent'];
      try {
        return await ctx.consent.record({
          sourceId: source.id,
          userId,
          anonymousId,
          purposes: body.purposes,
          noticeVersion: body.noticeVersion,
          method: body.method ?? 'api',
          gpc: req.headers['sec-gpc'] === '1',
          proof: consentProof(typeof ua === 'string' ? ua : undefined, req.ip),
        });
      } catch (err) {
        if (err instanceof ConsentInputError) throw new FiduciaError(err.code, err.message);
        throw err;
      }
    },
  );
}
