// The audit log's subject index, keyed by block of entries first: (idx / 4096, subject_id, idx) instead of (subject_id, idx).
import { sql, type Kysely, type Migration } from 'kysely';

/**
 * Under (subject_id, idx) every entry of a new append lands on a random leaf of the index, so each commit wrote about one
 * index page per entry. Keyed by block first, the entries of an append share the few leaves of the newest block. A
 * query by subject seeks once per block (src/store/audit-repo.ts). The divisor is fixed here: the queries must spell the
 * same expression (AUDIT_SUBJECT_BLOCK) for the databases to use the index.
 */
export function auditSubjectBlocks(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await sql`drop index audit_entries_subject`.execute(db);
      await sql`create index audit_entries_subject_block on audit_entries ((idx / 4096), subject_id, idx)`.execute(db);
    },
  };
}
