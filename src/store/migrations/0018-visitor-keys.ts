// Visitor keys (docs/security.md, "Visitor credentials"): per subject, the hash of a secret only the visitor's browser
// holds, and the key that signs that visitor's short-lived credentials; deleted with the subject at erasure.
import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../dialect.ts';
import { columnTypes } from './types.ts';

export function visitorKeys(dialect: Dialect): Migration {
  const t = columnTypes(dialect);
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('visitor_keys')
        .addColumn('subject_id', 'text', (c) => c.primaryKey())
        // SHA-256 of the browser's secret: the secret itself is never stored.
        .addColumn('secret_hash', t.blob, (c) => c.notNull())
        // Random, per binding: signs the subject's credentials, so a new binding (or erasure) voids every earlier one.
        .addColumn('signing_key', t.blob, (c) => c.notNull())
        // `browser` (first binding, proof of possession after) or `verified` (re-bound with a userHash).
        .addColumn('bound_by', 'text', (c) => c.notNull())
        .addColumn('bound_at', t.time, (c) => c.notNull())
        .execute();
    },
  };
}
