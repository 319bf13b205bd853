// Console authentication: the first admin (from the bootstrap admin token), login and logout with a session cookie,
// the session's user and CSRF token, a user's own password, and console users managed by admins (docs/console.md).
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MAX_PASSWORD, MIN_PASSWORD, type ConsoleSession, type ConsoleUser, type ConsoleUsers } from '../../services/console/console-users.ts';
import { SESSION_COOKIE, authenticate, requireRoleOnRequest } from '../auth.ts';
import type { HttpContext } from '../context.ts';
import { CSRF_COOKIE, cookieFlags, csrfBinding } from '../console-session.ts';
import { FiduciaError } from '../errors.ts';

/** Failed logins per client network and minute before the login route answers 429 (auth-failures.ts counts them). */
export const LOGIN_FAILURES_PER_WINDOW = 10;

// Printable ASCII without inner spaces (surrounding ones are trimmed): an email address or a user name; bounded before
// anything is hashed or looked up.
const Username = Type.String({ minLength: 1, maxLength: 254, pattern: '^ *[\\x21-\\x7e]+ *$' });
const Password = Type.String({ minLength: MIN_PASSWORD, maxLength: MAX_PASSWORD });
const AnyPassword = Type.String({ minLength: 1, maxLength: MAX_PASSWORD });
const Role = Type.Union([Type.Literal('admin'), Type.Literal('dpo'), Type.Literal('analyst')]);
const SetupBody = Type.Object({ bootstrapToken: Type.String({ minLength: 1, maxLength: 256 }), username: Username, password: Password }, { additionalProperties: false });
const LoginBody = Type.Object({ username: Username, password: AnyPassword }, { additionalProperties: false });
const CreateBody = Type.Object({ username: Username, role: Role, password: Password }, { additionalProperties: false });
const ResetBody = Type.Object({ password: Password }, { additionalProperties: false });
const ChangeBody = Type.Object({ currentPassword: AnyPassword, newPassword: Password }, { additionalProperties: false });
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[\\x21-\\x7e]+$' }) });
const User = Type.Object({
  id: Type.String(),
  username: Type.String(),
  role: Type.String(),
  createdAt: Type.String(),
  disabledAt: Type.Union([Type.String(), Type.Null()]),
  /** Set while exfiltration detection holds the user suspended (docs/exfiltration.md). */
  suspendedAt: Type.Union([Type.String(), Type.Null()]),
  suspendedReason: Type.Union([Type.String(), Type.Null()]),
});
const Reinstated = Type.Object({ id: Type.String(), status: Type.Literal('active') });
const Me = Type.Object({ user: User, csrfToken: Type.String() });
const ErrorReply = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) }) });
const errors = { 400: ErrorReply, 401: ErrorReply, 403: ErrorReply };
const TAGS = ['console'];
const SESSION: Record<string, string[]>[] = [{ session: [] }];
const STAFF: Record<string, string[]>[] = [{ token: [] }, { session: [] }];

const userView = (u: ConsoleUser) => ({
  id: u.id,
  username: u.username,
  role: u.role,
  createdAt: new Date(u.createdAt).toISOString(),
  disabledAt: u.disabledAt === null ? null : new Date(u.disabledAt).toISOString(),
  suspendedAt: u.suspendedAt === null ? null : new Date(u.suspendedAt).toISOString(),
  suspendedReason: u.suspendedReason,
});

export async function consoleAuthRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  const users = ctx.console;
  if (!users) return;
  startRoutes(app, ctx, users);
  // Each group checks its credential on `onRequest`, before the body is validated (a stranger learns nothing of it).
  await app.register(async (s) => sessionRoutes(s, ctx, users));
  await app.register(async (s) => userRoutes(s, ctx, users));
}

/** Requires a console session on every route of `app` (403 for a token: these routes are about a console user). */
function requireSessionOnRequest(app: FastifyInstance, ctx: HttpContext): (req: FastifyRequest) => ConsoleSession {
  const sessions = new WeakMap<FastifyRequest, ConsoleSession>();
  app.addHook('onRequest', async (req) => {
    const caller = await authenticate(req, ctx);
    if (!caller.session) throw new FiduciaError('FIDUCIA_FORBIDDEN', 'this needs a console session, not an API token', { reason: 'console_session_required' });
    sessions.set(req, caller.session);
  });
  return (req) => sessions.get(req)!;
}

