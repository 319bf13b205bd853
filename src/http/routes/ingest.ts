// Segment HTTP Tracking API: /v1/identify, /track, /page, /screen, /group, /alias and /batch.
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { consentProof } from '../../domain/consent-proof.ts';
import { uuidv7 } from '../../domain/ids.ts';
import {
  MAX_BATCH_BYTES,
  MAX_MESSAGE_BYTES,
  normalizeMessage,
  type JsonObject,
  type MessageType,
  type NormalizedMessage,
} from '../../domain/segment-message.ts';
import type { MessagesResult } from '../../services/ingest/ingest-flush.ts';
import { registerContentDecoding } from '../content-encoding.ts';
import { FiduciaError } from '../errors.ts';
import { parseFormLabelledJson } from '../json-body.ts';
import type { HttpContext } from '../context.ts';
import type { Source } from '../../services/access/access.ts';
import type { Metrics } from '../../services/metrics.ts';
import { requireSource, userHashIn, userIdAssertion } from '../write-key.ts';

const Id = Type.Union([Type.String(), Type.Number(), Type.Null()]);
const Obj = Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()]);
const Time = Type.Union([Type.String(), Type.Null()]);

const messageFields = {
  messageId: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  userId: Type.Optional(Id),
  anonymousId: Type.Optional(Id),
  timestamp: Type.Optional(Time),
  originalTimestamp: Type.Optional(Time),
  sentAt: Type.Optional(Time),
  context: Type.Optional(Obj),
  integrations: Type.Optional(Obj),
  traits: Type.Optional(Obj),
  properties: Type.Optional(Obj),
  event: Type.Optional(Type.String()),
  name: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  previousId: Type.Optional(Id),
  groupId: Type.Optional(Id),
  writeKey: Type.Optional(Type.String()),
};

