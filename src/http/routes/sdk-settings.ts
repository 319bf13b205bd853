// Source settings for the browser SDKs, so their standard snippets work with only their settings URL pointed at
// Fiducia: Segment's `GET /v1/projects/:writeKey/settings` (analytics.js) and RudderStack's `GET /sourceConfig/`.
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { HttpContext } from '../context.ts';
import { FiduciaError } from '../errors.ts';
import { knownSource, requireSource, writeKeyOf } from '../write-key.ts';

// Printable ASCII, as every key Fiducia issues; the length bound comes first (schema order), the pattern is linear.
const KeyParams = Type.Object({ writeKey: Type.String({ minLength: 1, maxLength: 256, pattern: '^[\\x21-\\x7e]+$' }) }, { additionalProperties: false });
type KeyParams = Static<typeof KeyParams>;

const Short = Type.String({ maxLength: 256 });
// What RudderStack's SDK (v3) puts in the query; later versions may add parameters, which are bounded like these.
const ConfigQuery = Type.Object(
  { p: Type.Optional(Short), v: Type.Optional(Short), build: Type.Optional(Short), writeKey: Type.Optional(Short), lockIntegrationsVersion: Type.Optional(Short), lockPluginsVersion: Type.Optional(Short) },
  { additionalProperties: Type.String({ maxLength: 256 }), maxProperties: 20 },
);
type ConfigQuery = Static<typeof ConfigQuery>;

const SegmentSettings = Type.Object({
  integrations: Type.Object({
    'Segment.io': Type.Object({ apiKey: Type.String(), apiHost: Type.String(), protocol: Type.String(), unbundledIntegrations: Type.Array(Type.String()), addBundledMetadata: Type.Boolean(), maybeBundledConfigIds: Type.Object({}) }),
  }),
  metrics: Type.Object({ sampleRate: Type.Number(), host: Type.String() }),
  enabledMiddleware: Type.Object({}),
  middlewareSettings: Type.Object({}),
  remotePlugins: Type.Array(Type.Unknown(), { maxItems: 0 }),
  legacyVideoPluginsEnabled: Type.Boolean(),
  analyticsNextEnabled: Type.Boolean(),
  edgeFunction: Type.Object({}),
});
const RudderConfig = Type.Object({
  isHosted: Type.Boolean(),
  source: Type.Object({
    id: Type.String(),
    enabled: Type.Boolean(),
    workspaceId: Type.String(),
    config: Type.Object({ statsCollection: Type.Object({ errors: Type.Object({ enabled: Type.Boolean() }), metrics: Type.Object({ enabled: Type.Boolean() }) }) }),
    destinations: Type.Array(Type.Unknown(), { maxItems: 0 }),
  }),
});
const ErrorReply = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) }) });

/** A host as HTTP carries it (name or address, optional port): bounded, then one linear character class. */
const HOST = /^[A-Za-z0-9.:[\]-]+$/;

/**
 * Where SDKs are to send: the configured public URL, else the address this request reached (Host, or
 * X-Forwarded-Host/-Proto from a trusted proxy only). A Host-derived answer is marked private so no shared cache
 * keeps one caller's Host for another.
 */
function publicBase(req: FastifyRequest, configured: URL | null): { protocol: 'http' | 'https'; host: string; shared: boolean } {
  if (configured) {
    let path = configured.pathname;
    while (path.endsWith('/')) path = path.slice(0, -1);
    return { protocol: configured.protocol === 'http:' ? 'http' : 'https', host: configured.host + path, shared: true };
  }
  const host = req.host;
  if (typeof host !== 'string' || host.length === 0 || host.length > 255 || !HOST.test(host)) {
    throw new FiduciaError('FIDUCIA_VALIDATION', 'the Host header is not a host name');
  }
  return { protocol: req.protocol === 'https' ? 'https' : 'http', host, shared: false };
}

function cacheFor(reply: FastifyReply, shared: boolean): void {
  // Short: a revoked key stops being configured within minutes, and ingestion refuses it at once anyway.
  void reply.header('cache-control', `${shared ? 'public' : 'private'}, max-age=300`);
}

/** FIDUCIA_PUBLIC_URL when it is an http(s) URL; otherwise answers are built from each request. */
function parsePublicUrl(value: string | undefined): URL | null {
  if (!value) return null;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : null;
  } catch {
    return null;
  }
}

export async function sdkSettingsRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  const configured = parsePublicUrl(ctx.publicUrl);
  app.get(
    '/v1/projects/:writeKey/settings',
    {
      schema: {
        operationId: 'getSegmentSettings', security: [],
        tags: ['ingestion'],
        summary: "Segment analytics.js source settings: where to send (this server), no destinations, no telemetry",
        params: KeyParams,
        response: { 200: SegmentSettings, 400: ErrorReply, 404: ErrorReply },
      },
    },
    async (req, reply) => {
      const { writeKey } = req.params as KeyParams;
      // The key is the URL here: unknown, revoked and malformed keys all get the same 404.
      if (!(await knownSource(writeKey, ctx.access, ctx.metrics))) throw new FiduciaError('FIDUCIA_NOT_FOUND', 'no settings for this write key');
      const base = publicBase(req, configured);
      cacheFor(reply, base.shared);
      const apiHost = `${base.host}/v1`;
      return {
        integrations: {
          'Segment.io': { apiKey: writeKey, apiHost, protocol: base.protocol, unbundledIntegrations: [], addBundledMetadata: true, maybeBundledConfigIds: {} },
        },
        // analytics.js's own telemetry: off (sample rate 0), and pointed here rather than at Segment should it ever run.
        metrics: { sampleRate: 0, host: apiHost },
        enabledMiddleware: {},
        middlewareSettings: {},
        remotePlugins: [],
        legacyVideoPluginsEnabled: false,
        analyticsNextEnabled: true,
        edgeFunction: {},
      };
    },
  );

  const sourceConfig = async (req: FastifyRequest, reply: FastifyReply) => {
    // RudderStack's SDK sends the key as HTTP Basic user, like ingestion; the query's copy must agree with it.
    const source = await requireSource(req, ctx.access, ctx.metrics);
    const { writeKey } = req.query as ConfigQuery;
    if (writeKey !== undefined && writeKey !== writeKeyOf(req)) throw new FiduciaError('FIDUCIA_VALIDATION', 'the writeKey parameter differs from the credentials');
    cacheFor(reply, false);
    return {
      isHosted: false,
      source: {
        id: source.id,
        enabled: true,
        workspaceId: 'fiducia',
        // No error reports or SDK metrics (they would go to /rsaMetrics), no device-mode destinations to load.
        config: { statsCollection: { errors: { enabled: false }, metrics: { enabled: false } } },
        destinations: [],
      },
    };
  };
  for (const path of ['/sourceConfig', '/sourceConfig/']) {
    app.get(
      path,
      {
        schema: {
          tags: ['ingestion'],
          operationId: path === '/sourceConfig' ? 'getRudderSourceConfig' : 'getRudderSourceConfigSlash',
          summary: 'RudderStack JavaScript SDK (v3) source configuration: enabled, no destinations, no telemetry',
          security: [{ writeKey: [] }],
          querystring: ConfigQuery,
          response: { 200: RudderConfig, 400: ErrorReply, 401: ErrorReply },
        },
      },
      sourceConfig,
    );
  }
}
