// The Fastify application: body parsing, error mapping, logging without personal data, and the route modules.
import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { HttpContext } from './context.ts';
import { FiduciaError, errorBody } from './errors.ts';
import { DatabaseBusyError, isDatabaseBusy } from '../domain/errors.ts';
import { registerJsonBodyParser } from './json-body.ts';
import { registerApiDocs } from './api-docs.ts';
import { registerSecurityHeaders } from './security-headers.ts';
import { registerConsoleSession } from './console-session.ts';
import { consoleAuthRoutes } from './routes/console-auth.ts';
import type { TrustProxyFn } from './trust-proxy.ts';
import { auditRoutes } from './routes/audit.ts';
import { breachRoutes } from './routes/breaches.ts';
import { consentRoutes } from './routes/consent.ts';
import { healthRoutes } from './routes/health.ts';
import { ingestRoutes } from './routes/ingest.ts';
import { jobRoutes } from './routes/jobs.ts';
import { destinationReplayRoutes, destinationRoutes } from './routes/destinations.ts';
import { profileRoutes } from './routes/profiles.ts';
import { segmentRoutes } from './routes/segments.ts';
import { ropaRoutes } from './routes/ropa.ts';
import { sdkSettingsRoutes } from './routes/sdk-settings.ts';
import { rightsPublicRoutes } from './routes/rights-public.ts';
import { visitorRoutes } from './routes/visitor.ts';
import { rightsRoutes } from './routes/rights.ts';
import { sourceRoutes } from './routes/sources.ts';
import { tokenRoutes } from './routes/tokens.ts';
import { exfiltrationRoutes } from './routes/exfiltration.ts';
import { debuggerRoutes } from './routes/debugger.ts';
import { overviewRoutes } from './routes/overview.ts';
import { webRoutes } from './routes/web.ts';
import { transparencyRoutes } from './routes/transparency.ts';