function startSession(reply: FastifyReply, ctx: HttpContext, users: ConsoleUsers, sessionId: string): string {
  void reply.setCookie(SESSION_COOKIE, sessionId, { ...cookieFlags(ctx), maxAge: Math.floor(users.absoluteMs / 1000) });
  return reply.generateCsrf({ userInfo: csrfBinding(sessionId) });
}

function startRoutes(app: FastifyInstance, ctx: HttpContext, users: ConsoleUsers): void {
  app.post(
    '/api/v1/console/setup',
    { schema: { operationId: 'setupConsoleAdmin', summary: 'Create the first console admin with the bootstrap admin token (only while there is no console user)', tags: TAGS, security: [], body: SetupBody, response: { 201: Type.Object({ user: User }), ...errors, 409: ErrorReply } } },
    async (req, reply) => {
      const body = req.body as Static<typeof SetupBody>;
      const token = await ctx.access.tokenFor(body.bootstrapToken);
      if (!token || token.role !== 'admin' || token.suspended_at !== null) {
        ctx.authFailures.record(req.ip, 'unknown_token', req.routeOptions.url ?? 'unmatched');
        throw new FiduciaError('FIDUCIA_UNAUTHORIZED', 'an active admin token (FIDUCIA_ADMIN_TOKEN, or the one printed at first start) is required');
      }
      const user = await users.setupFirstAdmin(body.username, body.password, token.id);
      if (!user) throw new FiduciaError('FIDUCIA_CONSOLE_SETUP_DONE', 'the console already has users: an admin adds more');
      return reply.status(201).send({ user: userView(user) });
    },
  );

  app.post(
    '/api/v1/console/login',
    { schema: { operationId: 'consoleLogin', summary: 'Log in to the console: sets the session cookie and returns the CSRF token', tags: TAGS, security: [], body: LoginBody, response: { 200: Me, ...errors, 429: ErrorReply } } },
    async (req, reply) => {
      if (ctx.authFailures.passwordFailures(req.ip) >= LOGIN_FAILURES_PER_WINDOW) throw new FiduciaError('FIDUCIA_RATE_LIMITED', 'too many failed logins from this network: wait a minute');
      const body = req.body as Static<typeof LoginBody>;
      const started = await users.login(body.username, body.password);
      if (!started) {
        ctx.authFailures.record(req.ip, 'bad_password', req.routeOptions.url ?? 'unmatched');
        throw new FiduciaError('FIDUCIA_UNAUTHORIZED', 'wrong user name or password');
      }
      // Only after the right password: a guesser never learns that a name exists from this answer.
      if ('suspended' in started) {
        throw new FiduciaError('FIDUCIA_USER_SUSPENDED', 'this console user is suspended by exfiltration detection: an admin must reinstate it', { reason: 'user_suspended', userId: started.suspended.id });
      }
      const csrfToken = startSession(reply, ctx, users, started.sessionId);
      return { user: userView(started.user), csrfToken };
    },
  );
}

function sessionRoutes(app: FastifyInstance, ctx: HttpContext, users: ConsoleUsers): void {
  const sessionOf = requireSessionOnRequest(app, ctx);

  app.post(
    '/api/v1/console/logout',
    { schema: { operationId: 'consoleLogout', summary: 'End the console session', tags: TAGS, security: SESSION, response: { ...errors } } },
    async (req, reply) => {
      const session = sessionOf(req);
      await users.logout(session);
      void reply.clearCookie(SESSION_COOKIE, cookieFlags(ctx)).clearCookie(CSRF_COOKIE, cookieFlags(ctx));
      return reply.status(204).send();
    },
  );

  app.get(
    '/api/v1/console/me',
    { schema: { operationId: 'consoleMe', summary: "The session's user, role and CSRF token", tags: TAGS, security: SESSION, response: { 200: Me, ...errors } } },
    async (req, reply) => {
      const session = sessionOf(req);
      // The cookie checked above is the one the token is bound to.
      const cookie = (req.cookies[SESSION_COOKIE] ?? '') as string;
      return { user: userView(session.user), csrfToken: reply.generateCsrf({ userInfo: csrfBinding(cookie) }) };
    },
  );

  app.post(
    '/api/v1/console/password',
    { schema: { operationId: 'changeConsolePassword', summary: 'Change your own console password (your other sessions end)', tags: TAGS, security: SESSION, body: ChangeBody, response: { ...errors } } },
    async (req, reply) => {
      const session = sessionOf(req);
      const body = req.body as Static<typeof ChangeBody>;
      if (!(await users.changePassword(session, body.currentPassword, body.newPassword))) {
        throw new FiduciaError('FIDUCIA_FORBIDDEN', 'the current password is wrong', { reason: 'wrong_password' });
      }
      return reply.status(204).send();
    },
  );
}

