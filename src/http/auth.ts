// Authentication (a bearer token, or a console session cookie) and role checks for /api/*; every failure is audited
// (authentication failures in summary).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { callerMayActFor } from '../domain/policy.ts';
import { TokenSuspendedError, type AccessService, type Role } from '../services/access/access.ts';
import type { AuditRecorder } from '../services/audit/audit-port.ts';
import { principalOf, type ConsoleSession, type ConsoleUsers } from '../services/console/console-users.ts';
import type { AuthFailureRecorder } from './auth-failures.ts';
import { FiduciaError } from './errors.ts';

export interface Caller {
  /** The principal: a token id, or `user:<id>` for a console session (audit actor, exfiltration detection). */
  tokenId: string;
  role: Role;
  /** Purposes a `service` token may act for; empty for other roles. */
  purposes: readonly string[];
  /** Set when the request was authenticated by a console session cookie instead of a token. */
  session?: ConsoleSession;
}

/** The console's session cookie (docs/console.md). */
export const SESSION_COOKIE = 'fiducia_session';

export interface AuthDeps {
  access: AccessService;
  /** Refusals are recorded on their own (nothing else is written). */
  audit: AuditRecorder;
  /** Counts refused tokens per window and network; the audit log gets one summary per window, not one per request. */
  authFailures: AuthFailureRecorder;
  /** Console users and sessions: a request without a bearer token may carry a session cookie instead. */
  console?: ConsoleUsers | undefined;
}

const ROLES: readonly Role[] = ['admin', 'dpo', 'analyst', 'service'];
/** Longer than any token Fiducia issues: a longer value is refused without a lookup. */
const MAX_TOKEN_LENGTH = 256;

function bearer(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (typeof h !== 'string' || !h.startsWith('Bearer ')) return null;
  const t = h.slice(7).trim();
  return t.length > 0 ? t : null;
}

/**
 * The caller behind the request's token, or a 401. The failure is counted, not written: a summary `auth.failed`
 * entry per client network reaches the audit log when the window ends (src/http/auth-failures.ts).
 */
export async function authenticate(req: FastifyRequest, deps: AuthDeps): Promise<Caller> {
  const token = bearer(req);
  const cookie = req.headers.authorization === undefined ? sessionCookie(req) : null;
  if (cookie !== null && deps.console) return sessionCaller(req, deps, deps.console, cookie);
  const row = token && token.length <= MAX_TOKEN_LENGTH ? await deps.access.tokenFor(token) : null;
  if (!row || !(ROLES as readonly string[]).includes(row.role)) {
    deps.authFailures.record(req.ip, token ? 'unknown_token' : 'missing_token', req.routeOptions.url ?? 'unmatched');
    throw new FiduciaError('FIDUCIA_UNAUTHORIZED', token ? 'unknown or revoked token' : 'a bearer token is required');
  }
  // Counted on /metrics by its code like every refusal; the suspension itself is on record (`token.suspend`).
  if (row.suspended_at !== null) throw new TokenSuspendedError(row.id);
  return { tokenId: row.id, role: row.role as Role, purposes: JSON.parse(row.purposes) as string[] };
}

/** The session cookie's value, when the request carries one (the CSRF check in src/http/console-session.ts ran before). */
export function sessionCookie(req: FastifyRequest): string | null {
  const v = (req as FastifyRequest & { cookies?: Record<string, string | undefined> }).cookies?.[SESSION_COOKIE];
  return typeof v === 'string' && v.length > 0 ? v : null;
}

/** The console user behind a session cookie, with the role the user holds, or a 401 counted like a refused token. */
async function sessionCaller(req: FastifyRequest, deps: AuthDeps, users: ConsoleUsers, cookie: string): Promise<Caller> {
  const session = await users.session(cookie);
  if (!session) {
    deps.authFailures.record(req.ip, 'unknown_session', req.routeOptions.url ?? 'unmatched');
    throw new FiduciaError('FIDUCIA_UNAUTHORIZED', 'the console session has ended: log in again');
  }
  return { tokenId: principalOf(session.user.id), role: session.user.role, purposes: [], session };
}

/** 403 (audited as `authz.denied`) unless the caller has one of `roles`. */
export async function requireRole(req: FastifyRequest, deps: AuthDeps, caller: Caller, roles: readonly Role[]): Promise<void> {
  if (roles.includes(caller.role)) return;
  await deps.audit.record([
    { actor: caller.tokenId, action: 'authz.denied', outcome: 'denied', details: { route: req.routeOptions.url ?? 'unmatched', role: caller.role, reason: 'role_not_allowed' } },
  ]);
  throw new FiduciaError('FIDUCIA_FORBIDDEN', `role ${caller.role} may not do this`, { reason: 'role_not_allowed' });
}

/**
 * 403 `FIDUCIA_PURPOSE_NOT_ALLOWED` (audited as `authz.denied`) unless the caller may act for `purpose` on one
 * subject's data: admin and dpo for any purpose, service tokens for their bound purposes, analysts never.
 */
export async function requirePurpose(req: FastifyRequest, deps: AuthDeps, caller: Caller, purpose: string): Promise<void> {
  if (callerMayActFor(caller, purpose)) return;
  await deps.audit.record([
    { actor: caller.tokenId, action: 'authz.denied', purpose, outcome: 'denied', details: { route: req.routeOptions.url ?? 'unmatched', role: caller.role, reason: 'caller_not_allowed' } },
  ]);
  throw new FiduciaError('FIDUCIA_PURPOSE_NOT_ALLOWED', `this token may not act for purpose "${purpose}"`, { reason: 'caller_not_allowed', purpose });
}

/**
 * For a route module whose every route needs one of `roles`: checks the token and role on `onRequest`, before the
 * body is parsed or validated (a caller without them learns nothing of the schema), and returns the caller lookup.
 */
export function requireRoleOnRequest(app: FastifyInstance, deps: AuthDeps, roles: readonly Role[]): (req: FastifyRequest) => Caller {
  const callers = new WeakMap<FastifyRequest, Caller>();
  app.addHook('onRequest', async (req) => {
    const caller = await authenticate(req, deps);
    await requireRole(req, deps, caller, roles);
    callers.set(req, caller);
  });
  return (req) => callers.get(req)!;
}
