// What an attacker with write access to the data database can do to the audit log (but not to the signing key).
import { sql, type Kysely } from 'kysely';
import { canonicalEntryBytes } from '../../src/domain/audit-entry.ts';
import { CompactRange, leafHash } from '../../src/domain/merkle.ts';
import { STORED_NODE_LEVEL, partsOfRow } from '../../src/services/audit/audit-log.ts';
import type { DataDatabase } from '../../src/store/schema.ts';

/** Recomputes leaf hashes, stored nodes and the head from the entry rows as they are now: a "perfect" rewrite. */
export async function rebuildTree(db: Kysely<DataDatabase>): Promise<void> {
  const rows = await db.selectFrom('audit_entries').selectAll().orderBy('idx').execute();
  const range = new CompactRange();
  await db.deleteFrom('audit_nodes').execute();
  for (const [i, row] of rows.entries()) {
    // Renumber so the rewritten log has no gap.
    if (Number(row.idx) !== i) await db.updateTable('audit_entries').set({ idx: i }).where('idx', '=', row.idx).execute();
    const leaf = leafHash(canonicalEntryBytes({ ...partsOfRow(row), index: i }));
    await db.updateTable('audit_entries').set({ leaf_hash: leaf }).where('idx', '=', i).execute();
    for (const n of range.append(leaf).newNodes) {
      if (n.level >= STORED_NODE_LEVEL) await db.insertInto('audit_nodes').values({ level: n.level, idx: n.index, hash: n.hash }).execute();
    }
  }
  await db.updateTable('audit_head').set({ size: range.size, peaks: Buffer.concat(range.peaks), root: range.root() }).where('id', '=', 1).execute();
}

/** Cuts the log back to `size` entries and makes the head agree (the stored checkpoints are left alone). */
export async function rewindTo(db: Kysely<DataDatabase>, size: number): Promise<void> {
  await db.deleteFrom('audit_entries').where('idx', '>=', size).execute();
  await rebuildTree(db);
}

export async function setData(db: Kysely<DataDatabase>, index: number, data: string): Promise<void> {
  await db.updateTable('audit_entries').set({ data }).where('idx', '=', index).execute();
}

/** Exchanges the contents of two entries, leaving each row's index (and leaf hash) where it was. */
export async function swapEntries(db: Kysely<DataDatabase>, a: number, b: number): Promise<void> {
  const [ra, rb] = await Promise.all([a, b].map((i) => db.selectFrom('audit_entries').selectAll().where('idx', '=', i).executeTakeFirstOrThrow()));
  const body = (r: typeof ra) => ({ at: r!.at, actor: r!.actor, action: r!.action, purpose: r!.purpose, subject_id: r!.subject_id, outcome: r!.outcome, data: r!.data });
  await db.updateTable('audit_entries').set(body(rb)).where('idx', '=', a).execute();
  await db.updateTable('audit_entries').set(body(ra)).where('idx', '=', b).execute();
}

export async function dropStoredCheckpoints(db: Kysely<DataDatabase>): Promise<void> {
  await sql`delete from audit_checkpoints`.execute(db);
}
