// The audit log's Ed25519 checkpoint-signing key, kept in the keystore with its private half wrapped by the master key.
import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../dialect.ts';
import { columnTypes } from './types.ts';

export function auditSigning(dialect: Dialect): Migration {
  const t = columnTypes(dialect);
  return {
    async up(db: Kysely<unknown>) {
      // `slot` 1 is the key in use; a unique slot lets concurrent first starts agree on one key.
      await db.schema
        .createTable('audit_signing_keys')
        .addColumn('slot', 'integer', (c) => c.primaryKey())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('public_key', t.blob, (c) => c.notNull())
        .addColumn('private_wrapped', t.blob, (c) => c.notNull())
        .addColumn('created_at', t.time, (c) => c.notNull())
        .execute();
    },
  };
}
