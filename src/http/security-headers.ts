// Security headers on every answer (helmet), and the CSP of the HTML documents Fiducia generates.
import { createHash } from 'node:crypto';
import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

/** Nothing loads, nothing frames, no form posts and no base: the default for JSON, errors and generated documents. */
const LOCKED = ["base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"];

/**
 * Every answer gets nosniff, `X-Frame-Options: DENY`, `Cross-Origin-Resource-Policy: same-origin` and a CSP that
 * loads nothing; Fiducia's pages (routes/web.ts) widen the CSP to their own files, the widget's bundles widen CORP.
 * The privacy center is linked to, not framed, by shops (the widget runs in the shop's page), so framing is denied.
 */
export async function registerSecurityHeaders(app: FastifyInstance): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"], frameAncestors: ["'none'"] },
    },
    frameguard: { action: 'deny' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    // Only the host Fiducia answers on: it cannot know whether every subdomain of it is served over HTTPS.
    strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: false },
    referrerPolicy: { policy: 'no-referrer' },
  });
}

/**
 * The CSP of a generated document (access package, record of processing, notice table): `default-src 'none'` with
 * the hash of each `<style>` in its head. Values in the body are escaped, so only our template's styles are there.
 */
export function documentCsp(html: string): string {
  const headEnd = html.indexOf('</head>');
  const head = headEnd < 0 ? '' : html.slice(0, headEnd);
  const hashes: string[] = [];
  for (let at = head.indexOf('<style>'); at >= 0; at = head.indexOf('<style>', at + 1)) {
    const start = at + '<style>'.length;
    const end = head.indexOf('</style>', start);
    if (end < 0) break;
    hashes.push(`'sha256-${createHash('sha256').update(head.slice(start, end)).digest('base64')}'`);
  }
  return ["default-src 'none'", ...(hashes.length > 0 ? [`style-src ${hashes.join(' ')}`] : []), ...LOCKED].join('; ');
}
