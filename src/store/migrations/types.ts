// Column types that differ between SQLite and PostgreSQL.
import { sql } from 'kysely';
import type { Dialect } from '../dialect.ts';

export function columnTypes(dialect: Dialect) {
  return {
    blob: dialect === 'postgres' ? sql`bytea` : sql`blob`,
    time: 'bigint' as const,
  };
}
