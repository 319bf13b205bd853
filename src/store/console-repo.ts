// Console users and their sessions (password hashes and hashed session ids only).
import { sql, type Kysely } from 'kysely';
import type { ConsoleSessionsTable, ConsoleUsersTable, DataDatabase } from './schema.ts';
import { kyselyOf, locksRows, type Handle } from './internal/scope.ts';

export class ConsoleRepo {
  private readonly db: Kysely<DataDatabase>;
  private readonly rowLocks: boolean;

  constructor(handle: Handle<DataDatabase>) {
    this.db = kyselyOf(handle);
    this.rowLocks = locksRows(handle);
  }

  /**
   * Inside a transaction: holds off other writers of console_users until it ends, so "no user yet, create the first
   * admin" cannot run twice at once. PostgreSQL needs a table lock (no row to lock yet); SQLite has one writer anyway.
   */
  async lockUsers(): Promise<void> {
    if (this.rowLocks) await sql`lock table console_users in share row exclusive mode`.execute(this.db);
  }

  async countUsers(): Promise<number> {
    const r = await this.db.selectFrom('console_users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  /** False when the user name is taken. */
  async insertUser(row: ConsoleUsersTable): Promise<boolean> {
    const r = await this.db.insertInto('console_users').values(row).onConflict((oc) => oc.column('username').doNothing()).executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  userByName(username: string): Promise<ConsoleUsersTable | undefined> {
    return this.db.selectFrom('console_users').selectAll().where('username', '=', username).executeTakeFirst();
  }

  userById(id: string): Promise<ConsoleUsersTable | undefined> {
    return this.db.selectFrom('console_users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  listUsers(): Promise<Omit<ConsoleUsersTable, 'password_hash'>[]> {
    return this.db.selectFrom('console_users').select(['id', 'username', 'role', 'created_at', 'password_changed_at', 'disabled_at', 'suspended_at', 'suspended_reason']).orderBy('id', 'asc').execute();
  }

  /** Users with this role able to act: neither disabled nor suspended; `except` is left out of the count. */
  async countActive(role: string, except?: string): Promise<number> {
    let q = this.db
      .selectFrom('console_users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('role', '=', role)
      .where('disabled_at', 'is', null)
      .where('suspended_at', 'is', null);
    if (except !== undefined) q = q.where('id', '!=', except);
    const r = await q.executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  /** Marks an active user suspended; false when the user is disabled or already suspended. */
  async suspendUser(id: string, at: number, reason: string): Promise<boolean> {
    const r = await this.db
      .updateTable('console_users')
      .set({ suspended_at: at, suspended_reason: reason })
      .where('id', '=', id)
      .where('disabled_at', 'is', null)
      .where('suspended_at', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Lifts a suspension; false when the user was not suspended. */
  async reinstateUser(id: string): Promise<boolean> {
    const r = await this.db.updateTable('console_users').set({ suspended_at: null, suspended_reason: null }).where('id', '=', id).where('suspended_at', 'is not', null).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async disableUser(id: string, at: number): Promise<boolean> {
    const r = await this.db.updateTable('console_users').set({ disabled_at: at }).where('id', '=', id).where('disabled_at', 'is', null).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async setPassword(id: string, hash: string, at: number): Promise<boolean> {
    const r = await this.db.updateTable('console_users').set({ password_hash: hash, password_changed_at: at }).where('id', '=', id).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async insertSession(row: ConsoleSessionsTable): Promise<void> {
    await this.db.insertInto('console_sessions').values(row).execute();
  }

  sessionByHash(idHash: string): Promise<ConsoleSessionsTable | undefined> {
    return this.db.selectFrom('console_sessions').selectAll().where('id_hash', '=', idHash).where('revoked_at', 'is', null).executeTakeFirst();
  }

  async touchSession(idHash: string, at: number): Promise<void> {
    await this.db.updateTable('console_sessions').set({ last_seen_at: at }).where('id_hash', '=', idHash).execute();
  }

  async revokeSession(idHash: string, at: number): Promise<boolean> {
    const r = await this.db.updateTable('console_sessions').set({ revoked_at: at }).where('id_hash', '=', idHash).where('revoked_at', 'is', null).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Revokes every open session of a user (password change, disabling), except `keep` when given. */
  async revokeUserSessions(userId: string, at: number, keep?: string): Promise<number> {
    let q = this.db.updateTable('console_sessions').set({ revoked_at: at }).where('user_id', '=', userId).where('revoked_at', 'is', null);
    if (keep) q = q.where('id_hash', '!=', keep);
    const r = await q.executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  /** Sessions past their absolute lifetime or idle too long are deleted. */
  async pruneSessions(createdBefore: number, idleBefore: number): Promise<void> {
    await this.db.deleteFrom('console_sessions').where((eb) => eb.or([eb('created_at', '<', createdBefore), eb('last_seen_at', '<', idleBefore), eb('revoked_at', 'is not', null)])).execute();
  }
}
