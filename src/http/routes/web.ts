// Fiducia's browser-facing files: /widget.js (the consent widget), the privacy center at /privacy, the demo shop at
// /demo and the console at /console (where `/` leads).
import { readFile } from 'node:fs/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { escapeHtml } from '../../domain/html.ts';
import type { HttpContext } from '../context.ts';
import { FiduciaError } from '../errors.ts';
import { WEB_BUNDLES, WEB_ROOT, buildWebAssets, type WebAsset, type WebBundle } from '../web-build.ts';

/** The pages load only their own scripts and styles and talk only to this server; nobody frames them. */
const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };

/** `?lang=it|en`, else the first of ours in Accept-Language, else the configuration's first language. */
function pageLanguage(req: FastifyRequest, languages: readonly string[]): string {
  const q = (req.query as Record<string, unknown>)['lang'];
  if (typeof q === 'string' && languages.includes(q)) return q;
  const accept = req.headers['accept-language'];
  if (typeof accept === 'string') {
    for (const part of accept.split(',')) {
      const tag = part.trim().slice(0, 2).toLowerCase();
      if (languages.includes(tag)) return tag;
    }
  }
  return languages[0] ?? 'en';
}

export async function webRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  // Built on first request and kept for the life of the app; a failed build is retried on the next request.
  let built: Promise<Map<WebBundle, WebAsset>> | undefined;
  const assets = () =>
    (built ??= buildWebAssets().catch((err: unknown) => {
      built = undefined;
      throw err;
    }));
  const templates = new Map<string, Promise<string>>();
  const template = (file: string) => {
    let t = templates.get(file);
    if (!t) templates.set(file, (t = readFile(`${WEB_ROOT}${file}`, 'utf8')));
    return t;
  };

  const sendAsset = async (req: FastifyRequest, reply: FastifyReply, name: WebBundle) => {
    let asset: WebAsset | undefined;
    try {
      asset = (await assets()).get(name);
    } catch (err) {
      req.log.error({ err: { type: (err as Error).name, message: (err as Error).message } }, 'web bundle build failed');
      // A build that failed in some other way (esbuild itself crashed) is still a 503, without its message.
      throw err instanceof FiduciaError ? err : new FiduciaError('FIDUCIA_UNAVAILABLE', 'the web bundles could not be built');
    }
    if (!asset) throw new FiduciaError('FIDUCIA_NOT_FOUND', `no ${name}`);
    void reply
      .header('content-type', TYPES[name.split('.').pop() ?? ''] ?? 'application/octet-stream')
      .header('cache-control', 'public, max-age=300')
      .header('etag', asset.etag)
      .header('vary', 'accept-encoding')
      // Shops embed /widget.js from their own origin, including pages that require CORP (COEP).
      .header('cross-origin-resource-policy', 'cross-origin')
      .header('access-control-allow-origin', '*');
    if (req.headers['if-none-match'] === asset.etag) return reply.status(304).send();
    const accept = req.headers['accept-encoding'];
    if (typeof accept === 'string' && /\bgzip\b/.test(accept)) return reply.header('content-encoding', 'gzip').send(asset.gzip);
    return reply.send(asset.body);
  };
  for (const name of WEB_BUNDLES) {
    app.get(`/${name}`, { schema: { hide: true } }, async (req, reply) => sendAsset(req, reply, name));
  }

  const sendPage = async (req: FastifyRequest, reply: FastifyReply, file: string) => {
    const lang = pageLanguage(req, ctx.cfg.config.languages);
    const page = await template(file);
    const writeKey = ctx.pages && page.includes('{{writeKey}}') ? await ctx.pages.writeKey() : '';
    const html = page.replaceAll('{{lang}}', lang).replaceAll('{{writeKey}}', escapeHtml(writeKey));
    return reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      // Widens the default CSP (security-headers.ts, which also sends nosniff, DENY framing, no referrer) to the page's files.
      .header('content-security-policy', PAGE_CSP)
      .send(html);
  };
  // The console is a client of the public API like any other; it needs no write key and no widget.
  app.get('/console', { schema: { hide: true } }, async (req, reply) => sendPage(req, reply, 'console/index.html'));
  app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/console', 302));
  app.get('/privacy', { schema: { hide: true } }, async (req, reply) => sendPage(req, reply, 'privacy/index.html'));
  app.get('/demo', { schema: { hide: true } }, async (req, reply) => {
    if (!ctx.pages?.demo) throw new FiduciaError('FIDUCIA_NOT_FOUND', 'the demo shop is off (FIDUCIA_DEMO=1 turns it on)');
    return sendPage(req, reply, 'demo/index.html');
  });
}
