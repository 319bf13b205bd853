// The live debugger of a source (docs/debugger.md): its latest messages, what was stored and what was dropped and why,
// as field names and reason codes. No value and no id of a person is in it, so a read is not audited as a disclosure;
// admin, dpo and analyst may read it, service tokens (bound to purposes, for machines) may not.
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { requireRoleOnRequest } from '../auth.ts';
import type { HttpContext } from '../context.ts';
import { FiduciaError } from '../errors.ts';

// Printable ASCII only (see sources.ts): a NUL byte would reach PostgreSQL.
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[\\x21-\\x7e]+$' }) });
const Query = Type.Object(
  {
    /** The `cursor` of the previous answer: only newer lines (a uuidv7). */
    since: Type.Optional(Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' })),
    /** Lines at most, 1–500 (default and ceiling: the lines kept per source); a string because query values are not coerced. */
    limit: Type.Optional(Type.String({ pattern: '^(500|[1-4][0-9]{2}|[1-9][0-9]?)$' })),
  },
  { additionalProperties: false },
);
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const FieldDrop = Type.Object({ field: Type.String(), reason: Type.String() });
const Line = Type.Object({
  id: Type.String(),
  receivedAt: Type.String({ description: 'when Fiducia received the message (ISO 8601)' }),
  type: Type.String(),
  event: Nullable(Type.String({ description: 'track: the event name; page/screen: the page name' })),
  messageId: Type.String(),
  outcome: Type.Union([Type.Literal('stored'), Type.Literal('duplicate'), Type.Literal('dropped')]),
  reason: Nullable(Type.String({ description: 'why the whole message was dropped: blocked_identity, suppressed, nothing_to_keep' })),
  identity: Type.Object(
    {
      userId: Type.Union(['none', 'asserted', 'verified', 'unverified'].map((s) => Type.Literal(s))),
      anonymousId: Type.Boolean(),
    },
    { description: 'whether ids were present and how the userId was asserted; never an id' },
  ),
  stored: Type.Array(Type.String(), { description: 'paths of the fields stored: properties.x, traits.x, context.y.z' }),
  dropped: Type.Array(FieldDrop, { description: 'fields not stored, each with its reason code' }),
  omitted: Type.Integer({ description: 'names left out past 64 per list' }),
});
const Page = Type.Object({
  source: Type.Object({ id: Type.String(), name: Type.String(), kind: Type.String() }),
  entries: Type.Array(Line, { description: 'newest first' }),
  cursor: Nullable(Type.String({ description: 'pass as `since` to get only newer lines' })),
  keep: Type.Integer({ description: 'lines kept per source' }),
});
const ErrorReply = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) }) });

export async function debuggerRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  // Token and role first, before validation: a caller without them learns nothing of the schema.
  requireRoleOnRequest(app, ctx, ['admin', 'dpo', 'analyst']);

  app.get(
    '/api/v1/sources/:id/debugger',
    {
      schema: {
        operationId: 'sourceDebugger',
        summary: "A source's live debugger: its latest messages, the fields stored and dropped and why (names, never values)",
        tags: ['sources'],
        security: [{ token: [] }],
        params: IdParams,
        querystring: Query,
        response: { 200: Page, 400: ErrorReply, 401: ErrorReply, 403: ErrorReply, 404: ErrorReply },
      },
    },
    async (req) => {
      const { id } = req.params as Static<typeof IdParams>;
      const q = req.query as Static<typeof Query>;
      const page = await ctx.debugger.read(id, { since: q.since, limit: q.limit === undefined ? undefined : Number(q.limit) });
      if (!page) throw new FiduciaError('FIDUCIA_NOT_FOUND', 'no such source');
      return {
        source: { id: page.source.id, name: page.source.name, kind: page.source.kind },
        entries: page.entries.map((e) => ({ ...e, receivedAt: new Date(e.receivedAt).toISOString() })),
        cursor: page.cursor,
        keep: ctx.debugger.settings.keep,
      };
    },
  );
}
