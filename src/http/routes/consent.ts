// Consent collection: POST /v1/consent (write key) and the public configuration the widget renders.
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { consentProof } from '../../domain/consent-proof.ts';
import { normalizeIdentity } from '../../domain/identity.ts';
import { entryCovers } from '../../domain/privacy-config.ts';
import { publicRecipients } from '../../domain/ropa.ts';
import { MAX_TC_STRING_LENGTH } from '../../domain/tcf.ts';
import type { HttpContext } from '../context.ts';
import { FiduciaError } from '../errors.ts';
import { requireSource, userIdAssertion } from '../write-key.ts';

const ConsentBody = Type.Object(
  {
    userId: Type.Optional(Type.String({ maxLength: 512 })),
    /** From a browser source, the proof that `userId` is the visitor's: hex HMAC-SHA256 of it under the source's verification secret. */
    userHash: Type.Optional(Type.String({ maxLength: 128 })),
    anonymousId: Type.Optional(Type.String({ maxLength: 512 })),
    /** May be omitted when `tcString` is given. */
    purposes: Type.Optional(Type.Record(Type.String(), Type.Boolean())),
    /** IAB TCF v2.2 TC string, mapped onto purposes by the configuration (recorded with method `tcf`). */
    tcString: Type.Optional(Type.String({ maxLength: MAX_TC_STRING_LENGTH })),
    /** The page saw `navigator.globalPrivacyControl`: the same objection as a `Sec-GPC: 1` header. */
    gpc: Type.Optional(Type.Boolean()),
    noticeVersion: Type.String({ minLength: 1, maxLength: 100 }),
    /** How the choice was asked: the widget's banner, the privacy center, an API call, or the widget's in-context prompt (`Fiducia.ask`). */
    method: Type.Optional(Type.Union([Type.Literal('banner'), Type.Literal('preference_center'), Type.Literal('api'), Type.Literal('in_context')])),
    /** The grants in this request are explicit consent (Art. 9(2)(a)): needed before special categories may be read. */
    explicit: Type.Optional(Type.Boolean()),
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
  /** Consent given under these versions still holds (no material change since): the widget asks again otherwise. */
  validNoticeVersions: Type.Array(Type.String()),
  languages: Type.Array(Type.String()),
  controller: Type.Object({ name: Type.String(), contact: Type.String(), dpo: Type.Optional(Type.String()), country: Type.String() }),
  purposes: Type.Array(
    Type.Object({
      key: Type.String(),
      name: Localized,
      description: Localized,
      legalBasis: Type.String(),
      consentRequired: Type.Boolean(),
      saleOrShare: Type.Boolean(),
      /** The taxonomy categories the purpose covers (prefixes expanded). */
      categories: Type.Array(Type.Object({ key: Type.String(), name: Localized })),
      retentionDays: Type.Integer(),
      /** The purpose's recipients, configured destinations included; a transfer outside the EEA comes with its basis in words. */
      recipients: Type.Array(Type.Object({ name: Type.String(), label: Type.Optional(Localized), kind: Type.String(), country: Type.String(), transfer: Type.Optional(Localized) })),
    }),
  ),
});

const Receipt = Type.Object({
  receiptId: Type.String(),
  noticeVersion: Type.String(),
  recordedAt: Type.String(),
  choices: Type.Array(Type.Object({ purpose: Type.String(), status: Type.String(), method: Type.String() })),
});

export async function consentRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  app.get('/v1/consent/config', { schema: { operationId: 'getConsentConfig', summary: 'Purposes, notice version and texts the consent widget shows', security: [], tags: ['consent'], response: { 200: ConsentConfig } } }, async (_req, reply) => {
    const c = ctx.cfg.config;
    // Every page view of a shop asks for this; a minute of caching keeps it cheap and a new notice still shows soon.
    void reply.header('cache-control', 'public, max-age=60');
    return {
      noticeVersion: c.notice.current,
      validNoticeVersions: c.notice.versions.map((v) => v.version).filter((v) => ctx.cfg.noticeVersionValid(v)),
      languages: c.languages,
      controller: c.controller,
      purposes: c.purposes.map((p) => ({
        key: p.key,
        name: p.name,
        description: p.description,
        legalBasis: p.legalBasis,
        consentRequired: p.legalBasis === 'consent',
        saleOrShare: p.saleOrShare,
        categories: c.categories.filter((k) => p.categories.some((entry) => entryCovers(entry, k.key))).map((k) => ({ key: k.key, name: k.name })),
        retentionDays: p.retentionDays,
        recipients: publicRecipients(c, p),
      })),
    };
  });

  // Public: the receipt id is the capability (unguessable, see consent-receipts.ts); it shows choices, never who made them.
  app.get(
    '/v1/consent/receipt/:id',
    { schema: { operationId: 'getConsentReceipt', summary: 'A consent receipt: the choices recorded, never who made them', security: [], tags: ['consent'], params: Type.Object({ id: Type.String({ maxLength: 64 }) }), response: { 200: Receipt } } },
    async (req) => {
      const { id } = req.params as { id: string };
      const receipt = await ctx.consent.receipt(id.toLowerCase());
      if (!receipt) throw new FiduciaError('FIDUCIA_NOT_FOUND', 'no such consent receipt');
      return receipt;
    },
  );

  app.post(
    '/v1/consent',
    {
      bodyLimit: 16 * 1024,
      // The write key is checked before the schema, as on the other collection routes: a caller without one learns nothing.
      preValidation: async (req) => void (await requireSource(req, ctx.access, ctx.metrics)),
      schema: { operationId: 'recordConsent', summary: 'Record a visitor\'s consent choices, with proof', security: [{ writeKey: [] }], tags: ['consent'], body: ConsentBody, response: { 200: ConsentReply } },
    },
    async (req) => {
      const source = await requireSource(req, ctx.access, ctx.metrics);
      const body = req.body as ConsentBody;
      let userId = body.userId === undefined ? null : normalizeIdentity('userId', body.userId);
      const anonymousId = body.anonymousId === undefined ? null : normalizeIdentity('anonymousId', body.anonymousId);
      if (userId !== null && userIdAssertion(source, userId, body.userHash) === null) {
        // A browser key records consent for its own visitor: an unproven userId is dropped, as in ingestion.
        ctx.metrics.dropped.inc({ kind: 'identity', reason: 'unverified_identity' });
        if (anonymousId === null) {
          throw new FiduciaError('FIDUCIA_IDENTITY_NOT_VERIFIED', 'a browser source records consent for a userId only with its userHash; send the anonymousId', { path: 'body.userHash' });
        }
        userId = null;
      }
      const ua = req.headers['user-agent'];
      return ctx.consent.record({
        source: { id: source.id, kind: source.kind },
        userId,
        anonymousId,
        purposes: body.purposes,
        tcString: body.tcString,
        noticeVersion: body.noticeVersion,
        method: body.method ?? 'api',
        gpc: req.headers['sec-gpc'] === '1' || body.gpc === true,
        explicit: body.explicit === true,
        proof: consentProof(typeof ua === 'string' ? ua : undefined, req.ip),
      });
    },
  );
}
