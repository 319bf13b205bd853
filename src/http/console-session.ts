// The console's cookies: @fastify/cookie parses them, @fastify/csrf-protection checks the CSRF token of every
// state-changing /api/ request a session cookie authenticates (a bearer token is not sent by browsers on their own).
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SESSION_COOKIE, sessionCookie } from './auth.ts';
import type { HttpContext } from './context.ts';

/** The cookie holding the CSRF secret; the token itself travels in the `x-csrf-token` header. */
export const CSRF_COOKIE = 'fiducia_csrf';
export const CSRF_HEADER = 'x-csrf-token';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Routes that start a session rather than use one: a stale cookie must not stop a new login. */
export const SESSION_STARTERS = new Set(['/api/v1/console/login', '/api/v1/console/setup']);

/** What CSRF tokens are bound to: a hash of the session id (the id itself stays in its cookie). */
export const csrfBinding = (sessionId: string) => createHash('sha256').update(`csrf:${sessionId}`, 'utf8').digest('hex');

export interface CookieFlags {
  httpOnly: true;
  sameSite: 'strict';
  path: '/';
  secure: boolean;
}

export function cookieFlags(ctx: HttpContext): CookieFlags {
  return { httpOnly: true, sameSite: 'strict', path: '/', secure: (ctx.publicUrl ?? '').startsWith('https:') };
}

export async function registerConsoleSession(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  // Every token-authenticated /api/ operation takes a console session as well: the OpenAPI document says so.
  app.addHook('onRoute', (route) => {
    const security = (route.schema as { security?: Record<string, string[]>[] } | undefined)?.security;
    if (route.url.startsWith('/api/') && security?.some((r) => 'token' in r) && !security.some((r) => 'session' in r)) security.push({ session: [] });
  });
  await app.register(cookie);
  if (!ctx.console || !ctx.csrfKey) return;
  await app.register(csrf, {
    cookieKey: CSRF_COOKIE,
    cookieOpts: cookieFlags(ctx),
    getToken: (req: FastifyRequest) => {
      const t = req.headers[CSRF_HEADER];
      return typeof t === 'string' && t.length <= 256 ? t : '';
    },
    getUserInfo: (req: FastifyRequest) => csrfBinding(sessionCookie(req) ?? ''),
    csrfOpts: { hmacKey: ctx.csrfKey },
  });
  app.addHook('onRequest', (req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
    const route = req.routeOptions.url ?? '';
    if (SAFE_METHODS.has(req.method) || !route.startsWith('/api/') || SESSION_STARTERS.has(route)) return done();
    // A bearer token wins over the cookie (src/http/auth.ts), and no browser attaches one by itself.
    if (req.headers.authorization !== undefined || sessionCookie(req) === null) return done();
    app.csrfProtection(req, reply, done);
  });
}

export { SESSION_COOKIE };