function userRoutes(app: FastifyInstance, ctx: HttpContext, users: ConsoleUsers): void {
  const admin = requireRoleOnRequest(app, ctx, ['admin']);

  app.post(
    '/api/v1/console/users',
    { schema: { operationId: 'createConsoleUser', summary: 'Create a console user with a role (admin only)', tags: TAGS, security: STAFF, body: CreateBody, response: { 201: Type.Object({ user: User }), ...errors, 409: ErrorReply } } },
    async (req, reply) => {
      const caller = admin(req);
      const body = req.body as Static<typeof CreateBody>;
      const user = await users.createUser(body.username, body.role, body.password, caller.tokenId);
      if (!user) throw new FiduciaError('FIDUCIA_USERNAME_TAKEN', 'a console user with this name exists');
      return reply.status(201).send({ user: userView(user) });
    },
  );

  app.get(
    '/api/v1/console/users',
    { schema: { operationId: 'listConsoleUsers', summary: 'List console users, without password hashes (admin only)', tags: TAGS, security: STAFF, response: { 200: Type.Object({ users: Type.Array(User) }), ...errors } } },
    async () => ({ users: (await users.listUsers()).map(userView) }),
  );

  app.post(
    '/api/v1/console/users/:id/disable',
    { schema: { operationId: 'disableConsoleUser', summary: "Disable a console user and end their sessions (admin only)", tags: TAGS, security: STAFF, params: IdParams, response: { ...errors, 404: ErrorReply, 409: ErrorReply } } },
    async (req, reply) => {
      const caller = admin(req);
      const r = await users.disableUser((req.params as Static<typeof IdParams>).id, caller.tokenId);
      if (r === 'not_found') throw new FiduciaError('FIDUCIA_NOT_FOUND', 'no such console user');
      if (r === 'last_admin') throw new FiduciaError('FIDUCIA_LAST_ADMIN_USER', 'this is the last active console admin: create another admin first');
      return reply.status(204).send();
    },
  );

  app.post(
    '/api/v1/console/users/:id/reinstate',
    { schema: { operationId: 'reinstateConsoleUser', summary: 'Reinstate a console user suspended by exfiltration detection (admin only)', tags: TAGS, security: STAFF, params: IdParams, response: { 200: Reinstated, ...errors, 404: ErrorReply, 409: ErrorReply } } },
    async (req) => {
      const caller = admin(req);
      const { id } = req.params as Static<typeof IdParams>;
      const r = await users.reinstateUser(id, caller.tokenId);
      if (r === 'not_found') throw new FiduciaError('FIDUCIA_NOT_FOUND', 'no such console user');
      if (r === 'self') throw new FiduciaError('FIDUCIA_FORBIDDEN', 'another admin must reinstate you', { reason: 'self_reinstate' });
      if (r === 'not_suspended') throw new FiduciaError('FIDUCIA_REQUEST_STATE', 'this console user is not suspended', { reason: 'not_suspended' });
      return { id, status: 'active' as const };
    },
  );

  app.post(
    '/api/v1/console/users/:id/password',
    { schema: { operationId: 'resetConsolePassword', summary: "Set a console user's password and end their sessions (admin only)", tags: TAGS, security: STAFF, params: IdParams, body: ResetBody, response: { ...errors, 404: ErrorReply } } },
    async (req, reply) => {
      const caller = admin(req);
      const r = await users.resetPassword((req.params as Static<typeof IdParams>).id, (req.body as Static<typeof ResetBody>).password, caller.tokenId);
      if (r === 'not_found') throw new FiduciaError('FIDUCIA_NOT_FOUND', 'no such console user');
      return reply.status(204).send();
    },
  );
}
