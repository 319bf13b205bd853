// Identities are looked up by blind index alone (the kind is part of the HMAC input), so that column needs its own index.
import type { Kysely, Migration } from 'kysely';

export function identityLookup(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.createIndex('identities_blind_index').on('identities').column('blind_index').execute();
    },
  };
}
