// Exfiltration detection suspends console users as it suspends tokens: kept with the user, so every process refuses
// their sessions and logins and a restart does not lift it.
import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../dialect.ts';
import { columnTypes } from './types.ts';

export function consoleSuspension(dialect: Dialect): Migration {
  const t = columnTypes(dialect);
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('console_users').addColumn('suspended_at', t.time).execute();
      await db.schema.alterTable('console_users').addColumn('suspended_reason', 'text').execute();
    },
  };
}
