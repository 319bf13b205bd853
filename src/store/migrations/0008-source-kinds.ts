// Sources get a kind (browser keys are public, server keys secret) and identity links record how they were asserted.
import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from '../dialect.ts';
import { columnTypes } from './types.ts';

/** The name the pages source had before kinds existed: its key was derived from the master key and served in HTML. */
const OLD_PAGES_SOURCE = 'fiducia pages (privacy center, demo)';

export function sourceKinds(dialect: Dialect): Migration {
  const t = columnTypes(dialect);
  return {
    async up(db: Kysely<unknown>) {
      // Existing sources keep the powers they had (a server source's); their keys must be rotated if they sat in a page.
      await db.schema.alterTable('sources').addColumn('kind', 'text', (c) => c.notNull().defaultTo('server')).execute();
      // A browser source's write key is public by nature, so it is kept in clear (pages embed it); server keys stay hashed.
      await db.schema.alterTable('sources').addColumn('public_key', 'text').execute();
      // The key that signs `userHash` values, sealed under a key derived from the master key.
      await db.schema.alterTable('sources').addColumn('verification_secret_enc', t.blob).execute();
      // The old pages key was public and derivable: that source is retired; the next start creates a browser source.
      await sql`update sources set kind = 'browser', revoked_at = ${Date.now()} where name = ${OLD_PAGES_SOURCE} and revoked_at is null`.execute(db);
      // Links made before assertion was recorded are `legacy`: they still resolve, but no self-service request matches them.
      await db.schema.alterTable('identities').addColumn('asserted', 'text', (c) => c.notNull().defaultTo('legacy')).execute();
    },
  };
}
