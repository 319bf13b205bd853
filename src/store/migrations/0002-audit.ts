// The audit log: entries (the leaves), complete subtree nodes, the single-row head and signed checkpoints.
import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from '../dialect.ts';
import { columnTypes } from './types.ts';

export function audit(dialect: Dialect): Migration {
  const t = columnTypes(dialect);
  return {
    async up(db: Kysely<unknown>) {
      // One row per leaf; `data` holds the canonical JSON of {counts, details, fields}, so the leaf hash can be recomputed
      // from the row alone.
      await db.schema
        .createTable('audit_entries')
        .addColumn('idx', 'bigint', (c) => c.primaryKey())
        .addColumn('at', t.time, (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('purpose', 'text')
        .addColumn('subject_id', 'text')
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('leaf_hash', t.blob, (c) => c.notNull())
        .execute();
      // Query paths of a DPO: by person, by token, by action (newest first by idx). Time needs no index: `at` never
      // decreases along idx (each append takes at least the head's last time), so a time range is an idx range.
      await db.schema.createIndex('audit_entries_subject').on('audit_entries').columns(['subject_id', 'idx']).execute();
      await db.schema.createIndex('audit_entries_actor').on('audit_entries').columns(['actor', 'idx']).execute();
      await db.schema.createIndex('audit_entries_action').on('audit_entries').columns(['action', 'idx']).execute();
      // Complete subtrees of level ≥ 8 (256 leaves and up): level k, idx i covers leaves [i·2^k, (i+1)·2^k). Smaller
      // ones are recomputed from at most 256 leaf hashes when a proof needs them: 1/255 of a row per entry instead of 1.
      await db.schema
        .createTable('audit_nodes')
        .addColumn('level', 'integer', (c) => c.notNull())
        .addColumn('idx', 'bigint', (c) => c.notNull())
        .addColumn('hash', t.blob, (c) => c.notNull())
        .addPrimaryKeyConstraint('audit_nodes_pk', ['level', 'idx'])
        .execute();
      // The sequencer: one row, locked by every appending transaction, so indices are gap-free in commit order.
      await db.schema
        .createTable('audit_head')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('peaks', t.blob, (c) => c.notNull())
        .addColumn('root', t.blob, (c) => c.notNull())
        .addColumn('updated_at', t.time, (c) => c.notNull())
        .execute();
      const emptyRoot = Buffer.from('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'hex');
      await sql`insert into audit_head (id, size, peaks, root, updated_at) values (1, 0, ${Buffer.alloc(0)}, ${emptyRoot}, ${Date.now()})`.execute(db);
      await db.schema
        .createTable('audit_checkpoints')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tree_size', 'bigint', (c) => c.notNull())
        .addColumn('root', t.blob, (c) => c.notNull())
        .addColumn('at', t.time, (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('note', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_checkpoints_size').on('audit_checkpoints').columns(['tree_size', 'at']).execute();
    },
  };
}
