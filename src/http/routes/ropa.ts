// The record of processing (Art. 30; dpo/admin) as JSON, HTML or CSV, and the privacy notice's purpose table (public).
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { noticeHtml, ropaCsv, ropaHtml } from '../../domain/ropa-render.ts';
import { authenticate, requireRole } from '../auth.ts';
import type { HttpContext } from '../context.ts';
import { pageLanguage } from '../language.ts';
import { documentCsp } from '../security-headers.ts';

const Lang = Type.Union([Type.Literal('it'), Type.Literal('en')], { description: 'The language of the HTML page; default: Accept-Language, else the configuration’s first language.' });
const RopaQuery = Type.Object(
  { format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('html'), Type.Literal('csv')])), lang: Type.Optional(Lang) },
  { additionalProperties: false },
);
const PurposesQuery = Type.Object(
  {
    lang: Type.Optional(Lang),
    format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('html')])),
  },
  { additionalProperties: false },
);
const ErrorReply = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) }) });
const raw = (x: unknown): string => String(x);

export async function ropaRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  app.get(
    '/api/v1/ropa',
    {
      schema: {
        operationId: 'getRecordOfProcessing', summary: 'Record of processing activities (Art. 30), JSON, HTML or CSV',
        tags: ['ropa'],
        security: [{ token: [] }],
        description: 'Record of processing activities (Art. 30 GDPR), generated from the configuration and the running system.',
        querystring: RopaQuery,
        response: { 400: ErrorReply, 401: ErrorReply, 403: ErrorReply },
      },
      // Checked before validation: no token is a 401 whatever the query.
      onRequest: async (req) => {
        const caller = await authenticate(req, ctx);
        await requireRole(req, ctx, caller, ['dpo', 'admin']);
      },
    },
    async (req, reply) => {
      const { format, lang } = req.query as Static<typeof RopaQuery>;
      const ropa = await ctx.ropa.ropa();
      if (format === 'html') {
        const html = ropaHtml(ropa, pageLanguage(req, lang, ctx.cfg.config.languages));
        return reply.type('text/html; charset=utf-8').header('content-security-policy', documentCsp(html)).header('vary', 'accept-language').serializer(raw).send(html);
      }
      if (format === 'csv') {
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', 'attachment; filename="record-of-processing.csv"')
          .serializer(raw)
          .send(ropaCsv(ropa));
      }
      return ropa;
    },
  );

  // Public: the same table a privacy notice shows (Art. 13: purposes, bases, recipients, transfers, retention).
  app.get(
    '/api/v1/ropa/purposes',
    { schema: { operationId: 'getNoticePurposes', summary: 'The purpose table of the privacy notice, Italian or English', security: [], tags: ['ropa'], description: 'The purpose table of the privacy notice, in Italian or English.', querystring: PurposesQuery, response: { 400: ErrorReply } } },
    async (req, reply) => {
      const q = req.query as Static<typeof PurposesQuery>;
      const lang = pageLanguage(req, q.lang, ctx.cfg.config.languages);
      const purposes = ctx.ropa.purposes(lang);
      if (q.format === 'html') {
        const html = noticeHtml(ctx.cfg.config.controller.name, purposes, lang);
        return reply.type('text/html; charset=utf-8').header('content-security-policy', documentCsp(html)).header('vary', 'accept-language').serializer(raw).send(html);
      }
      return { lang, noticeVersion: ctx.cfg.config.notice.current, controller: ctx.cfg.config.controller, purposes };
    },
  );
}
