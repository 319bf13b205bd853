// Console users: password login (scrypt), server-side sessions with idle and absolute expiry, and their management.
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { uuidv7 } from '../../domain/ids.ts';
import { ConsoleRepo } from '../../store/console-repo.ts';
import type { ConsoleUsersTable } from '../../store/schema.ts';
import type { DataScope } from '../../store/scope.ts';
import type { AuditEntryInput, AuditPort } from '../audit/audit-port.ts';

export type ConsoleRole = 'admin' | 'dpo' | 'analyst';
export const CONSOLE_ROLES: readonly ConsoleRole[] = ['admin', 'dpo', 'analyst'];

/** scrypt cost: N = 2^15, r = 8, p = 1 (32 MiB, RFC 7914's interactive-login figure); stored with each hash. */
const COST = { N: 2 ** 15, r: 8, p: 1 } as const;
const KEY_BYTES = 32;
/** Parameters a stored hash may name: a tampered row cannot make a login allocate gigabytes. */
const MAX_N = 2 ** 20;
export const MIN_PASSWORD = 12;
export const MAX_PASSWORD = 256;

function scryptAsync(password: string, salt: Buffer, cost: { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_BYTES, { ...cost, maxmem: 256 * cost.N * cost.r + 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, COST);
  return ['scrypt', COST.N, COST.r, COST.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Constant-time comparison against a stored `scrypt$N$r$p$salt$hash`; false for anything malformed. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [kind, n, r, p, salt, hash] = stored.split('$');
  const cost = { N: Number(n), r: Number(r), p: Number(p) };
  if (kind !== 'scrypt' || !salt || !hash || !Number.isInteger(cost.N) || cost.N < 2 || cost.N > MAX_N || !(cost.r >= 1 && cost.r <= 32) || !(cost.p >= 1 && cost.p <= 4)) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await scryptAsync(password, Buffer.from(salt, 'base64url'), cost);
  return expected.length === key.length && timingSafeEqual(expected, key);
}

export function normalizeUsername(name: string): string {
  return name.normalize('NFC').trim().toLowerCase();
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

export interface ConsoleUser {
  id: string;
  username: string;
  role: ConsoleRole;
  createdAt: number;
  passwordChangedAt: number;
  disabledAt: number | null;
  /** Set while exfiltration detection holds the user suspended (docs/exfiltration.md). */
  suspendedAt: number | null;
  suspendedReason: string | null;
}

/** A live session: the user behind it and the hash that names it (never the id the cookie carries). */
export interface ConsoleSession {
  user: ConsoleUser;
  sessionHash: string;
}

export interface ConsoleOptions {
  /** A session unused this long ends (default 30 minutes). */
  idleMs?: number | undefined;
  /** A session ends this long after login whatever its use (default 12 hours). */
  absoluteMs?: number | undefined;
  now?: (() => number) | undefined;
}

export type UserChange = 'ok' | 'not_found' | 'already_disabled' | 'last_admin';

/** A login: a new session, the right password of a suspended user (who may be told so), or null (the same 401 for all else). */
export type LoginResult = { sessionId: string; user: ConsoleUser } | { suspended: ConsoleUser } | null;

function userOf(r: Omit<ConsoleUsersTable, 'password_hash'>): ConsoleUser {
  return {
    id: r.id,
    username: r.username,
    role: r.role as ConsoleRole,
    createdAt: Number(r.created_at),
    passwordChangedAt: Number(r.password_changed_at),
    disabledAt: r.disabled_at === null ? null : Number(r.disabled_at),
    suspendedAt: r.suspended_at === null ? null : Number(r.suspended_at),
    suspendedReason: r.suspended_reason,
  };
}

/** The principal of a console user in the audit log and in exfiltration detection. */
export const principalOf = (userId: string) => `user:${userId}`;

export class ConsoleUsers {
  readonly idleMs: number;
  readonly absoluteMs: number;
  readonly #now: () => number;
  /** Verified against when the user name is unknown, so that answer takes as long as a wrong password. */
  #dummy: Promise<string> | undefined;

  constructor(
    private readonly db: DataScope,
    private readonly audit: AuditPort,
    opts: ConsoleOptions = {},
  ) {
    this.idleMs = opts.idleMs ?? 30 * 60_000;
    this.absoluteMs = opts.absoluteMs ?? 12 * 3_600_000;
    this.#now = opts.now ?? Date.now;
  }

  async #write<T>(work: (repo: ConsoleRepo, append: (e: AuditEntryInput) => Promise<void>) => Promise<T>): Promise<T> {
    return this.db.transaction((trx) => work(new ConsoleRepo(trx), (e) => this.audit.append(trx, [e])));
  }

  async hasUsers(): Promise<boolean> {
    return (await new ConsoleRepo(this.db).countUsers()) > 0;
  }

  /** The first admin, only while there is no console user at all; `actor` is the admin token that set it up. */
  async setupFirstAdmin(username: string, password: string, actor: string): Promise<ConsoleUser | null> {
    const hash = await hashPassword(password);
    return this.#write(async (repo, append) => {
      await repo.lockUsers();
      if ((await repo.countUsers()) > 0) return null;
      const row = this.#row(username, 'admin', hash);
      if (!(await repo.insertUser(row))) return null;
      await append({ actor, action: 'console.setup', outcome: 'ok', details: { userId: row.id, role: 'admin' } });
      return userOf(row);
    });
  }

  #row(username: string, role: ConsoleRole, hash: string): ConsoleUsersTable {
    const now = this.#now();
    return { id: uuidv7(), username: normalizeUsername(username), role, password_hash: hash, created_at: now, password_changed_at: now, disabled_at: null, suspended_at: null, suspended_reason: null };
  }

  async createUser(username: string, role: ConsoleRole, password: string, actor: string): Promise<ConsoleUser | null> {
    const hash = await hashPassword(password);
    return this.#write(async (repo, append) => {
      const row = this.#row(username, role, hash);
      if (!(await repo.insertUser(row))) return null;
      await append({ actor, action: 'console.user.create', outcome: 'ok', details: { userId: row.id, role } });
      return userOf(row);
    });
  }

  async listUsers(): Promise<ConsoleUser[]> {
    return (await new ConsoleRepo(this.db).listUsers()).map(userOf);
  }

  async userById(id: string): Promise<ConsoleUser | null> {
    const row = await new ConsoleRepo(this.db).userById(id);
    return row ? userOf(row) : null;
  }

  /**
   * A new session for the right password, or null. An unknown name, a disabled user and a wrong password take the same
   * path (one scrypt) and give the same null: the answer tells nobody which names exist. Only whoever proved the
   * password of a suspended user learns that it is suspended (and the refusal is audited).
   */
  async login(username: string, password: string): Promise<LoginResult> {
    const row = await new ConsoleRepo(this.db).userByName(normalizeUsername(username));
    this.#dummy ??= hashPassword(randomBytes(16).toString('hex'));
    const ok = await verifyPassword(password, row?.password_hash ?? (await this.#dummy));
    if (!row || !ok || row.disabled_at !== null) return null;
    if (row.suspended_at !== null) {
      await this.audit.append(this.db, [{ actor: principalOf(row.id), action: 'console.login', outcome: 'denied', details: { userId: row.id, role: row.role, reason: 'user_suspended' } }]);
      return { suspended: userOf(row) };
    }
    const sessionId = randomBytes(32).toString('base64url');
    const now = this.#now();
    await this.#write(async (repo, append) => {
      // Ended sessions go when someone logs in: the table holds live sessions and the last few ended ones.
      await repo.pruneSessions(now - this.absoluteMs, now - this.idleMs);
      await repo.insertSession({ id_hash: sha256(sessionId), user_id: row.id, created_at: now, last_seen_at: now, revoked_at: null });
      await append({ actor: principalOf(row.id), action: 'console.login', outcome: 'ok', details: { userId: row.id, role: row.role } });
    });
    return { sessionId, user: userOf(row) };
  }

  /** The live session the cookie names, or null (unknown, revoked, idle too long, too old, or its user disabled or suspended). */
  async session(sessionId: string): Promise<ConsoleSession | null> {
    if (sessionId.length !== 43) return null;
    const idHash = sha256(sessionId);
    const repo = new ConsoleRepo(this.db);
    const s = await repo.sessionByHash(idHash);
    if (!s) return null;
    const now = this.#now();
    if (now - Number(s.last_seen_at) > this.idleMs || now - Number(s.created_at) > this.absoluteMs) return null;
    const user = await repo.userById(s.user_id);
    if (!user || user.disabled_at !== null || user.suspended_at !== null) return null;
    // One write a minute at most per session: enough for a 30-minute idle limit.
    if (now - Number(s.last_seen_at) >= 60_000) await repo.touchSession(idHash, now);
    return { user: userOf(user), sessionHash: idHash };
  }

  async logout(session: ConsoleSession): Promise<void> {
    await this.#write(async (repo, append) => {
      if (await repo.revokeSession(session.sessionHash, this.#now())) {
        await append({ actor: principalOf(session.user.id), action: 'console.logout', outcome: 'ok', details: { userId: session.user.id } });
      }
    });
  }

  /** Disables a user and ends their sessions; the last active admin cannot be disabled (the refusal is audited). */
  async disableUser(id: string, actor: string): Promise<UserChange> {
    return this.#write(async (repo, append) => {
      const row = await repo.userById(id);
      if (!row) return 'not_found';
      if (row.disabled_at !== null) return 'already_disabled';
      // Another admin able to act must remain (a suspended one cannot until reinstated).
      if (row.role === 'admin' && (await repo.countActive('admin', id)) === 0) {
        await append({ actor, action: 'console.user.disable', outcome: 'denied', details: { userId: id, reason: 'last_admin' } });
        return 'last_admin';
      }
      const now = this.#now();
      await repo.disableUser(id, now);
      const ended = await repo.revokeUserSessions(id, now);
      await append({ actor, action: 'console.user.disable', outcome: 'ok', counts: { sessions: ended }, details: { userId: id } });
      return 'ok';
    });
  }

  /**
   * Suspends a user (exfiltration detection): their sessions end at once and `console.user.suspend` is audited in the
   * same transaction. Applies to admins too, the last one included: an admin token can always reinstate (the last
   * admin token is never revoked nor suspended). 'not_active' for an unknown, disabled or already suspended user.
   */
  async suspendUser(id: string, reason: string, details: Record<string, string | number>): Promise<'suspended' | 'not_active'> {
    return this.#write(async (repo, append) => {
      const row = await repo.userById(id);
      const now = this.#now();
      if (!row || !(await repo.suspendUser(id, now, reason))) return 'not_active';
      const ended = await repo.revokeUserSessions(id, now);
      await append({ actor: 'system', action: 'console.user.suspend', outcome: 'ok', counts: { sessions: ended }, details: { userId: id, role: row.role, reason, ...details } });
      return 'suspended';
    });
  }

  /** An admin lifts a suspension, audited as `console.user.reinstate`; nobody lifts their own (refused and audited). */
  async reinstateUser(id: string, actor: string): Promise<'reinstated' | 'not_found' | 'not_suspended' | 'self'> {
    return this.#write(async (repo, append) => {
      const row = await repo.userById(id);
      if (!row) return 'not_found';
      if (actor === principalOf(id)) {
        await append({ actor, action: 'console.user.reinstate', outcome: 'denied', details: { userId: id, reason: 'self' } });
        return 'self';
      }
      if (!(await repo.reinstateUser(id))) return 'not_suspended';
      await append({ actor, action: 'console.user.reinstate', outcome: 'ok', details: { userId: id, role: row.role, reason: row.suspended_reason ?? '' } });
      return 'reinstated';
    });
  }

  /** An admin sets a new password: every session of the user ends. */
  async resetPassword(id: string, password: string, actor: string): Promise<UserChange> {
    const hash = await hashPassword(password);
    return this.#write(async (repo, append) => {
      const now = this.#now();
      if (!(await repo.setPassword(id, hash, now))) return 'not_found';
      const ended = await repo.revokeUserSessions(id, now);
      await append({ actor, action: 'console.user.password_reset', outcome: 'ok', counts: { sessions: ended }, details: { userId: id } });
      return 'ok';
    });
  }

  /** The user changes their own password, proving the current one: their other sessions end, this one stays. */
  async changePassword(session: ConsoleSession, current: string, next: string): Promise<boolean> {
    const repo = new ConsoleRepo(this.db);
    const row = await repo.userById(session.user.id);
    if (!row || !(await verifyPassword(current, row.password_hash))) {
      await this.audit.append(this.db, [{ actor: principalOf(session.user.id), action: 'console.password.change', outcome: 'denied', details: { userId: session.user.id, reason: 'wrong_password' } }]);
      return false;
    }
    const hash = await hashPassword(next);
    await this.#write(async (r, append) => {
      const now = this.#now();
      await r.setPassword(row.id, hash, now);
      const ended = await r.revokeUserSessions(row.id, now, session.sessionHash);
      await append({ actor: principalOf(row.id), action: 'console.password.change', outcome: 'ok', counts: { sessions: ended }, details: { userId: row.id } });
    });
    return true;
  }

}