/** The one translation to the catalogue: our errors carry their code; Fastify's own are named here; anything else is internal. */
function toFiduciaError(err: FastifyError | Error): FiduciaError {
  if (err instanceof FiduciaError) return err;
  if (isDatabaseBusy(err)) return new DatabaseBusyError();
  const fe = err as FastifyError;
  if (fe.validation) {
    const details = fe.validation.map((v) => ({ path: v.instancePath || '/', message: v.message ?? 'invalid' }));
    return new FiduciaError('FIDUCIA_VALIDATION', `invalid request ${fe.validationContext ?? 'body'}: ${details[0]?.path} ${details[0]?.message}`, details);
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new FiduciaError('FIDUCIA_BODY_TOO_LARGE', 'the request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new FiduciaError('FIDUCIA_UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
    case 'FST_CSRF_MISSING_SECRET':
    case 'FST_CSRF_INVALID_TOKEN':
      // A console session's state-changing request without its CSRF token (src/http/console-session.ts).
      return new FiduciaError('FIDUCIA_CSRF', `send the session's CSRF token in the x-csrf-token header`, { reason: fe.code === 'FST_CSRF_MISSING_SECRET' ? 'csrf_secret_missing' : 'csrf_token_invalid' });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new FiduciaError('FIDUCIA_INVALID_JSON', 'the body is empty or its length is wrong');
  }
  if (fe.statusCode === 429) return new FiduciaError('FIDUCIA_RATE_LIMITED', 'too many requests');
  return new FiduciaError('FIDUCIA_INTERNAL', 'internal error');
}

/** Requests are logged by route pattern: URLs can carry identities (`/profiles/email:…`). */
function requestSummary(req: FastifyRequest) {
  return { id: req.id, method: req.method, route: req.routeOptions?.url ?? 'unmatched' };
}

export interface HttpOptions {
  /** Which `X-Forwarded-For` hops to believe, as `resolveTrustProxy` (trust-proxy.ts) gives it; default none. */
  trustProxy?: TrustProxyFn | string[] | false;
}

/** Preflights reach the CORS plugin whatever their path: only the public `/v1/` API (and RudderStack's settings) may answer them. */
const isPublicPath = (url: string) => url.startsWith('/v1/') || url === '/sourceConfig' || url.startsWith('/sourceConfig/') || url.startsWith('/sourceConfig?');

/** The public collection API (write keys, settings for SDKs, consent, self-service rights), with CORS for shops' pages. */
async function publicApi(pub: FastifyInstance, ctx: HttpContext): Promise<void> {
  // The public collection API is called by browser SDKs from shops' own origins; write keys are public.
  // The plugin's catch-all OPTIONS route would also answer preflights for /api/*: those get no CORS (a 404).
  // SDKs' own headers, which a preflight must allow or the SDK cannot send at all: analytics.js numbers its retries
  // (X-Retry-Count); RudderStack's SDK names the visitor and the send time, and describes its retries (Rsa-*).
  const sdkHeaders = ['X-Retry-Count', 'AnonymousId', 'SentAt', 'Rsa-Recovered', 'Rsa-Retry-Attempt', 'Rsa-Since-Last-Attempt', 'Rsa-Since-First-Attempt', 'Rsa-Retry-Reason'];
  const publicCors = { origin: true, methods: ['GET', 'POST', 'OPTIONS'], allowedHeaders: ['Content-Type', 'Authorization', 'Sec-GPC', ...sdkHeaders], maxAge: 86_400 };
  await pub.register(cors, {
    delegator: (req, cb) => cb(null, isPublicPath(req.url) ? publicCors : { origin: false }),
  });
  await pub.register(async (s) => ingestRoutes(s, ctx));
  await pub.register(async (s) => sdkSettingsRoutes(s, ctx));
  await pub.register(async (s) => consentRoutes(s, ctx));
  await pub.register(async (s) => rightsPublicRoutes(s, ctx));
  await pub.register(async (s) => visitorRoutes(s, ctx));
}

export async function buildHttpApp(ctx: HttpContext, logger: Logger, opts: HttpOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Fastify's own request lines carry the URL and client address; ours log the route pattern only.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 512 * 1024,
    trustProxy: opts.trustProxy ?? false,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    return503OnClosing: true,
    // Router errors (a malformed %-escape, an over-long path parameter) skip hooks and the error handler: answer them
    // in the catalogue's shape, with the headers every answer has, and without echoing the URL (it can hold an identity).
    frameworkErrors: (err, _req, res) => {
      const fe = new FiduciaError('FIDUCIA_VALIDATION', err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path parameter is too long' : 'the URL is not valid');
      // This hook's reply is typed for a route with no schema at all; it is the same object as any route's.
      const reply = res as unknown as FastifyReply;
      void reply
        .header('x-content-type-options', 'nosniff')
        .header('x-frame-options', 'DENY')
        .header('content-security-policy', "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
        .status(fe.status)
        .send(errorBody(fe));
    },
  });
  registerJsonBodyParser(app);
  // No text Fiducia stores or looks up may hold a NUL (PostgreSQL refuses it in text): one in the URL (a path
  // parameter or a query filter) is refused here, before any route reads it.
  app.addHook('onRequest', async (req) => {
    if (/%00/i.test(req.url)) throw new FiduciaError('FIDUCIA_VALIDATION', 'the URL holds a NUL character');
  });
  await registerSecurityHeaders(app);
  await registerConsoleSession(app, ctx);
  await app.register(swagger, {
    openapi: {
      info: { title: 'Fiducia', version: '0.1.0', description: 'Privacy-first customer data platform' },
      components: { securitySchemes: { writeKey: { type: 'http', scheme: 'basic' }, token: { type: 'http', scheme: 'bearer' }, session: { type: 'apiKey', in: 'cookie', name: 'fiducia_session' }, visitorCredential: { type: 'http', scheme: 'bearer', bearerFormat: 'fv1' } } },
    },
  });

  app.addHook('onResponse', async (req, reply) => {
    if (reply.statusCode >= 500) req.log.error({ req: requestSummary(req), status: reply.statusCode }, 'request failed');
    else req.log.debug({ req: requestSummary(req), status: reply.statusCode, ms: reply.elapsedTime }, 'request');
  });

  app.setErrorHandler(async (err: FastifyError, req, reply) => {
    const fe = toFiduciaError(err);
    if (fe.code === 'FIDUCIA_INTERNAL') req.log.error({ req: requestSummary(req), err: { type: err.name, message: err.message, stack: err.stack } }, 'unhandled error');
    if (fe instanceof DatabaseBusyError) req.log.warn({ req: requestSummary(req), err: { type: err.name, code: (err as { code?: unknown }).code } }, 'database busy: answered 503');
    ctx.metrics.rejected.inc({ code: fe.code });
    for (const [name, value] of Object.entries(fe.headers())) void reply.header(name, value);
    return reply.status(fe.status).send(errorBody(fe));
  });
  app.setNotFoundHandler(async (req, reply) => {
    const fe = new FiduciaError('FIDUCIA_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`);
    return reply.status(404).send(errorBody(fe));
  });

  await app.register(async (pub) => publicApi(pub, ctx));
  await app.register(async (ops) => healthRoutes(ops, ctx));
  // The token-authenticated API, one encapsulated plugin per area (each adds its own auth hooks).
  const areas = [profileRoutes, segmentRoutes, auditRoutes, ropaRoutes, rightsRoutes, tokenRoutes, sourceRoutes, jobRoutes, destinationRoutes, destinationReplayRoutes, breachRoutes, exfiltrationRoutes, debuggerRoutes, overviewRoutes, consoleAuthRoutes];
  for (const routes of areas) await app.register(async (s) => routes(s, ctx));
  await app.register(async (s) => webRoutes(s, ctx));
  await app.register(async (s) => transparencyRoutes(s, ctx));
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await registerApiDocs(app);
  return app;
}
