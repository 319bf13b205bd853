// Store-private: how repositories split long lists of ids or keys into statements of bounded size.

/** The most ids (or keys) one statement's `IN` lists carry together. */
export const IN_LIST = 500;

/** `items` in consecutive parts of at most `size`, in their order. */
export function chunks<T>(items: readonly T[], size = IN_LIST): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Row keys (subject, second key column) grouped by subject, in their order: one `subject_id = ? and k in (…)` each. */
export function bySubject<K extends { subjectId: string }>(keys: readonly K[], second: (k: K) => string): [string, string[]][] {
  const out = new Map<string, string[]>();
  for (const k of keys) {
    const list = out.get(k.subjectId);
    if (list) list.push(second(k));
    else out.set(k.subjectId, [second(k)]);
  }
  return [...out];
}
