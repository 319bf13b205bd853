// Console users (password login) and their sessions: only a scrypt hash of each password and a SHA-256 of each session id.
import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../dialect.ts';
import { columnTypes } from './types.ts';

export function consoleUsers(dialect: Dialect): Migration {
  const t = columnTypes(dialect);
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('console_users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        // Normalized (trimmed, lower case): the login name, unique.
        .addColumn('username', 'text', (c) => c.notNull().unique())
        .addColumn('role', 'text', (c) => c.notNull())
        // `scrypt$<N>$<r>$<p>$<salt b64url>$<hash b64url>`: parameters stored so they can be raised later.
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('created_at', t.time, (c) => c.notNull())
        .addColumn('password_changed_at', t.time, (c) => c.notNull())
        .addColumn('disabled_at', t.time)
        .execute();
      await db.schema
        .createTable('console_sessions')
        // SHA-256 of the random 256-bit id the cookie carries: a copy of the table opens no session.
        .addColumn('id_hash', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('created_at', t.time, (c) => c.notNull())
        .addColumn('last_seen_at', t.time, (c) => c.notNull())
        .addColumn('revoked_at', t.time)
        .execute();
      await db.schema.createIndex('console_sessions_user').on('console_sessions').column('user_id').execute();
    },
  };
}
