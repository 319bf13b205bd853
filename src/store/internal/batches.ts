// Store-private: how repositories split long lists of ids or keys into statements of bounded size.
import { sql, type RawBuilder, type SqlBool } from 'kysely';

/** The most ids (or keys) one statement's `IN` lists carry together. */
export const IN_LIST = 500;

/** `items` in consecutive parts of at most `size`, in their order. */
export function chunks<T>(items: readonly T[], size = IN_LIST): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * `(subject_id, <second>) in (values (?, ?), …)`: rows by their two-column key, which both databases look up in the
 * key's index pair by pair (an OR of `subject_id = ? and <second> in (…)` per subject was several times slower on
 * SQLite: docs/performance.md, "Retention sweep").
 */
export function keyIn(second: string, keys: readonly (readonly [string, string])[]): RawBuilder<SqlBool> {
  return sql<SqlBool>`(${sql.ref('subject_id')}, ${sql.ref(second)}) in (values ${sql.join(keys.map(([a, b]) => sql`(${a}, ${b})`))})`;
}