export const MessageSchema = Type.Object(messageFields, { additionalProperties: true, $id: 'SegmentMessage' });
const BatchItem = Type.Object(
  { ...messageFields, type: Type.Union(['identify', 'track', 'page', 'screen', 'group', 'alias'].map((t) => Type.Literal(t))) },
  { additionalProperties: true },
);
export const BatchSchema = Type.Object(
  {
    batch: Type.Array(BatchItem, { minItems: 1 }),
    context: Type.Optional(Obj),
    integrations: Type.Optional(Obj),
    sentAt: Type.Optional(Time),
    writeKey: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);
const Success = Type.Object({ success: Type.Literal(true) });

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Applies the source's right to claim identities: the proof leaves the context (it is not data), and a browser
 * source's userId without a valid `userHash` is dropped, so the message lands on the anonymous visitor.
 */
export function assertIdentities(source: Source, m: NormalizedMessage, metrics: Metrics, unverified?: boolean[]): NormalizedMessage {
  const hash = userHashIn(m.context);
  let out = m;
  if (m.context.fiducia !== undefined) {
    const { fiducia: _proof, ...context } = m.context;
    out = { ...out, context };
  }
  if (out.userId !== null && userIdAssertion(source, out.userId, hash) === null) {
    metrics.dropped.inc({ kind: 'identity', reason: 'unverified_identity' });
    out = { ...out, userId: null };
  }
  unverified?.push(out.userId === null && m.userId !== null);
  return out;
}

function requestMeta(req: FastifyRequest) {
  const ua = req.headers['user-agent'];
  return consentProof(typeof ua === 'string' ? ua : undefined, req.ip);
}

/** The OpenAPI description of a collection route: authenticated by the source's write key (HTTP Basic user). */
function collectionSchema(operationId: string, summary: string, body: typeof MessageSchema | typeof BatchSchema) {
  return { operationId, summary, tags: ['ingestion'], security: [{ writeKey: [] }], body, response: { 200: Success } };
}

/**
 * Backpressure: when the writer's queue is at its bound, a collection call is refused (an `onRequest` hook) before its
 * body is read or parsed; consent choices, on their own route, never are.
 */
function shedWhenSaturated(ctx: HttpContext): () => Promise<void> {
  return async () => {
    if (!ctx.ingest.admission.saturated) return;
    ctx.metrics.overloadedRequests.inc();
    throw ctx.ingest.admission.refusal();
  };
}

export async function ingestRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  // What SDKs send by default: gzip bodies (bounded after decompression too) and, from RudderStack's Node SDK, JSON
  // labelled as a form. Neither widens what a browser can send without a preflight: text/plain already is JSON here.
  registerContentDecoding(app);
  parseFormLabelledJson(app);
  const shed = shedWhenSaturated(ctx);
  // The write key is checked before the body's schema: a caller without a valid key learns nothing more.
  const sources = new WeakMap<FastifyRequest, Source>();
  app.addHook('preValidation', async (req) => {
    sources.set(req, await requireSource(req, ctx.access, ctx.metrics));
  });

  const submit = async (req: FastifyRequest, raws: unknown[], defaults: { context?: JsonObject; integrations?: JsonObject; sentAt?: unknown }, type: MessageType | null) => {
    const source = sources.get(req) ?? (await requireSource(req, ctx.access, ctx.metrics));
    const receivedAt = Date.now();
    const messages: NormalizedMessage[] = [];
    const userIdUnverified: boolean[] = [];
    for (const [i, raw] of raws.entries()) {
      const path = type ? 'body' : `batch[${i}]`;
      if (!type && Buffer.byteLength(JSON.stringify(raw)) > MAX_MESSAGE_BYTES) {
        throw new FiduciaError('FIDUCIA_MESSAGE_TOO_LARGE', `a message is at most ${MAX_MESSAGE_BYTES} bytes`, { path });
      }
      const r = normalizeMessage(raw, type, path, receivedAt, defaults, uuidv7);
      if (!r.ok) throw new FiduciaError(r.error.code, r.error.message, { path: r.error.path });
      messages.push(assertIdentities(source, r.message, ctx.metrics, userIdUnverified));
    }
    await ctx.ingest.submit<MessagesResult>({
      kind: 'messages',
      source: { id: source.id, kind: source.kind },
      messages,
      receivedAt,
      proof: requestMeta(req),
      // Global Privacy Control: an objection to sale/share purposes for the subjects of these messages.
      gpc: req.headers['sec-gpc'] === '1',
      ...(userIdUnverified.includes(true) ? { userIdUnverified } : {}),
    });
    return { success: true as const };
  };

  // analytics.js (analytics-next) posts to the first letter of the type (`/v1/t`, `/v1/b` when batching), as Segment's
  // API accepts; the full names are the documented ones.
  for (const type of ['identify', 'track', 'page', 'screen', 'group', 'alias'] as const) {
    for (const path of [`/v1/${type}`, `/v1/${type.charAt(0)}`]) {
      app.post(
        path,
        {
          onRequest: shed,
          bodyLimit: MAX_MESSAGE_BYTES,
          schema: path === `/v1/${type}` ? collectionSchema(type, `Segment ${type} call`, MessageSchema) : collectionSchema(`${type}Short`, `Segment ${type} call (analytics.js short path)`, MessageSchema),
        },
        async (req) => submit(req, [req.body], {}, type),
      );
    }
  }

  for (const path of ['/v1/batch', '/v1/b']) {
    app.post(
      path,
      {
        onRequest: shed,
        bodyLimit: MAX_BATCH_BYTES,
        schema: path === '/v1/batch' ? collectionSchema('batch', 'Segment batch of calls', BatchSchema) : collectionSchema('batchShort', 'Segment batch of calls (analytics.js short path)', BatchSchema),
      },
      async (req) => {
        const body = req.body as Record<string, unknown>;
        const defaults = {
          ...(isObject(body.context) ? { context: body.context } : {}),
          ...(isObject(body.integrations) ? { integrations: body.integrations } : {}),
          sentAt: body.sentAt,
        };
        return submit(req, body.batch as unknown[], defaults, null);
      },
    );
  }
}
